"""Bad input to the public metric API: the documented result or a ValueError naming the argument, nothing else.

Property-based (hypothesis, derandomized): random shapes, NaN, inf, negative, unnormalized and empty arrays.
"""

import inspect
import re
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import grokmon
from grokmon.claims import controls
from grokmon.metrics import (
    consistency,
    correlation,
    generalization,
    matching,
    memorization,
    pathways,
    routing_summary,
)
from grokmon.metrics.validation import RoutingNormalizationWarning

FAST = settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, -1.0, -1e-9, 0.0, 1e300])
ELEMENTS = st.one_of(st.floats(-2, 2, allow_nan=False), SPECIAL)
INVALID = object()


def arrays(max_dims=4, elements=ELEMENTS):
    """Any float array: 0-4 dims of 0-4 items, with NaN, inf, negatives and huge values mixed in."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4)
    return hnp.arrays(np.float64, shapes, elements=elements)


@st.composite
def routings(draw, n_min=0):
    """[n, L, E] arrays, mostly routing-like: rows normalized, scaled, raw, or corrupted with a special value."""
    shape = (draw(st.integers(n_min, 5)), draw(st.integers(0, 4)), draw(st.integers(0, 5)))
    raw = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    kind = draw(st.sampled_from(["normalized", "scaled", "raw", "corrupt", "any"]))
    sums = raw.sum(axis=-1, keepdims=True)
    normalized = np.divide(raw, sums, out=np.zeros_like(raw), where=sums > 0)
    if kind == "normalized":
        return normalized
    if kind == "scaled":
        return normalized * draw(st.floats(0.01, 1.5))
    if kind == "corrupt" and raw.size:
        corrupted = normalized.copy()
        corrupted.flat[draw(st.integers(0, raw.size - 1))] = draw(SPECIAL)
        return corrupted
    if kind == "any":
        return draw(hnp.arrays(np.float64, shape, elements=ELEMENTS))
    return raw


def call(fn, names, *args, **kwargs):
    """fn(*args, **kwargs), or INVALID if it raised a ValueError whose message names one of `names`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoutingNormalizationWarning)
        try:
            return fn(*args, **kwargs)
        except ValueError as error:
            assert any(name in str(error) for name in names), f"{fn.__name__}: {error!r} names none of {names}"
            return INVALID


def is_routing(r: np.ndarray, n_min: int = 1) -> bool:
    """The documented domain of routing: [n >= n_min, L >= 1, E >= 1], finite, >= 0, rows summing to (0, 1 + 1e-3]."""
    if r.ndim != 3 or r.shape[0] < n_min or 0 in r.shape or not np.isfinite(r).all() or (r < 0).any():
        return False
    sums = r.sum(axis=-1)
    return bool((sums > 0).all() and (sums <= 1 + 1e-3).all())


def as_used(r: np.ndarray) -> np.ndarray:
    """The documented rule: rows summing to less than 1 - 1e-3 are renormalized, the others used as they are."""
    sums = r.sum(axis=-1, keepdims=True)
    return np.where(sums < 1 - 1e-3, r / sums, r)


@FAST
@given(routings(), st.one_of(st.floats(-0.5, 1.5), SPECIAL))
def test_select_experts_and_strings(routing, cut):
    selected = call(pathways.select_experts, ("weights", "cut"), routing, cut)
    strings = call(pathways.pathway_strings, ("routing", "cut"), routing, cut)
    valid = is_routing(routing) and 0 < cut <= 1
    assert (selected is INVALID) == (strings is INVALID) == (not valid)
    if valid:
        probs = as_used(routing)
        for sample, layers in zip(probs, selected):
            for weights, experts in zip(sample, layers):
                assert len(set(experts)) == len(experts) >= 1
                taken = weights[experts].sum()
                assert taken > cut - 1e-6 or len(experts) == weights.size  # the cut, or every expert
                assert taken - weights[experts[-1]] <= cut + 1e-6  # no expert more than needed
        assert strings == [pathways.pathway_string(s) for s in selected]


