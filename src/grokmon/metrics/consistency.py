"""Pathway consistency (paper Sec. 4.2): routing embeddings and their alignment across adjacent layers."""

from __future__ import annotations

import numpy as np

from grokmon.metrics.validation import as_array, check_finite, check_number, check_routing

_SAFE_PEAK = (1e-150, 1e150)  # max |e| of a vector whose squared norm float64 holds without overflow or underflow
_CHUNK = 256  # samples per block when going from routing to cosines (bounds memory at OLMoE's d = 2048)


def routing_embeddings(routing: np.ndarray, router_weights: np.ndarray) -> np.ndarray:
    """e float32[n, L, d], e[i, l] = sum_k routing[i, l, k] * router_weights[l, k],
    from routing [n, L, E] and router rows [L, E, d].

    routing holds routing probabilities (`validation.check_routing`; a layer summing to less than 1 is renormalized).
    """
    routing, router_weights = _check(routing, router_weights)
    return np.matmul(routing.transpose(1, 0, 2), router_weights).transpose(1, 0, 2).astype(np.float32)


def adjacent_cosines(embeddings: np.ndarray) -> np.ndarray:
    """cos(e[i, l], e[i, l+1]) float64[n, L-1] from embeddings [n, L, d]; a zero vector has cosine 0."""
    e = check_finite("embeddings", as_array("embeddings", embeddings, 3, shape_doc="[n, L, d]"))
    if e.shape[1] < 2:
        raise ValueError(f"embeddings need L >= 2 layers for adjacent pairs, got L={e.shape[1]}")
    # cosines are scale-free: a vector whose squares would overflow or underflow float64 is scaled to max |e| = 1
    # (float32 embeddings never are, so their cosines are computed as they are)
    peak = np.abs(e).max(axis=2, keepdims=True)
    e = e / np.where((peak > _SAFE_PEAK[1]) | ((peak > 0) & (peak < _SAFE_PEAK[0])), peak, 1.0)
    norms = np.linalg.norm(e, axis=2)
    dots = np.einsum("nld,nld->nl", e[:, :-1], e[:, 1:])
    denom = norms[:, :-1] * norms[:, 1:]
    return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)


def paper_consistency(routing: np.ndarray, router_weights: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Paper C_i float64[n] = 1 - (1/(L-1)) sum_l cos_l / (max_l cos_l + eps),
    from routing [n, L, E] and router rows [L, E, d].

    Direction: by this formula C_i is 0 when every adjacent cosine equals the sample's own maximum
    and grows as some layer transitions fall below it, so a HIGHER C_i means LESS uniform
    (more erratic) transitions, as the paper's text says, even though the paper also reports
    consistency "increasing" after memorization and treats positive correlation with accuracy as
    the good sign. See `mean_adjacent_cosine` for the direction-unambiguous raw value.
    Range (the formula as written, for any router rows): C_i is in [0, 1] when the sample's adjacent cosines are
    all >= 0 (1 when they are all 0), above 1 when some are negative while the maximum is >= 0 (about
    mean|cos| / eps when the maximum is exactly 0), and <= 0 when even the maximum is below -eps (every transition
    anti-aligned). eps must be finite and > 0.
    """
    eps = check_number("eps", eps, 0, low_open=True)
    cos = _cosines(routing, router_weights)
    return 1.0 - (cos / (cos.max(axis=1, keepdims=True) + eps)).mean(axis=1)


def mean_adjacent_cosine(routing: np.ndarray, router_weights: np.ndarray) -> np.ndarray:
    """Raw mean over l of cos(e_l, e_{l+1}), float64[n] in [-1, 1] (higher = more aligned),
    from routing [n, L, E] and router rows [L, E, d]."""
    return _cosines(routing, router_weights).mean(axis=1)


def _cosines(routing: np.ndarray, router_weights: np.ndarray) -> np.ndarray:
    routing, router_weights = _check(routing, router_weights)
    blocks = [
        adjacent_cosines(routing_embeddings(routing[s : s + _CHUNK], router_weights))
        for s in range(0, routing.shape[0], _CHUNK)
    ]
    return np.concatenate(blocks, axis=0)


def _check(routing: np.ndarray, router_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    routing = check_routing("routing", routing)
    router_weights = as_array("router_weights", router_weights, 3, dtype=None, shape_doc="[L, E, d]")
    if np.abs(check_finite("router_weights", router_weights)).max() > np.finfo(np.float32).max:
        raise ValueError("router_weights: values beyond the float32 range (embeddings are float32)")
    if routing.shape[1:] != router_weights.shape[:2]:
        raise ValueError(
            f"routing [n, L, E] = {routing.shape} and router_weights [L, E, d] = {router_weights.shape} "
            "disagree on L, E"
        )
    if routing.shape[1] < 2:
        raise ValueError(f"routing needs L >= 2 layers for adjacent pairs, got L={routing.shape[1]}")
    return routing, router_weights
