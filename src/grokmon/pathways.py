"""Routing pathways (paper Sec. 4.1): experts selected at a cumulative-weight cut, pathway strings, edit distances."""

from __future__ import annotations

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MODES = ("paper", "experts")
CUT_TOLERANCE = 1e-6
_SUM_TOLERANCE = 1e-3


def select_experts(weights: np.ndarray, cut: float = 0.7) -> list:
    """Selected experts per layer, in rank order, from routing weights float[L, E] (-> list[L] of list[int]) or [n, L, E] (-> list[n] of those).

    Per layer: experts are ranked by weight, descending (ties: lower expert index first), and taken
    until their cumulative weight exceeds `cut` strictly; a cumulative weight within CUT_TOLERANCE
    (1e-6) of `cut` counts as reaching it exactly, so one more expert is taken (this makes float32
    and float64 inputs agree: weights 0.5, 0.2 at cut 0.7 take a third expert). If the layer total
    never exceeds `cut` (e.g. cut=1.0 with weights summing to 1) all E experts are taken.
    Weights must be >= 0 with each layer summing to <= 1 (+1e-3): probabilities, not logits.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim not in (2, 3) or weights.size == 0:
        raise ValueError(f"weights must be a non-empty [L, E] or [n, L, E] array, got shape {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("weights must be finite and >= 0 (routing probabilities)")
    if (weights.sum(axis=-1) > 1 + _SUM_TOLERANCE).any():
        raise ValueError("weights must sum to <= 1 per layer (routing probabilities, not logits or counts)")
    if not 0 < cut <= 1:
        raise ValueError(f"cut must be in (0, 1], got {cut!r}")
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
    """Paper string of one sample's selection (list[L] of expert lists): experts joined by ",", layers by "-", e.g. "3,1,5-9,1"."""
    if not selection:
        raise ValueError("selection is empty")
    return "-".join(",".join(map(str, experts)) for experts in selection)


def pathway_tokens(selection: list[list[int]]) -> list[int]:
    """One int symbol per selected expert of one sample (list[L] of expert lists), layer by layer, no separators.

    symbol = expert * L + layer, so expert 3 of layer 0 and expert 3 of layer 1 are different symbols
    (injective for a fixed number of layers L, which all samples of one model share).
    """
    if not selection:
        raise ValueError("selection is empty")
    n_layers = len(selection)
    return [expert * n_layers + layer for layer, experts in enumerate(selection) for expert in experts]


def pathway_strings(routing: np.ndarray, cut: float = 0.7) -> list[str]:
    """Paper strings list[n] from routing float[n, L, E] (token-mean routing probabilities)."""
    return [pathway_string(s) for s in select_experts(_check_routing(routing, "routing"), cut)]


def pairwise_distances(
    routing: np.ndarray, cut: float = 0.7, mode: str = "paper", normalize: bool = False, workers: int = 1
) -> np.ndarray:
    """Levenshtein distance matrix [n, n] (int32 edits; float64 in 0..1 if normalize) between pathways of routing float[n, L, E].

    mode "paper": characters of the paper strings; "experts": one symbol per expert (`pathway_tokens`).
    normalize divides each distance by the longer sequence's length (rapidfuzz normalized_distance).
    workers: threads for rapidfuzz (-1 = all cores).
    """
    seqs = _sequences(_check_routing(routing, "routing"), cut, mode)
    return process.cdist(seqs, seqs, scorer=_scorer(normalize), dtype=_dtype(normalize), workers=workers)


def mean_pairwise_distance(
    routing: np.ndarray,
    cut: float = 0.7,
    mode: str = "paper",
    max_pairs: int | None = None,
    seed: int = 0,
    normalize: bool = False,
    workers: int = 1,
) -> float:
    """Mean distance (edits, or 0..1 if normalize) over unordered pairs i < j of routing float[n, L, E].

    All n(n-1)/2 pairs, or a seeded random sample of `max_pairs` distinct pairs when there are more.
    """
    routing = _check_routing(routing, "routing", min_samples=2)
    return _mean_within(_sequences(routing, cut, mode), max_pairs, seed, normalize, workers)


def per_layer_distances(
    routing: np.ndarray,
    cut: float = 0.7,
    mode: str = "paper",
    max_pairs: int | None = None,
    seed: int = 0,
    normalize: bool = False,
    workers: int = 1,
) -> np.ndarray:
    """Mean pairwise distance float[L] of each layer's own pathway segment (paper Fig. 5); same pairs for every layer."""
    routing = _check_routing(routing, "routing", min_samples=2)
    encode = _encoder(mode)
    selections = select_experts(routing, cut)
    return np.array(
        [
            _mean_within([encode([s[layer]]) for s in selections], max_pairs, seed, normalize, workers)
            for layer in range(routing.shape[1])
        ]
    )