@FAST
@given(routings(), st.sampled_from(["paper", "experts", "x"]), st.sampled_from([None, 1, 3, 0, -1, 2.5]), st.booleans())
def test_distances_are_the_documented_values_or_name_the_argument(routing, mode, max_pairs, normalize):
    names = ("routing", "mode", "max_pairs")
    mean = call(pathways.mean_pairwise_distance, names, routing, mode=mode, max_pairs=max_pairs, normalize=normalize)
    layers = call(pathways.per_layer_distances, names, routing, mode=mode, max_pairs=max_pairs, normalize=normalize)
    valid = is_routing(routing, n_min=2) and mode in pathways.MODES and (max_pairs is None or max_pairs in (1, 3))
    assert (mean is INVALID) == (layers is INVALID) == (not valid)
    if valid:
        assert np.isfinite(mean) and mean >= 0 and (mean <= 1 or not normalize)
        assert layers.shape == (routing.shape[1],) and (layers >= 0).all()
        # the documented rule for rows summing below 1: the same result as the renormalized routing
        kwargs = {"mode": mode, "max_pairs": max_pairs, "normalize": normalize}
        assert mean == pathways.mean_pairwise_distance(as_used(routing), **kwargs)


@FAST
@given(routings(n_min=1), routings(n_min=1))
def test_cross_distance(a, b):
    d = call(pathways.cross_distance, ("routing_a", "routing_b"), a, b)
    valid = is_routing(a) and is_routing(b) and a.shape[1:] == b.shape[1:]
    assert (d is INVALID) == (not valid)
    if valid:
        assert np.isfinite(d) and d >= 0


