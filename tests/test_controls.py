import math

import numpy as np
import pytest
from scipy import stats

from grokmon.claims.controls import (
    changes_from,
    correlation_test,
    entropy_distance_correlation,
    entropy_distance_pairs,
    routing_entropy,
    stouffer,
    weighted_mean_test,
)
from grokmon.metrics.pathways import mean_pairwise_distance, sample_pairs

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
        (np.array([[0.5, 0.5]]), r"routing: expected a non-empty \[n, L, E\] array, got shape \(1, 2\)"),
        (np.array([[[1.5, -0.5]]]), r"routing: has negative values \(min -0.5\)"),
        (np.array([[[np.nan, 1.0]]]), r"routing: contains NaN or inf \(first at index \(0, 0, 0\): nan\)"),
        ([[[object(), 1.0]]], "routing: expected a numeric array"),
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
    assert out["mean_distance"] == pytest.approx(distance.mean()) and out["mean_entropy"] == pytest.approx(
        entropy.mean()
    )
    # The hand example, entropies 2a, 3a, a (a = ln2/4; deviations 0, a, -a): at cut 0.7 distances 4, 3, 3
    # (deviations 2/3, -1/3, -1/3) give r = 0; at cut 0.4 distances 2, 3, 1 (deviations 0, 1, -1) give r = 1.
    assert entropy_distance_correlation(TWO_LAYERS)["pearson"] == pytest.approx(0.0, abs=1e-12)
    low = entropy_distance_correlation(TWO_LAYERS, cut=0.4)
    assert low["pearson"] == pytest.approx(1.0) and low["r_squared"] == pytest.approx(1.0)
    assert low["mean_distance"] == pytest.approx(2.0) and low["mean_entropy"] == pytest.approx(math.log(2) / 2)


def test_weighted_mean_test_hand_values():
    # Equal weights: the one-sample t-test (mean 2, sd 1, se 1/sqrt(3), df 2).
    t = weighted_mean_test(np.array([1.0, 2.0, 3.0]), np.ones(3))
    assert (t.estimate, t.se, t.df) == pytest.approx((2.0, 1 / math.sqrt(3), 2))
    assert t.p_value(1) == pytest.approx(stats.ttest_1samp([1, 2, 3], 0, alternative="greater").pvalue)
    assert t.p_value(-1) == pytest.approx(1 - t.p_value(1))
    assert t.bound(-1, 0.05) == pytest.approx(-2 + stats.t.ppf(0.95, 2) / math.sqrt(3))
    # Weights 3, 1: estimate (3*1 + 1*5)/4 = 2; s2 = (3*1 + 1*9)/1 = 12; se = sqrt(12/4) = sqrt(3).
    w = weighted_mean_test(np.array([1.0, 5.0]), np.array([3.0, 1.0]))
    assert (w.estimate, w.se, w.df) == pytest.approx((2.0, math.sqrt(3), 1))
    assert np.isnan(weighted_mean_test(np.array([1.0]), np.ones(1)).p_value(1))
    with pytest.raises(ValueError, match="weights"):
        weighted_mean_test(np.array([1.0, 2.0]), np.array([1.0, 0.0]))


def test_changes_from_drops_undefined_points():
    assert changes_from(np.array([9.0, 4.0, np.nan, 3.0, 1.0]), 1).tolist() == [-1.0, -2.0]
    assert changes_from(np.array([1.0, 2.0]), 1).size == 0


def test_correlation_test_levels_and_differences():
    x = np.array([0.0, 1.0, 3.0, 4.0, 7.0, 8.0])  # steps 1, 2, 1, 3, 1: both series move together
    t = correlation_test(2 * x + 1, x)
    assert t.r == pytest.approx(1.0) and t.r_diff == pytest.approx(1.0) and t.n == 6
    assert t.p_value(1) < 1e-6 and t.p_value(-1) == pytest.approx(1.0)
    # A straight line against a straight line: r = 1 in levels, but the differences are constant -> no test.
    line = correlation_test(np.arange(6.0), np.arange(6.0))
    assert line.r == pytest.approx(1.0) and np.isnan(line.r_diff) and np.isnan(line.p_value(1))
    # One seed: Fisher z CI z +- 1.96 / sqrt(n - 3); several: t over the seeds' z.
    y = np.array([0.2, 0.1, 0.5, 0.4, 0.9, 0.6])
    one = correlation_test(y, x)
    r = stats.pearsonr(y, x).statistic
    half = stats.norm.ppf(0.975) / math.sqrt(3)
    assert one.interval(0.95) == pytest.approx((math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)))
    assert one.p_levels[1] == pytest.approx(stats.pearsonr(y, x, alternative="greater").pvalue)
    three = correlation_test(np.stack([y, y, -y]), np.stack([x, x, x]))
    z = np.arctanh([r, r, -r])
    half3 = stats.t.ppf(0.975, 2) * z.std(ddof=1) / math.sqrt(3)
    assert three.r == pytest.approx(r / 3) and three.interval(0.95) == pytest.approx(
        (math.tanh(z.mean() - half3), math.tanh(z.mean() + half3))
    )
    assert "3 seeds" in three.describe_interval() and "1 seed" in one.describe_interval()
    # The first differences' interval: their own r and count (5 differences: sqrt(5 - 3)).
    r_diff = stats.pearsonr(np.diff(y), np.diff(x)).statistic
    half_diff = stats.norm.ppf(0.975) / math.sqrt(2)
    assert one.interval(0.95, differences=True) == pytest.approx(
        (math.tanh(math.atanh(r_diff) - half_diff), math.tanh(math.atanh(r_diff) + half_diff))
    )
    assert one.bound(-1, 0.025, differences=True) == pytest.approx(-one.interval(0.95, differences=True)[0])
    # Stouffer over seeds: p levels of y, y, -y combined.
    ps = [stats.pearsonr(v, x, alternative="greater").pvalue for v in (y, y, -y)]
    assert three.p_levels[1] == pytest.approx(stats.combine_pvalues(ps, method="stouffer").pvalue)


def test_correlation_test_p_values_are_pearsonr_s():
    rng = np.random.default_rng(3)
    metric, accuracy = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    t = correlation_test(metric, accuracy)
    ps = [stats.pearsonr(m, a, alternative="less").pvalue for m, a in zip(metric, accuracy)]
    assert t.p_levels[-1] == pytest.approx(stats.combine_pvalues(ps, method="stouffer").pvalue, rel=1e-9)
    ps = [stats.pearsonr(np.diff(m), np.diff(a), alternative="greater").pvalue for m, a in zip(metric, accuracy)]
    assert t.p_diff[1] == pytest.approx(stats.combine_pvalues(ps, method="stouffer").pvalue, rel=1e-9)
    assert t.r == pytest.approx(np.mean([stats.pearsonr(m, a).statistic for m, a in zip(metric, accuracy)]))


def test_stouffer():
    assert stouffer([0.2]) == 0.2 and np.isnan(stouffer([np.nan]))
    assert stouffer([0.05, 0.05]) == pytest.approx(stats.norm.sf(2 * stats.norm.isf(0.05) / math.sqrt(2)))


def test_bad_correlation_input():
    with pytest.raises(ValueError, match="n_ckpt >= 4"):
        correlation_test([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        correlation_test([1, np.nan, 3, 4], [1, 2, 3, 4])
