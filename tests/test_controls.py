import math

import numpy as np
import pytest
from scipy import stats

from grokmon.controls import (
    bootstrap_correlation,
    correlation_estimate,
    entropy_distance_correlation,
    entropy_distance_pairs,
    permutation_pvalue,
    post_memorization_trend,
    routing_entropy,
)
from grokmon.pathways import mean_pairwise_distance, sample_pairs

# One layer, four experts. At cut 0.7: uniform takes 3 experts "0,1,2" (0.75 > 0.7); one-hots take one.
UNIFORM, FIRST, LAST = [[0.25] * 4], [[1.0, 0, 0, 0]], [[0, 0, 0, 1.0]]
THREE = np.array([UNIFORM, FIRST, LAST])


def test_routing_entropy_hand_values():
    assert routing_entropy(THREE) == pytest.approx(np.array([[math.log(4)], [0.0], [0.0]]))
    two_layers = np.array([[[0.5, 0.5, 0, 0], [0.25] * 4]])  # ln 2 and ln 4 nats
    assert routing_entropy(two_layers) == pytest.approx(np.array([[math.log(2), math.log(4)]]))


@pytest.mark.parametrize(
    "routing, match",
    [
        (np.array([[[0.3, 0.2, 0, 0]]]), "sum to 1"),  # top-k weights, not a full softmax
        (np.array([[0.5, 0.5]]), "routing must be"),
        (np.array([[[1.5, -0.5]]]), ">= 0"),
    ],
)
def test_routing_entropy_bad_input(routing, match):
    with pytest.raises(ValueError, match=match):
        routing_entropy(routing)


def test_entropy_distance_correlation_hand_example():
    # Pairs (0,1), (0,2), (1,2): distances "0,1,2"/"0" = 4, "0,1,2"/"3" = 5, "0"/"3" = 1;
    # mean entropies ln4/2, ln4/2, 0. Deviations d: 2/3, 5/3, -7/3; h: proportional to 1, 1, -2
    # -> r = 7 / (sqrt(78)/3 * sqrt(6)) = 21 / sqrt(468) = 0.970725.
    out = entropy_distance_correlation(THREE)
    assert out["n"] == 3
    assert out["pearson"] == pytest.approx(21 / math.sqrt(468), abs=1e-9)
    assert out["r_squared"] == pytest.approx(441 / 468, abs=1e-9)
    assert out["mean_distance"] == pytest.approx(10 / 3)
    assert out["mean_entropy"] == pytest.approx(math.log(4) / 3)


def test_entropy_distance_correlation_uses_the_same_pairs_as_mean_distance():
    rng = np.random.default_rng(1)
    routing = rng.dirichlet(np.full(8, 0.5), size=(30, 3))  # 435 pairs, 50 sampled
    out = entropy_distance_correlation(routing, max_pairs=50, seed=4)
    assert out["n"] == 50
    assert out["mean_distance"] == pytest.approx(mean_pairwise_distance(routing, max_pairs=50, seed=4))
    assert out["mean_distance"] != pytest.approx(mean_pairwise_distance(routing, max_pairs=50, seed=5))


# Two layers, four experts, cut 0.7: strings "0,1,2-0", "0-0", "0,1-3" (0.5 + 0.5 takes two experts);
# layer-mean entropies (ln4 + 0)/2 = ln2, 0, (ln2 + 0)/2 = ln2/2 nats.
HALF = [0.5, 0.5, 0, 0]
TWO_LAYERS = np.array([[UNIFORM[0], FIRST[0]], [FIRST[0], FIRST[0]], [HALF, LAST[0]]])


def test_entropy_distance_pairs_hand_values():
    distance, entropy = entropy_distance_pairs(TWO_LAYERS)
    # (0,1): delete ",1,2" = 4; (0,2): delete ",2", 0 -> 3 = 3; (1,2): insert ",1", 0 -> 3 = 3.
    assert distance.dtype == np.float64 and distance.tolist() == [4.0, 3.0, 3.0]
    ln2 = math.log(2)
    assert entropy.dtype == np.float64
    assert entropy == pytest.approx(np.array([ln2 / 2, 3 * ln2 / 4, ln2 / 4]), abs=1e-12)
    # At cut 0.4 the uniform layer takes two experts and the half layer one: "0,1-0", "0-0", "0-3"
    # -> (0,1): delete ",1" = 2; (0,2): delete ",1", 0 -> 3 = 3; (1,2): 0 -> 3 = 1. Entropies do not depend on the cut.
    low_distance, low_entropy = entropy_distance_pairs(TWO_LAYERS, cut=0.4)
    assert low_distance.tolist() == [2.0, 3.0, 1.0]
    np.testing.assert_array_equal(low_entropy, entropy)