@FAST
@given(st.one_of(st.integers(-2, 6), SPECIAL), st.sampled_from([None, 1, 2, 0, 1.5]), st.sampled_from([0, 3, -1]))
def test_sample_pairs(n, max_pairs, seed):
    pairs = call(pathways.sample_pairs, ("n", "max_pairs", "seed"), n, max_pairs, seed)
    valid = isinstance(n, int) and n >= 2 and max_pairs in (None, 1, 2) and seed >= 0
    assert (pairs is INVALID) == (not valid)
    if valid:
        i, j = pairs
        assert (i < j).all() and (j < n).all() and len(i) == min(n * (n - 1) // 2, max_pairs or n * n)


@st.composite
def router_weights(draw, routing):
    """Router rows [L, E, d] matching routing [n, L, E] most of the time, sometimes with a wrong shape or a NaN."""
    L, E = routing.shape[1:] if routing.ndim == 3 else (2, 2)
    d = draw(st.integers(0, 3))
    shape = draw(st.sampled_from([(L, E, d), (L, E, d), (L + 1, E, d), (L, E)]))
    return draw(hnp.arrays(np.float64, shape, elements=st.one_of(st.floats(-2, 2), SPECIAL)))


@FAST
@given(st.data())
def test_consistency(data):
    routing = data.draw(routings(n_min=1))
    weights = data.draw(router_weights(routing))
    names = ("routing", "router_weights")
    c = call(consistency.paper_consistency, names, routing, weights)
    cos = call(consistency.mean_adjacent_cosine, names, routing, weights)
    valid = (
        is_routing(routing)
        and weights.ndim == 3
        and weights.shape[:2] == routing.shape[1:]
        and 0 not in weights.shape
        and routing.shape[1] >= 2
        and np.isfinite(weights).all()
        and np.abs(weights).max() <= np.finfo(np.float32).max
    )
    assert (c is INVALID) == (cos is INVALID) == (not valid)
    if valid:
        assert c.shape == cos.shape == (routing.shape[0],)
        assert np.isfinite(cos).all() and (np.abs(cos) <= 1 + 1e-9).all()
        adjacent = consistency.adjacent_cosines(consistency.routing_embeddings(as_used(routing), weights))
        aligned = (adjacent >= 0).all(axis=1) & (adjacent.max(axis=1) > 1e-3)
        assert ((c[aligned] >= 0) & (c[aligned] <= 1)).all()  # the documented range
        assert np.array_equal(cos, consistency.mean_adjacent_cosine(as_used(routing), weights))


@FAST
@given(arrays(max_dims=3), st.one_of(st.floats(-1, 3), SPECIAL), st.one_of(st.floats(-0.1, 0.2), SPECIAL))
def test_memorization_index(loss, epsilon, delta):
    t = call(memorization.memorization_index, ("loss", "epsilon", "delta"), loss, epsilon, delta)
    valid = (
        loss.ndim == 2
        and loss.size > 0
        and np.isfinite(loss).all()
        and (loss >= 0).all()
        and np.isfinite(epsilon)
        and epsilon > 0
        and np.isfinite(delta)
        and delta >= 0
    )
    assert (t is INVALID) == (not valid)
    if valid:
        assert t.shape == (loss.shape[1],) and ((t >= -1) & (t < loss.shape[0])).all()
        for i, start in enumerate(t.tolist()):  # t* = the first checkpoint from which the condition always holds
            holds = (loss[:, i] <= epsilon) & (np.abs(loss[:, i] - loss[-1, i]) <= delta)
            assert holds[start:].all() and (start == 0 or not holds[start - 1]) if start >= 0 else not holds[-1]


@FAST
@given(
    arrays(max_dims=3, elements=st.sampled_from([0.0, 1.0, 0.5, np.nan, -1.0])),
    st.sampled_from([0.8, 1.0, np.nan, -0.1]),
    st.sampled_from([1, 0, -1, 1.5, np.inf]),
)
def test_generalization_index(correct, min_accuracy, max_errors):
    names = ("correct", "min_accuracy", "max_errors")
    t = call(generalization.generalization_index, names, correct, min_accuracy, max_errors)
    curve = call(generalization.accuracy_curve, names, correct)
    valid_correct = correct.ndim == 2 and correct.size > 0 and np.isin(correct, (0, 1)).all()
    assert (curve is INVALID) == (not valid_correct)
    assert (t is INVALID) == (not (valid_correct and min_accuracy == 0.8 and max_errors in (0, 1)))
    if t is not INVALID:
        assert ((t >= -1) & (t < correct.shape[0])).all()
        assert ((curve >= 0) & (curve <= 1)).all()


@FAST
@given(arrays(max_dims=2), arrays(max_dims=2), st.sampled_from([1, 3, 0, 2.5, np.nan]))
def test_correlation_functions(metric, accuracy, window):
    out = call(correlation.correlate, ("metric", "accuracy"), metric, accuracy)
    series_ok = [x.ndim == 1 and x.size > 0 and np.isfinite(x).all() for x in (metric, accuracy)]
    assert (out is INVALID) == (not (all(series_ok) and metric.shape == accuracy.shape))
    if out is not INVALID:
        for key in ("pearson", "spearman"):
            assert np.isnan(out[key]) or -1 - 1e-9 <= out[key] <= 1 + 1e-9
            assert np.isnan(out[f"{key}_p"]) or 0 <= out[f"{key}_p"] <= 1
    ma = call(correlation.moving_average, ("x", "window"), metric, window)
    assert (ma is INVALID) == (not (series_ok[0] and window in (1, 3)))
    if ma is not INVALID:
        slack = 1e-9 * abs(metric).max()
        assert (ma >= metric.min() - slack).all() and (ma <= metric.max() + slack).all()
    start = call(correlation.checkpoint_window, ("accuracy", "mode", "last_k"), accuracy, "last", last_k=window)
    assert (start is INVALID) == (not (series_ok[1] and window == 3))
    if start is not INVALID:
        assert 0 <= start < accuracy.size


@FAST
@given(st.lists(arrays(max_dims=3), min_size=0, max_size=3), st.lists(arrays(max_dims=3), min_size=0, max_size=3))
def test_matching(train, test):
    sim = call(matching.group_similarity, ("train_groups", "test_groups"), train, test)
    if sim is not INVALID:
        assert sim.shape == (len(train), len(test)) and (np.abs(sim) <= 1 + 1e-9).all()
        pairs = matching.match_groups(sim)
        assert len(pairs) == min(sim.shape) and len({c for _, c in pairs}) == len(pairs)


@FAST
@given(arrays(max_dims=3))
def test_match_groups(similarity):
    pairs = call(matching.match_groups, ("similarity",), similarity)
    assert (pairs is INVALID) == (not (similarity.ndim == 2 and similarity.size > 0 and np.isfinite(similarity).all()))


@FAST
@given(arrays(max_dims=2), arrays(max_dims=2), st.sampled_from([1, 0, np.inf, 2.5]))
def test_controls(metric, accuracy, t_index):
    names = ("metric", "accuracy")
    test = call(controls.correlation_test, names, metric, accuracy)
    if test is not INVALID:
        assert np.isnan(test.r) or -1 - 1e-9 <= test.r <= 1 + 1e-9
        assert all(np.isnan(p) or 0 <= p <= 1 for p in (test.p_value(1), test.p_value(-1)))
    trend = call(controls.post_memorization_trend, ("values", "t_index"), metric, t_index)
    if trend is not INVALID:
        assert trend["n_points"] <= metric.size


# The cases of issue #18, by hand.
ROUTING = np.array(
    [
        [[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]],
        [[0.2, 0.2, 0.6], [0.5, 0.4, 0.1]],
        [[0.1, 0.8, 0.1], [0.3, 0.3, 0.4]],
    ]
)
ROUTERS = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0], [-1.0, 1.0]]])


