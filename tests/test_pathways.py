import numpy as np
import pytest

from grokmon.metrics.pathways import (
    MAX_SAMPLES,
    cross_distance,
    mean_pairwise_distance,
    pairwise_distances,
    pathway_string,
    pathway_strings,
    pathway_tokens,
    per_layer_distances,
    sample_pairs,
    select_experts,
)
from grokmon.metrics.validation import RoutingNormalizationWarning

# Four samples, 2 layers, 4 experts; selections at cut 0.7 in the comments.
A = [[0.0, 0.3, 0.1, 0.6], [0.1, 0.1, 0.8, 0.0]]  # [3,1] (0.6, 0.9 > 0.7), [2]        -> "3,1-2"
B = [[0.1, 0.1, 0.0, 0.8], [0.0, 0.4, 0.5, 0.1]]  # [3], [2,1] (0.5, 0.9)              -> "3-2,1"
C = [[0.0, 0.3, 0.1, 0.6], [0.0, 0.4, 0.5, 0.1]]  # [3,1], [2,1]                       -> "3,1-2,1"
D = [[0.0, 0.9, 0.05, 0.05], [0.8, 0.1, 0.05, 0.05]]  # [1], [0]                       -> "1-0"
ROUTING = np.array([A, B, C, D])

# Character Levenshtein between the paper strings, by hand:
# AB "3,1-2"/"3-2,1": keep 3-2, delete ",1" and insert ",1" = 4 (no alignment does better).
# AC: insert ",1" = 2.  AD "3,1-2"/"1-0": delete "3,", substitute 2->0 = 3.
# BC "3-2,1"/"3,1-2,1": insert ",1" = 2.  BD "3-2,1"/"1-0": 3->1, keep "-", "2,1"->"0" (3) = 4.
# CD "3,1-2,1"/"1-0": common "1-" only, 7 - 2 = 5 unmatched chars of C -> 5.
PAPER = np.array([[0, 4, 2, 3], [4, 0, 2, 4], [2, 2, 0, 5], [3, 4, 5, 0]])
# Expert symbols (expert * L + layer, L = 2): A [6,2,5], B [6,5,3], C [6,2,5,3], D [2,1].
# AB: delete 2, insert 3 = 2.  AC: insert 3 = 1.  AD: delete 6, 5->1 = 2.  BC: insert 2 = 1.
# BD: nothing in common, 3 vs 2 symbols = 3.  CD: keep 2, delete 6 and 3, 5->1 = 3.
EXPERTS = np.array([[0, 2, 1, 2], [2, 0, 1, 3], [1, 1, 0, 3], [2, 3, 3, 0]])


def test_select_experts_ties_and_exact_cut():
    # sorted: e1 0.5, e0 0.2, e2 0.2 (tie: lower index first), e3 0.1; cumulative 0.5, 0.7 (not > 0.7), 0.9.
    w = np.array([[0.2, 0.5, 0.2, 0.1], [0.3, 0.3, 0.3, 0.1]])
    assert select_experts(w, 0.7) == [[1, 0, 2], [0, 1, 2]]
    assert select_experts(w.astype(np.float32), 0.7) == [[1, 0, 2], [0, 1, 2]]  # 0.5f + 0.2f = 0.7000000030
    assert select_experts(w, 0.5) == [[1, 0], [0, 1]]  # 0.5 is not > 0.5; 0.6 > 0.5
    assert select_experts(w, 1.0) == [[1, 0, 2, 3], [0, 1, 2, 3]]  # total never exceeds 1.0: all experts


def test_select_experts_renormalizes_a_layer_summing_below_one_and_batches():
    top_k = np.array([[0.3, 0.0, 0.2, 0.0]])  # sums to 0.5: renormalized to 0.6, 0, 0.4, 0; cumulative 0.6, 1.0
    with pytest.warns(RoutingNormalizationWarning, match="weights: 1 of 1 layer rows sum to less than 1"):
        assert select_experts(top_k) == [[0, 2]]  # not the zero-weight experts 1 and 3
    assert select_experts(ROUTING) == [[[3, 1], [2]], [[3], [2, 1]], [[3, 1], [2, 1]], [[1], [0]]]


@pytest.mark.parametrize("cut", [0.0, -0.1, 1.1, np.nan])
def test_select_experts_bad_cut(cut):
    with pytest.raises(ValueError, match="cut"):
        select_experts(np.array(A), cut)


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.zeros((0, 4)), "weights"),
        (np.array([0.5, 0.5]), "weights"),
        (np.array([[0.5, -0.1]]), "weights"),
        (np.array([[2.0, 1.0]]), "sum"),
        (np.array([[np.nan, 0.1]]), "weights"),
    ],
)
def test_select_experts_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        select_experts(weights)


def test_pathway_string_and_tokens():
    assert pathway_string([[3, 1, 5], [9, 1]]) == "3,1,5-9,1"
    assert pathway_string([[12, 3], [63]]) == "12,3-63"
    assert pathway_strings(ROUTING) == ["3,1-2", "3-2,1", "3,1-2,1", "1-0"]
    # L = 2: expert 3 of layer 0 -> 6, expert 3 of layer 1 -> 7.
    assert pathway_tokens([[3, 1], [3]]) == [6, 2, 7]
    with pytest.raises(ValueError, match="selection"):
        pathway_string([])


def test_pairwise_distances_both_modes():
    paper = pairwise_distances(ROUTING)
    assert paper.dtype == np.int32 and paper.tolist() == PAPER.tolist()
    assert pairwise_distances(ROUTING, mode="experts").tolist() == EXPERTS.tolist()
    # normalized: divided by the longer length, e.g. AB 4/5, AC 2/7.
    norm = pairwise_distances(ROUTING[:3], normalize=True)
    assert norm[0, 1] == pytest.approx(4 / 5) and norm[0, 2] == pytest.approx(2 / 7)
    with pytest.raises(ValueError, match="paper.*experts"):
        pairwise_distances(ROUTING, mode="chars")