def test_entropy_distance_pairs_follow_sample_pairs_order():
    rng = np.random.default_rng(2)
    routing = rng.dirichlet(np.full(6, 0.5), size=(12, 2))  # 66 pairs, 20 sampled
    distance, entropy = entropy_distance_pairs(routing, cut=0.8, max_pairs=20, seed=3)
    all_distance, all_entropy = entropy_distance_pairs(routing, cut=0.8)
    i, j = sample_pairs(12, 20, 3)
    row = {pair: k for k, pair in enumerate(zip(*sample_pairs(12)))}
    picked = [row[pair] for pair in zip(i.tolist(), j.tolist())]
    assert distance.shape == entropy.shape == (20,)
    np.testing.assert_array_equal(distance, all_distance[picked])
    np.testing.assert_allclose(entropy, all_entropy[picked], rtol=0, atol=1e-15)


def test_entropy_distance_correlation_is_the_correlation_of_the_pairs():
    rng = np.random.default_rng(5)
    routing = rng.dirichlet(np.full(8, 0.3), size=(25, 3))
    distance, entropy = entropy_distance_pairs(routing, cut=0.8, max_pairs=100, seed=7)
    out = entropy_distance_correlation(routing, cut=0.8, max_pairs=100, seed=7)
    pearson, spearman = stats.pearsonr(distance, entropy), stats.spearmanr(distance, entropy)
    assert out["n"] == 100
    assert out["pearson"] == pytest.approx(pearson.statistic, abs=1e-12)
    assert out["pearson_p"] == pytest.approx(pearson.pvalue, rel=1e-9)
    assert out["spearman"] == pytest.approx(spearman.statistic, abs=1e-12)
    assert out["r_squared"] == pytest.approx(pearson.statistic**2, abs=1e-12)
    assert out["mean_distance"] == pytest.approx(distance.mean()) and out["mean_entropy"] == pytest.approx(entropy.mean())
    # The hand example, entropies 2a, 3a, a (a = ln2/4; deviations 0, a, -a): at cut 0.7 distances 4, 3, 3
    # (deviations 2/3, -1/3, -1/3) give r = 0; at cut 0.4 distances 2, 3, 1 (deviations 0, 1, -1) give r = 1.
    assert entropy_distance_correlation(TWO_LAYERS)["pearson"] == pytest.approx(0.0, abs=1e-12)
    low = entropy_distance_correlation(TWO_LAYERS, cut=0.4)
    assert low["pearson"] == pytest.approx(1.0) and low["r_squared"] == pytest.approx(1.0)
    assert low["mean_distance"] == pytest.approx(2.0) and low["mean_entropy"] == pytest.approx(math.log(2) / 2)


def test_post_memorization_trend_hand_values():
    # From index 1: points 4, 3, (NaN dropped), 2, 2 at indices 0, 1, 3, 4. Ranks 4, 3, 1.5, 1.5 vs 1..4:
    # sum dx*dr = -4.5, sum dx^2 = 5, sum dr^2 = 4.5 -> rho = -4.5 / sqrt(22.5) = -3/sqrt(10) = -0.948683.
    out = post_memorization_trend([5, 4, 3, np.nan, 2, 2], 1)
    assert out["spearman"] == pytest.approx(-3 / math.sqrt(10))
    assert (out["change"], out["relative_change"], out["start"], out["end"], out["n_points"]) == (-2.0, -0.5, 4.0, 2.0, 4)
    flat = post_memorization_trend([9, 3, 3, 3], 1)
    assert flat["spearman"] == 0.0 and flat["change"] == 0.0  # no trend, not undefined
    two = post_memorization_trend([1, 2, 3, 4], 2)
    assert np.isnan(two["spearman"]) and two["change"] == 1.0 and two["relative_change"] == pytest.approx(1 / 3)
    empty = post_memorization_trend([1, np.nan, np.nan], 1)
    assert empty["n_points"] == 0 and np.isnan(empty["change"])
    assert np.isnan(post_memorization_trend([0, 0, 1, 2], 0)["relative_change"])  # starts at 0