def test_half_mass_routing_gives_the_full_routing_distance_with_a_warning():
    full = pathways.mean_pairwise_distance(ROUTING)
    with pytest.warns(RoutingNormalizationWarning, match="routing: 6 of 6 layer rows sum to less than 1 \\(min 0.5\\)"):
        half = pathways.mean_pairwise_distance(ROUTING / 2)
    assert half == full


@pytest.mark.parametrize(
    "fn", [pathways.mean_pairwise_distance, pathways.pathway_strings, pathways.per_layer_distances]
)
def test_all_zero_routing_is_refused_not_distance_zero(fn):
    with pytest.raises(ValueError, match=r"routing: the weights at \(0, 0\) are all zero"):
        fn(np.zeros((3, 2, 3)))


@pytest.mark.parametrize(
    "fn", [consistency.paper_consistency, consistency.mean_adjacent_cosine, consistency.routing_embeddings]
)
def test_consistency_refuses_logits(fn):
    with pytest.raises(ValueError, match="routing: has negative values .* not logits"):
        fn(np.log(ROUTING), ROUTERS)


def test_memorization_refuses_a_negative_epsilon_and_negative_losses():
    loss = np.array([[2.0, 0.42], [1.0, 0.4]])  # sample 0 memorized only at T (not counted), sample 1 from the start
    assert memorization.memorization_index(loss, epsilon=1.0).tolist() == [-1, 0]
    assert memorization.memorization_index(loss, epsilon=1.0, include_final=True).tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"epsilon: expected a number > 0, got -1"):
        memorization.memorization_index(loss, epsilon=-1)
    with pytest.raises(ValueError, match=r"loss: has negative values \(min -2\)"):
        memorization.memorization_index(-loss, epsilon=1.0)


# The public metric functions not covered above (issue #18: every public metric function, listed by the test below).
@FAST
@given(routings(), st.one_of(st.floats(-0.5, 1.5), SPECIAL), st.sampled_from(["paper", "experts", "x"]))
def test_pairwise_distances(routing, cut, mode):
    matrix = call(pathways.pairwise_distances, ("routing", "cut", "mode"), routing, cut=cut, mode=mode)
    assert (matrix is INVALID) == (not (is_routing(routing) and 0 < cut <= 1 and mode in pathways.MODES))
    if matrix is not INVALID:
        n = routing.shape[0]
        assert matrix.shape == (n, n) and (matrix == matrix.T).all() and (np.diag(matrix) == 0).all()
        if n >= 2:
            assert matrix.sum() / (n * (n - 1)) == pytest.approx(
                pathways.mean_pairwise_distance(as_used(routing), cut=cut, mode=mode)
            )


EXPERTS = st.one_of(st.integers(-1, 5), st.booleans(), st.just(1.0), st.just("3"))