def test_mean_pairwise_distance_exact():
    # paper: (4 + 2 + 3 + 2 + 4 + 5) / 6 = 20/6; experts: (2 + 1 + 2 + 1 + 3 + 3) / 6 = 2.
    assert mean_pairwise_distance(ROUTING) == pytest.approx(20 / 6)
    assert mean_pairwise_distance(ROUTING, mode="experts") == pytest.approx(2.0)
    assert mean_pairwise_distance(ROUTING, max_pairs=6) == pytest.approx(20 / 6)  # max_pairs >= all pairs: exact
    # A, B, C normalized: (4/5 + 2/7 + 2/7) / 3.
    assert mean_pairwise_distance(ROUTING[:3], normalize=True) == pytest.approx((4 / 5 + 4 / 7) / 3)


def test_mean_pairwise_distance_sampled():
    i, j = sample_pairs(4, max_pairs=5, seed=0)
    assert len(set(zip(i.tolist(), j.tolist()))) == 5 and (i < j).all()
    expected = PAPER[i, j].mean()  # 5 of the 6 pairs: (20 - missing) / 5
    assert expected in {(20 - d) / 5 for d in (2, 3, 4, 5)}
    assert mean_pairwise_distance(ROUTING, max_pairs=5, seed=0) == pytest.approx(expected)
    assert mean_pairwise_distance(ROUTING, mode="experts", max_pairs=5, seed=0) == pytest.approx(EXPERTS[i, j].mean())


def test_sample_pairs():
    i, j = sample_pairs(5)
    assert i.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 3] and j.tolist() == [1, 2, 3, 4, 2, 3, 4, 3, 4, 4]
    n = 10**6
    i, j = sample_pairs(n, max_pairs=1000, seed=1)
    rank = i * (2 * n - i - 1) // 2 + (j - i - 1)  # row-major index of (i, j)
    assert (i >= 0).all() and (i < j).all() and (j < n).all() and len(np.unique(rank)) == 1000
    assert np.array_equal(sample_pairs(n, 1000, seed=1)[1], j) and not np.array_equal(
        sample_pairs(n, 1000, seed=2)[1], j
    )
    with pytest.raises(ValueError, match=r"n: expected an integer in \[2, 2147483648\], got 1"):
        sample_pairs(1)


def test_sample_pairs_up_to_the_largest_n_then_a_clear_error():
    # n = 2**31: the largest n whose pair ranks unrank within int64; 3e9 gave j < 0 before the bound (issue #18)
    n = MAX_SAMPLES
    i, j = sample_pairs(n, max_pairs=1000, seed=0)
    rank = i * (2 * n - i - 1) // 2 + (j - i - 1)
    assert (i >= 0).all() and (i < j).all() and (j < n).all() and len(np.unique(rank)) == 1000
    assert rank.max() < n * (n - 1) // 2
    with pytest.raises(ValueError, match=r"n: expected an integer in \[2, 2147483648\], got 3000000000"):
        sample_pairs(3 * 10**9, max_pairs=10)


def test_per_layer_distances():
    # layer 0 strings "3,1" "3" "3,1" "1": AB 2, AC 0, AD 2, BC 2, BD 1, CD 2 -> 9/6.
    # layer 1 strings "2" "2,1" "2,1" "0": AB 2, AC 2, AD 1, BC 0, BD 3, CD 3 -> 11/6.
    assert per_layer_distances(ROUTING).tolist() == pytest.approx([9 / 6, 11 / 6])
    # experts: layer 0 [3,1] [3] [3,1] [1]: 1,0,1,1,1,1 -> 5/6; layer 1 [2] [2,1] [2,1] [0]: 1,1,1,0,2,2 -> 7/6.
    assert per_layer_distances(ROUTING, mode="experts").tolist() == pytest.approx([5 / 6, 7 / 6])


def test_cross_distance():
    # (A, B) x (C, D): AC 2, AD 3, BC 2, BD 4 -> 11/4.
    assert cross_distance(ROUTING[:2], ROUTING[2:]) == pytest.approx(11 / 4)
    sampled = cross_distance(ROUTING[:2], ROUTING[2:], max_pairs=3, seed=0)
    assert sampled in [pytest.approx((11 - d) / 3) for d in (2, 3, 4)]
    assert cross_distance(ROUTING[:2], ROUTING[2:], max_pairs=3, seed=0) == sampled
    with pytest.raises(ValueError, match="routing_a"):
        cross_distance(ROUTING[:2], ROUTING[2:, :1])


def test_bad_routing():
    with pytest.raises(ValueError, match=">= 2 samples"):
        mean_pairwise_distance(ROUTING[:1])
    with pytest.raises(ValueError, match=r"routing: expected a non-empty \[n, L, E\] array, got shape \(2, 4\)"):
        pathway_strings(np.array(A))
    with pytest.raises(ValueError, match="max_pairs"):
        mean_pairwise_distance(ROUTING, max_pairs=0)


def test_workers_beyond_the_cores_are_capped_not_started():
    # rapidfuzz starts `workers` threads: 10**6 of them never finished before the cap (issue #18)
    assert mean_pairwise_distance(ROUTING, workers=10**6) == mean_pairwise_distance(ROUTING)
    assert pairwise_distances(ROUTING, workers=10**6).tolist() == pairwise_distances(ROUTING).tolist()