@pytest.mark.parametrize("t_index", [-1, 4, 1.5])
def test_post_memorization_trend_bad_index(t_index):
    with pytest.raises(ValueError, match="t_index"):
        post_memorization_trend([1, 2, 3, 4], t_index)


def test_permutation_pvalue_exact_for_monotone_series():
    # Only the identity and the reversed order reach |r| = 1 among the 5! = 120 orders: p = 2/120.
    x = np.arange(5.0)
    assert permutation_pvalue(x, 2 * x + 1) == pytest.approx(2 / 120)
    assert permutation_pvalue(x**3, x, method="spearman") == pytest.approx(2 / 120)
    # 8! = 40320 > n_perm: random orders, (1 + 0) / (1 + 1000) unless a random order is monotone.
    x8 = np.arange(8.0)
    assert permutation_pvalue(x8, x8, n_perm=1000, seed=3) <= 2 / 1001


def test_permutation_pvalue_hand_counts():
    # Spearman of 1,2,4,3 vs 1..4: rho = 1 - 6*2/60 = 0.8. Among the 24 orders |rho| >= 0.8 needs
    # sum d^2 <= 2 (identity + 3 adjacent swaps) or >= 18 (reverse + 3): 8/24.
    assert permutation_pvalue([1, 2, 4, 3], [1, 2, 3, 4], method="spearman") == pytest.approx(1 / 3)
    # A symmetric series has r = 0 with a linear one: every order is at least as extreme.
    assert permutation_pvalue([1, 2, 3, 2, 1], [0, 1, 2, 3, 4]) == 1.0
    assert np.isnan(permutation_pvalue([1, 1, 1, 1], [0, 1, 2, 3]))


def test_bootstrap_correlation_monotone_and_near_linear():
    x = np.arange(8.0)
    assert bootstrap_correlation(x, 3 * x) == pytest.approx((1.0, 1.0))  # every defined resample has r = 1
    noisy = x + np.array([0.3, -0.3, 0.2, -0.2, 0.4, -0.4, 0.1, -0.1])
    low, high = bootstrap_correlation(noisy, x, n_boot=1000, seed=0)
    assert 0.9 <= low < correlation_estimate(noisy, x) < high <= 1.0
    assert bootstrap_correlation(noisy, x, seed=0) == bootstrap_correlation(noisy, x, seed=0)  # seeded


def test_bootstrap_correlation_resamples_seeds():
    # Per-seed r = +1, +1, -1: estimate 1/3. Resampled means of 3 seeds take values -1, -1/3, 1/3, 1;
    # P(all three draws are the -1 seed) = 1/27 > 2.5% and P(none) = 8/27, so the 95% CI is [-1, 1].
    x = np.arange(5.0)
    metric, accuracy = np.stack([x, 2 * x, -x]), np.stack([x, x, x])
    assert correlation_estimate(metric, accuracy) == pytest.approx(1 / 3)
    assert bootstrap_correlation(metric, accuracy, n_boot=2000, seed=0) == pytest.approx((-1.0, 1.0))
    assert bootstrap_correlation(metric[:2], accuracy[:2]) == pytest.approx((1.0, 1.0))
    one_defined = np.stack([x, np.ones(5)])  # the constant seed has no correlation
    assert np.isnan(bootstrap_correlation(one_defined, accuracy[:2])).all()
    assert correlation_estimate(one_defined, accuracy[:2]) == pytest.approx(1.0)


def test_seed_permutation_pvalue_small_for_agreeing_seeds():
    x = np.arange(6.0)
    metric = np.stack([x, x**2, -x[::-1]])  # all three seeds rise with accuracy
    assert permutation_pvalue(metric, np.stack([x] * 3), n_perm=500, seed=0) <= 3 / 501


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metric": [1, 2, 3], "accuracy": [1, 2], "method": "pearson"}, "accuracy shape"),
        ({"metric": [1, 2, 3], "accuracy": [1, 2, 3], "method": "kendall"}, "method"),
        ({"metric": [1, 2], "accuracy": [1, 2], "method": "pearson"}, ">= 3 checkpoints"),
        ({"metric": [1, np.nan, 3], "accuracy": [1, 2, 3], "method": "pearson"}, "finite"),
    ],
)
def test_bad_series(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_correlation(**kwargs)


def test_bad_counts():
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_correlation([1, 2, 3], [1, 2, 3], n_boot=0)
    with pytest.raises(ValueError, match="n_perm"):
        permutation_pvalue([1, 2, 3], [1, 2, 3], n_perm=2.5)