@FAST
@given(st.one_of(st.lists(st.one_of(st.lists(EXPERTS, max_size=3), st.just("1,2")), max_size=3), st.just("1-2")))
def test_pathway_string_and_tokens(selection):
    string = call(pathways.pathway_string, ("selection",), selection)
    tokens = call(pathways.pathway_tokens, ("selection",), selection)
    valid = (
        not isinstance(selection, str)
        and len(selection) > 0
        and all(
            isinstance(layer, list) and layer and all(type(e) is int and e >= 0 for e in layer) for layer in selection
        )
    )
    assert (string is INVALID) == (tokens is INVALID) == (not valid)
    if valid:
        assert string == "-".join(",".join(str(e) for e in layer) for layer in selection)
        n_layers = len(selection)
        assert tokens == [e * n_layers + layer for layer, experts in enumerate(selection) for e in experts]


@FAST
@given(arrays(max_dims=4))
def test_adjacent_cosines(embeddings):
    cos = call(consistency.adjacent_cosines, ("embeddings",), embeddings)
    valid = embeddings.ndim == 3 and embeddings.size > 0 and embeddings.shape[1] >= 2
    assert (cos is INVALID) == (not (valid and np.isfinite(embeddings).all()))
    if cos is not INVALID:
        assert cos.shape == (embeddings.shape[0], embeddings.shape[1] - 1)
        assert np.isfinite(cos).all() and (np.abs(cos) <= 1 + 1e-9).all()  # 1e300 entries too (no overflow)


@FAST
@given(st.data())
def test_routing_embeddings_and_routing_metrics(data):
    routing = data.draw(routings(n_min=1))
    weights = data.draw(router_weights(routing))
    names = ("routing", "router_weights", "max_pairs")
    max_pairs = data.draw(st.sampled_from([None, 2, 0]))
    embedded = call(consistency.routing_embeddings, names, routing, weights)
    summary = call(routing_summary.routing_metrics, names, routing, weights, max_pairs=max_pairs)
    valid = (
        is_routing(routing)
        and weights.ndim == 3
        and weights.shape[:2] == routing.shape[1:]
        and 0 not in weights.shape
        and np.isfinite(weights).all()
        and np.abs(weights).max() <= np.finfo(np.float32).max
        and routing.shape[1] >= 2
    )
    assert (embedded is INVALID) == (not valid)
    assert (summary is INVALID) == (not (valid and routing.shape[0] >= 2 and max_pairs != 0))
    if valid:
        expected = np.einsum("nle,led->nld", as_used(routing), weights)
        assert embedded.dtype == np.float32 and embedded.shape == expected.shape
        assert np.allclose(embedded, expected, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(expected).max()))
    if summary is not INVALID:
        used = as_used(routing)
        assert summary == {
            "distance": pathways.mean_pairwise_distance(used, max_pairs=max_pairs),
            "distance_experts": pathways.mean_pairwise_distance(used, mode="experts", max_pairs=max_pairs),
            "distance_normalized": pathways.mean_pairwise_distance(used, max_pairs=max_pairs, normalize=True),
            "consistency": float(np.mean(consistency.paper_consistency(used, weights))),
            "adjacent_cosine": float(np.mean(consistency.mean_adjacent_cosine(used, weights))),
        }


@FAST
@given(routings(n_min=0))
def test_routing_entropy(routing):
    entropy = call(controls.routing_entropy, ("routing",), routing)
    valid = is_routing(routing) and bool((np.abs(routing.sum(axis=-1) - 1) <= 1e-3).all())  # no top-k weights
    assert (entropy is INVALID) == (not valid)
    if valid:
        assert entropy.shape == routing.shape[:2]
        assert (entropy >= 0).all() and (entropy <= np.log(routing.shape[2]) + 1e-6).all()