def cross_distance(
    routing_a: np.ndarray,
    routing_b: np.ndarray,
    cut: float = 0.7,
    mode: str = "paper",
    max_pairs: int | None = None,
    seed: int = 0,
    normalize: bool = False,
    workers: int = 1,
) -> float:
    """Mean distance over all pairs (a, b) of routing_a float[n_a, L, E] x routing_b float[n_b, L, E] (paper Fig. 12), sampled above max_pairs."""
    routing_a, routing_b = _check_routing(routing_a, "routing_a"), _check_routing(routing_b, "routing_b")
    if routing_a.shape[1:] != routing_b.shape[1:]:
        raise ValueError(f"routing_a {routing_a.shape} and routing_b {routing_b.shape} differ in [L, E]")
    seqs_a, seqs_b = _sequences(routing_a, cut, mode), _sequences(routing_b, cut, mode)
    total = len(seqs_a) * len(seqs_b)
    if max_pairs is None or total <= max_pairs:
        matrix = process.cdist(seqs_a, seqs_b, scorer=_scorer(normalize), dtype=_dtype(normalize), workers=workers)
        return float(matrix.mean())
    k = _sample(total, max_pairs, seed)
    return _paired_mean(seqs_a, seqs_b, k // len(seqs_b), k % len(seqs_b), normalize, workers)


def sample_pairs(n: int, max_pairs: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), int64[m], i < j: all n(n-1)/2 pairs in row-major order, or a seeded sample of max_pairs distinct ones."""
    if n < 2:
        raise ValueError(f"n must be >= 2 to form a pair, got {n!r}")
    total = n * (n - 1) // 2
    if max_pairs is None or total <= max_pairs:
        return tuple(a.astype(np.int64) for a in np.triu_indices(n, 1))
    return _unrank_pairs(_sample(total, max_pairs, seed), n)


def _mean_within(seqs: list, max_pairs: int | None, seed: int, normalize: bool, workers: int) -> float:
    n = len(seqs)
    if max_pairs is None or n * (n - 1) // 2 <= max_pairs:
        matrix = process.cdist(seqs, seqs, scorer=_scorer(normalize), dtype=_dtype(normalize), workers=workers)
        return float(matrix.sum(dtype=np.float64) / (n * (n - 1)))  # zero diagonal, each pair counted twice
    i, j = sample_pairs(n, max_pairs, seed)
    return _paired_mean(seqs, seqs, i, j, normalize, workers)


def _paired_mean(seqs_a: list, seqs_b: list, i: np.ndarray, j: np.ndarray, normalize: bool, workers: int) -> float:
    queries, choices = [seqs_a[x] for x in i.tolist()], [seqs_b[x] for x in j.tolist()]
    d = process.cpdist(queries, choices, scorer=_scorer(normalize), dtype=_dtype(normalize), workers=workers)
    return float(d.mean(dtype=np.float64))


def _sample(total: int, max_pairs: int, seed: int) -> np.ndarray:
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs!r}")
    return np.sort(np.random.default_rng(seed).choice(total, size=max_pairs, replace=False)).astype(np.int64)


def _unrank_pairs(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major index k of the pair (i, j), i < j, among n items -> (i, j); exact integer fix-up after a float guess."""
    i = np.floor(((2 * n - 1) - np.sqrt(np.maximum((2 * n - 1) ** 2 - 8.0 * k, 0.0))) / 2).astype(np.int64)
    i = np.clip(i, 0, n - 2)
    i -= _pairs_before(i, n) > k
    i += _pairs_before(i + 1, n) <= k
    return i, k - _pairs_before(i, n) + i + 1


def _pairs_before(i: np.ndarray, n: int) -> np.ndarray:
    return i * (2 * n - i - 1) // 2


def _sequences(routing: np.ndarray, cut: float, mode: str) -> list:
    encode = _encoder(mode)
    return [encode(s) for s in select_experts(routing, cut)]


def _encoder(mode: str):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return pathway_string if mode == "paper" else pathway_tokens


def _scorer(normalize: bool):
    return Levenshtein.normalized_distance if normalize else Levenshtein.distance


def _dtype(normalize: bool):
    return np.float64 if normalize else np.int32


def _check_routing(routing: np.ndarray, name: str, min_samples: int = 1) -> np.ndarray:
    routing = np.asarray(routing)
    if routing.ndim != 3:
        raise ValueError(f"{name} must be 3-D [n, L, E], got shape {routing.shape}")
    if routing.shape[0] < min_samples or routing.shape[1] == 0 or routing.shape[2] == 0:
        raise ValueError(f"{name} needs >= {min_samples} samples and non-empty [L, E], got shape {routing.shape}")
    return routing
