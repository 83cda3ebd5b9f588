import numpy as np
import pytest

from grokmon.metrics.consistency import adjacent_cosines, mean_adjacent_cosine, paper_consistency, routing_embeddings

# L = 3 layers, E = 2 experts, d = 2: layer 0 identity, layer 1 doubled identity, layer 2 rows swapped.
W = np.array([[[1, 0], [0, 1]], [[2, 0], [0, 2]], [[0, 1], [1, 0]]], dtype=np.float64)
ROUTING = np.array(
    [
        [[1.0, 0.0], [0.75, 0.25], [1.0, 0.0]],  # e = (1,0), (1.5,0.5), (0,1)
        [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],  # e = (.5,.5), (1,1), (.5,.5): all aligned
        [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],  # e = (1,0), (0,2), (1,0): orthogonal steps
    ]
)


def test_routing_embeddings():
    e = routing_embeddings(ROUTING, W)
    assert e.dtype == np.float32 and e.shape == (3, 3, 2)
    assert e[0].tolist() == [[1.0, 0.0], [1.5, 0.5], [0.0, 1.0]]
    assert e[2].tolist() == [[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]]


def test_adjacent_cosines():
    # sample 0: cos((1,0),(1.5,.5)) = 1.5/sqrt(2.5) = 3/sqrt(10); cos((1.5,.5),(0,1)) = .5/sqrt(2.5) = 1/sqrt(10).
    cos = adjacent_cosines(routing_embeddings(ROUTING, W))
    assert cos.tolist() == [
        pytest.approx([3 / np.sqrt(10), 1 / np.sqrt(10)]),
        pytest.approx([1.0, 1.0]),
        pytest.approx([0.0, 0.0], abs=1e-12),
    ]
    # a zero vector has cosine 0; (1,0) vs (1,1) = 1/sqrt(2).
    assert adjacent_cosines(np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]])).tolist() == [
        pytest.approx([0.0, 2**-0.5])
    ]


def test_paper_consistency_hand_values():
    c = paper_consistency(ROUTING, W)
    # sample 0: 1 - (1/2) * (1 + (1/sqrt10) / (3/sqrt10)) = 1 - (1/2)(4/3) = 1/3.
    # sample 1: every cos equals the max: 1 - 1/(1 + 1e-8) = 1e-8.
    # sample 2: all cos 0, max 0: 1 - 0/(0 + 1e-8) = 1.
    assert c.tolist() == [pytest.approx(1 / 3, rel=1e-6), pytest.approx(0.0, abs=1e-7), pytest.approx(1.0)]


def test_mean_adjacent_cosine_hand_values():
    # (3 + 1) / (2 sqrt 10) = 2/sqrt(10); 1; 0.
    assert mean_adjacent_cosine(ROUTING, W).tolist() == [
        pytest.approx(2 / np.sqrt(10), rel=1e-6),
        pytest.approx(1.0),
        pytest.approx(0.0, abs=1e-12),
    ]


def test_chunked_path_matches_direct():
    rng = np.random.default_rng(0)
    routing = rng.dirichlet(np.ones(4), size=(300, 3))  # more samples than one chunk (256)
    w = rng.normal(size=(3, 4, 5))
    cos = adjacent_cosines(routing_embeddings(routing, w))
    assert np.allclose(mean_adjacent_cosine(routing, w), cos.mean(axis=1))
    assert np.allclose(paper_consistency(routing, w), 1 - (cos / (cos.max(axis=1, keepdims=True) + 1e-8)).mean(axis=1))


def test_bad_input():
    with pytest.raises(ValueError, match="L >= 2"):
        paper_consistency(ROUTING[:, :1], W[:1])
    with pytest.raises(ValueError, match="disagree"):
        paper_consistency(ROUTING, W[:2])
    with pytest.raises(ValueError, match=r"routing: expected a non-empty \[n, L, E\]"):
        mean_adjacent_cosine(np.zeros((0, 3, 2)), W)
    with pytest.raises(ValueError, match="routing: contains NaN"):
        routing_embeddings(np.full((1, 3, 2), np.nan), W)
    with pytest.raises(ValueError, match="embeddings"):
        adjacent_cosines(np.zeros((2, 3)))


def test_adjacent_cosines_of_huge_and_subnormal_vectors():
    # squares of 1e300 overflow and of 1e-320 underflow float64: such vectors are scaled first (issue #18)
    assert adjacent_cosines(np.full((1, 2, 2), 1e300))[0, 0] == pytest.approx(1.0)  # was NaN
    assert adjacent_cosines(np.full((1, 2, 2), 1e-320))[0, 0] == pytest.approx(1.0)  # was 0: not a zero vector
    assert adjacent_cosines(np.array([[[1e300, -1e300], [1e-320, 0.0]]]))[0, 0] == pytest.approx(1 / np.sqrt(2))