@FAST
@given(arrays(max_dims=2), st.sampled_from([0.1, 0.0, 0.5, 1.0, -0.1, np.nan]))
def test_sustained_rise_start(accuracy, floor_fraction):
    start = call(correlation.sustained_rise_start, ("accuracy", "floor_fraction"), accuracy, floor_fraction)
    valid = accuracy.ndim == 1 and accuracy.size > 0 and np.isfinite(accuracy).all() and 0 <= floor_fraction < 1
    assert (start is INVALID) == (not valid)
    if valid:
        assert 0 <= start < accuracy.size
        assert accuracy[start] <= accuracy.min() + floor_fraction * np.ptp(accuracy)  # in the floor band


INDICES = hnp.arrays(
    st.sampled_from([np.int64, np.int32, np.float64]),
    hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5),
    elements=st.integers(-2, 5),
)


@FAST
@given(INDICES, st.sampled_from([1, 3, 6, 0, -1, 2.5, None]), st.sampled_from([1, 2, 0, 1.5]))
def test_memorized_fraction_and_groups(t_index, n_ckpt, min_size):
    fraction = call(memorization.memorized_fraction_before_final, ("t_index", "n_ckpt"), t_index, n_ckpt)
    grouped = call(memorization.groups, ("t_index", "min_size"), t_index, min_size)
    index_ok = (
        t_index.ndim == 1 and t_index.size > 0 and np.issubdtype(t_index.dtype, np.integer) and t_index.min() >= -1
    )
    assert (grouped is INVALID) == (not (index_ok and min_size in (1, 2)))
    assert (fraction is INVALID) == (not (index_ok and n_ckpt in (1, 3, 6) and t_index.max() < n_ckpt))
    if fraction is not INVALID:
        assert fraction == np.mean((t_index >= 0) & (t_index < n_ckpt - 1))
    if grouped is not INVALID:
        assert list(grouped) == sorted(k for k in set(t_index.tolist()) if k >= 0 and (t_index == k).sum() >= min_size)
        for k, members in grouped.items():
            assert members.tolist() == np.flatnonzero(t_index == k).tolist()


@FAST
@given(
    arrays(max_dims=3, elements=st.one_of(st.floats(0, 3), SPECIAL)),
    st.sampled_from([0.1, 0.5, 0.0, -0.1, np.nan, 1e-300]),
    st.sampled_from([(0.2, 0.25), (0.5, 1.0), (0.3, 0.2), (0.1, 1.5), None]),
)
def test_calibrate_epsilon(loss, step, target):
    names = ("loss", "step", "target")
    result = call(memorization.calibrate_epsilon, names, loss, step=step, target=target, on_unreachable="best")
    loss_ok = loss.ndim == 2 and loss.size > 0 and loss.shape[0] >= 2 and np.isfinite(loss).all() and (loss >= 0).all()
    target_ok = target is not None and 0 <= target[0] <= target[1] <= 1
    # the grid runs from step to max loss + step: losses are <= 3 or 1e300 (over MAX_GRID values at any step here)
    grid_ok = step in (0.1, 0.5) and loss_ok and loss.max() <= 3
    assert (result is INVALID) == (not (loss_ok and target_ok and grid_ok))
    if result is not INVALID:
        t = memorization.memorization_index(loss, result.epsilon)
        assert result.fraction == memorization.memorized_fraction_before_final(t, loss.shape[0])
        assert result.in_target == (target[0] <= result.fraction <= target[1])


LABELS = st.one_of(
    st.lists(st.one_of(st.integers(0, 9), st.booleans(), st.just(1.5)), max_size=3), st.none(), st.just(3)
)


@FAST
@given(LABELS, LABELS, arrays(max_dims=3))
def test_match_table(train_labels, test_labels, similarity):
    names = ("train_labels", "test_labels", "similarity")
    table = call(matching.match_table, names, train_labels, test_labels, similarity)
    labels_ok = all(isinstance(x, list) and all(type(v) is int for v in x) for x in (train_labels, test_labels))
    valid = (
        labels_ok
        and similarity.ndim == 2
        and similarity.size > 0
        and similarity.shape == (len(train_labels), len(test_labels))
        and np.isfinite(similarity).all()
    )
    assert (table is INVALID) == (not valid)
    if valid:
        assert len(table) == min(similarity.shape)
        assert (table["delay"] == table["test_step"] - table["train_step"]).all()


