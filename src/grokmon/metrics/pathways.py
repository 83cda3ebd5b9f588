"""Routing pathways (paper Sec. 4.1): experts selected at a cumulative-weight cut, pathway strings, edit distances."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from grokmon.metrics.validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_routing,
    resolve_settings,
)

MODES = ("paper", "experts")
CUT_TOLERANCE = 1e-6
MAX_SAMPLES = 2**31  # so that i * (2n - i - 1), a pair's rank times 2, fits an int64 (_pairs_before)


@dataclass(frozen=True)
class PathwaySettings:
    """How pathways are cut and compared: the one home of these defaults (config `pathways:` sets the workflow's)."""

    cut: float = 0.7
    """Cumulative routing-weight cut in (0, 1] that selects a layer's experts (paper Sec. 4.1: 0.7)."""
    mode: str = "paper"
    """Sequences compared: "paper" (characters of the paper strings) or "experts" (one symbol per expert)."""
    max_pairs: int | None = None
    """Pairs averaged: all of them up to this many, above it a seeded random sample of this many; None: all."""
    seed: int = 0
    """Seed of that sample."""
    normalize: bool = False
    """Divide each distance by the longer sequence's length (0..1, rapidfuzz normalized_distance) instead of edits."""
    workers: int = 1
    """rapidfuzz threads (-1: all cores; more than the machine's cores are capped at its cores)."""

    def __post_init__(self):
        object.__setattr__(self, "cut", _check_cut(self.cut))
        check_choice("mode", self.mode, MODES)
        _check_pairs(self.max_pairs, self.seed)
        check_bool("normalize", self.normalize)
        # rapidfuzz starts that many threads: more than the machine's cores are capped at its cores
        object.__setattr__(self, "workers", min(check_int("workers", self.workers, -1), os.cpu_count() or 1))


def select_experts(weights: np.ndarray, cut: float = PathwaySettings.cut) -> list:
    """Selected experts per layer, in rank order, from routing weights float[L, E] (-> list[L] of list[int]) or
    [n, L, E] (-> list[n] of those).

    Per layer: experts are ranked by weight, descending (ties: lower expert index first), and taken
    until their cumulative weight exceeds `cut` strictly; a cumulative weight within CUT_TOLERANCE
    (1e-6) of `cut` counts as reaching it exactly, so one more expert is taken (this makes float32
    and float64 inputs agree: weights 0.5, 0.2 at cut 0.7 take a third expert). If the layer total
    never exceeds `cut` (e.g. cut=1.0 with weights summing to 1) all E experts are taken.
    Weights are routing probabilities (`validation.check_routing`: >= 0, each layer summing to 1; a layer summing
    to less is renormalized with a warning, more is refused as logits or counts).
    """
    return _select(check_routing("weights", weights, ndim=(2, 3)).astype(np.float64), _check_cut(cut))


def _select(weights: np.ndarray, cut: float) -> list:
    order = np.argsort(-weights, axis=-1, kind="stable")
    cumulative = np.cumsum(np.take_along_axis(weights, order, axis=-1), axis=-1)
    n_taken = np.minimum((cumulative <= cut + CUT_TOLERANCE).sum(axis=-1) + 1, weights.shape[-1])
    width = int(n_taken.max())  # only the ranked prefix that any layer uses becomes Python ints
    flat_order, flat_taken = order[..., :width].reshape(-1, width).tolist(), n_taken.ravel().tolist()
    layers = [experts[:k] for experts, k in zip(flat_order, flat_taken)]
    if weights.ndim == 2:
        return layers
    n_layers = weights.shape[1]
    return [layers[i : i + n_layers] for i in range(0, len(layers), n_layers)]


def pathway_string(selection: list[list[int]]) -> str:
    """Paper string of one sample's selection (list[L] of expert lists): experts joined by ",", layers by "-",
    e.g. "3,1,5-9,1"."""
    return _string(_check_selection(selection))


def _string(selection: list[list[int]]) -> str:
    return "-".join(",".join(map(str, experts)) for experts in selection)


def pathway_tokens(selection: list[list[int]]) -> list[int]:
    """One int symbol per selected expert of one sample (list[L] of expert lists), layer by layer, no separators.

    symbol = expert * L + layer, so expert 3 of layer 0 and expert 3 of layer 1 are different symbols
    (injective for a fixed number of layers L, which all samples of one model share).
    """
    return _tokens(_check_selection(selection))


def _tokens(selection: list[list[int]]) -> list[int]:
    n_layers = len(selection)
    return [expert * n_layers + layer for layer, experts in enumerate(selection) for expert in experts]


def pathway_strings(routing: np.ndarray, cut: float = PathwaySettings.cut) -> list[str]:
    """Paper strings list[n] from routing float[n, L, E] (token-mean routing probabilities)."""
    return [_string(s) for s in _select(_check_routing(routing, "routing"), _check_cut(cut))]


def pairwise_distances(routing: np.ndarray, settings: PathwaySettings | None = None, **overrides) -> np.ndarray:
    """Levenshtein distance matrix [n, n] (int32 edits; float64 in 0..1 if normalize) between pathways of routing
    float[n, L, E]; `settings` (`PathwaySettings`, or its fields as keywords) without max_pairs and seed."""
    s = resolve_settings(PathwaySettings, settings, **overrides)
    seqs = _sequences(_check_routing(routing, "routing"), s)
    return process.cdist(seqs, seqs, scorer=_scorer(s.normalize), dtype=_dtype(s.normalize), workers=s.workers)


def mean_pairwise_distance(routing: np.ndarray, settings: PathwaySettings | None = None, **overrides) -> float:
    """Mean distance (edits, or 0..1 if normalize) over unordered pairs i < j of routing float[n, L, E].

    All n(n-1)/2 pairs, or a seeded random sample of `max_pairs` distinct pairs when there are more;
    `settings` is a `PathwaySettings`, or its fields as keywords (`mean_pairwise_distance(routing, cut=0.5)`).
    """
    s = resolve_settings(PathwaySettings, settings, **overrides)
    return _mean_within(_sequences(_check_routing(routing, "routing", min_samples=2), s), s)


def per_layer_distances(routing: np.ndarray, settings: PathwaySettings | None = None, **overrides) -> np.ndarray:
    """Mean pairwise distance float[L] of each layer's own pathway segment (paper Fig. 5);
    same pairs for every layer; `settings` as in `mean_pairwise_distance`."""
    s = resolve_settings(PathwaySettings, settings, **overrides)
    routing = _check_routing(routing, "routing", min_samples=2)
    encode = _encoder(s.mode)
    selections = _select(routing, s.cut)
    return np.array([_mean_within([encode([x[layer]]) for x in selections], s) for layer in range(routing.shape[1])])


def cross_distance(
    routing_a: np.ndarray, routing_b: np.ndarray, settings: PathwaySettings | None = None, **overrides
) -> float:
    """Mean distance over all pairs (a, b) of routing_a float[n_a, L, E] x routing_b float[n_b, L, E] (paper Fig. 12),
    sampled above max_pairs; `settings` as in `mean_pairwise_distance`."""
    s = resolve_settings(PathwaySettings, settings, **overrides)
    routing_a, routing_b = _check_routing(routing_a, "routing_a"), _check_routing(routing_b, "routing_b")
    if routing_a.shape[1:] != routing_b.shape[1:]:
        raise ValueError(f"routing_a {routing_a.shape} and routing_b {routing_b.shape} differ in [L, E]")
    seqs_a, seqs_b = _sequences(routing_a, s), _sequences(routing_b, s)
    total = len(seqs_a) * len(seqs_b)
    if s.max_pairs is None or total <= s.max_pairs:
        return float(_distances(process.cdist, seqs_a, seqs_b, s).mean())
    k = _sample(total, s.max_pairs, s.seed)
    return _paired_mean(seqs_a, seqs_b, k // len(seqs_b), k % len(seqs_b), s)


def sample_pairs(
    n: int, max_pairs: int | None = PathwaySettings.max_pairs, seed: int = PathwaySettings.seed
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), int64[m], i < j: all n(n-1)/2 pairs in row-major order,
    or a seeded sample of max_pairs distinct ones."""
    n = check_int("n", n, 2, MAX_SAMPLES)
    _check_pairs(max_pairs, seed)
    total = n * (n - 1) // 2
    if max_pairs is None or total <= max_pairs:
        return tuple(a.astype(np.int64) for a in np.triu_indices(n, 1))
    return _unrank_pairs(_sample(total, max_pairs, seed), n)


def _mean_within(seqs: list, s: PathwaySettings) -> float:
    n = len(seqs)
    if s.max_pairs is None or n * (n - 1) // 2 <= s.max_pairs:
        matrix = _distances(process.cdist, seqs, seqs, s)
        return float(matrix.sum(dtype=np.float64) / (n * (n - 1)))  # zero diagonal, each pair counted twice
    i, j = sample_pairs(n, s.max_pairs, s.seed)
    return _paired_mean(seqs, seqs, i, j, s)


def _paired_mean(seqs_a: list, seqs_b: list, i: np.ndarray, j: np.ndarray, s: PathwaySettings) -> float:
    queries, choices = [seqs_a[x] for x in i.tolist()], [seqs_b[x] for x in j.tolist()]
    return float(_distances(process.cpdist, queries, choices, s).mean(dtype=np.float64))


def _distances(scorer_fn, queries: list, choices: list, s: PathwaySettings) -> np.ndarray:
    """rapidfuzz's `cdist` (all pairs) or `cpdist` (element-wise) with the settings' scorer, dtype and workers."""
    return scorer_fn(queries, choices, scorer=_scorer(s.normalize), dtype=_dtype(s.normalize), workers=s.workers)


def _sample(total: int, max_pairs: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(total, size=max_pairs, replace=False)).astype(np.int64)


def _unrank_pairs(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major index k of the pair (i, j), i < j, among n items -> (i, j);
    exact integer fix-up after a float guess."""
    i = np.floor(((2 * n - 1) - np.sqrt(np.maximum((2 * n - 1) ** 2 - 8.0 * k, 0.0))) / 2).astype(np.int64)
    i = np.clip(i, 0, n - 2)
    i -= _pairs_before(i, n) > k
    i += _pairs_before(i + 1, n) <= k
    return i, k - _pairs_before(i, n) + i + 1


def _pairs_before(i: np.ndarray, n: int) -> np.ndarray:
    return i * (2 * n - i - 1) // 2


def _sequences(routing: np.ndarray, s: PathwaySettings) -> list:
    encode = _encoder(s.mode)
    return [encode(x) for x in _select(routing, s.cut)]


def _encoder(mode: str):
    return _string if mode == "paper" else _tokens


def _scorer(normalize: bool):
    return Levenshtein.normalized_distance if normalize else Levenshtein.distance


def _dtype(normalize: bool):
    return np.float64 if normalize else np.int32


def _check_routing(routing: np.ndarray, name: str, min_samples: int = 1) -> np.ndarray:
    return check_routing(name, routing, min_samples=min_samples).astype(np.float64, copy=False)


def _check_cut(cut: float) -> float:
    return check_number("cut", cut, 0, 1, low_open=True)


def _check_pairs(max_pairs: int | None, seed: int) -> None:
    check_int("max_pairs", max_pairs, 1, none_ok=True)
    check_int("seed", seed, 0)


def _check_selection(selection) -> list[list[int]]:
    """One sample's selection: a non-empty list of layers, each a non-empty list of expert indices >= 0."""
    if isinstance(selection, str | bytes) or not isinstance(selection, list | tuple) or not selection:
        raise ValueError(
            f"selection: expected a non-empty list (one per layer) of expert-index lists, got {selection!r}"
        )
    for layer, experts in enumerate(selection):
        if isinstance(experts, str | bytes) or not isinstance(experts, list | tuple) or not experts:
            raise ValueError(f"selection[{layer}]: expected a non-empty list of expert indices, got {experts!r}")
        for expert in experts:
            if isinstance(expert, bool) or not isinstance(expert, int | np.integer) or expert < 0:
                raise ValueError(f"selection[{layer}]: expert indices must be ints >= 0, got {expert!r}")
    return [[int(e) for e in experts] for experts in selection]