# Scalar arguments: any Python value gives a result or a ValueError naming the argument (never a TypeError,
# OverflowError or a hang); the array arguments are valid ones.
R = ROUTING
LOSS = np.array([[0.5, 2.0, 0.1], [0.4, 2.0, 0.1], [0.4, 2.0, 0.1]])  # epsilon 0.1 memorizes 1/3 before T
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.just([0.5]),
    st.just(np.array([1.0, 2.0])),
)
CALLS = [
    (pathways.select_experts, (R,), "cut"),
    (pathways.mean_pairwise_distance, (R,), "cut"),
    (pathways.mean_pairwise_distance, (R,), "mode"),
    (pathways.mean_pairwise_distance, (R,), "max_pairs"),
    (pathways.mean_pairwise_distance, (R,), "seed"),
    (pathways.mean_pairwise_distance, (R,), "normalize"),
    (pathways.mean_pairwise_distance, (R,), "workers"),
    (pathways.sample_pairs, (), "n"),  # with max_pairs (all pairs of a large n do not fit in memory)
    (consistency.paper_consistency, (R, ROUTERS), "eps"),
    (memorization.memorization_index, (LOSS,), "epsilon"),
    (memorization.memorization_index, (LOSS, 0.5), "delta"),
    (memorization.memorization_index, (LOSS, 0.5), "include_final"),
    (memorization.calibrate_epsilon, (LOSS,), "step"),
    (memorization.calibrate_epsilon, (LOSS,), "start"),
    (memorization.calibrate_epsilon, (LOSS,), "max_epsilon"),
    (memorization.calibrate_epsilon, (LOSS,), "on_unreachable"),
    (memorization.groups, (np.array([0, 1, 1]),), "min_size"),
    (memorization.memorized_fraction_before_final, (np.array([0, 1, 1]),), "n_ckpt"),
    (generalization.generalization_index, (np.ones((3, 2)),), "min_accuracy"),
    (generalization.generalization_index, (np.ones((3, 2)),), "max_errors"),
    (correlation.moving_average, (np.arange(4.0),), "window"),
    (correlation.sustained_rise_start, (np.arange(4.0),), "floor_fraction"),
    (correlation.checkpoint_window, (np.arange(6.0),), "mode"),
    (correlation.checkpoint_window, (np.arange(6.0), "last"), "last_k"),
    (correlation.checkpoint_window, (np.arange(6.0),), "rise_floor"),
    (routing_summary.routing_metrics, (R, ROUTERS), "max_pairs"),
    *((pathways.PathwaySettings, (), name) for name in ("cut", "mode", "max_pairs", "seed", "normalize", "workers")),
]


@pytest.mark.parametrize("fn, args, name", CALLS, ids=[f"{fn.__name__}-{name}" for fn, _, name in CALLS])
@settings(max_examples=25, derandomize=True, deadline=None)
@given(value=SCALARS)
def test_scalar_argument_gives_a_result_or_names_itself(fn, args, name, value):
    extra = {"max_pairs": 10} if fn is pathways.sample_pairs else {}
    call(fn, (name,), *args, **{name: value}, **extra)


def test_every_public_metric_function_has_a_property_test():
    """The public metric API (grokmon.__all__'s metric functions and the metric modules' public functions) is
    covered above; load_embedder loads a model (its max_seq_length and texts are checked in test_matching)."""
    modules = [pathways, consistency, memorization, generalization, matching, correlation, routing_summary]
    public = {
        f
        for m in modules
        for name, f in vars(m).items()
        if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == m.__name__
    }
    metric_names = [n for n, m in grokmon._API.items() if m.startswith(("grokmon.metrics.", "grokmon.claims.controls"))]
    public |= {getattr(grokmon, n) for n in metric_names}  # routing_entropy: in grokmon.__all__, not a metric module
    source = inspect.getsource(sys.modules[__name__])
    tested = {f for f in public if re.search(rf"\b\w+\.{f.__name__}\b", source.split("def test_every_public")[0])}
    assert public - tested == {matching.load_embedder}
