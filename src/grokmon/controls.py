"""Controls for the pathway metrics: routing entropy (paper Fig. 13), post-memorization trends, bootstrap CIs and permutation tests.

These tell a real pathway signal from its artifacts (string length, global sharpening of routing,
small samples); `grokmon.verdicts` applies them to the paper's claims.

Correlations here are of one metric series against one accuracy series across checkpoints, either
float[n_ckpt] (one run) or float[n_seeds, n_ckpt] (one row per training seed, same checkpoints).
For 2-D input the statistic is the mean over seeds of the per-seed correlation (seeds whose series
is constant are left out), the bootstrap resamples seeds, and the permutation test shuffles the
checkpoint order within every seed independently.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import special, stats

from grokmon import correlation, pathways
from grokmon.validation import check_int

METHODS = ("pearson", "spearman")
CI_LEVEL = 0.95
_SUM_TOLERANCE = 1e-3
_TIE_TOLERANCE = 1e-12


def routing_entropy(routing: np.ndarray) -> np.ndarray:
    """Entropy in nats float64[n, L] of each sample's token-averaged full-softmax routing weights routing float[n, L, E]."""
    routing = np.asarray(routing, dtype=np.float64)
    if routing.ndim != 3 or routing.size == 0:
        raise ValueError(f"routing must be a non-empty [n, L, E] array, got shape {routing.shape}")
    if not np.isfinite(routing).all() or (routing < 0).any():
        raise ValueError("routing must be finite and >= 0 (routing probabilities)")
    if (np.abs(routing.sum(axis=-1) - 1) > _SUM_TOLERANCE).any():
        raise ValueError("routing must sum to 1 per layer (full softmax; top-k weights give no entropy)")
    return special.entr(routing).sum(axis=-1)


def entropy_distance_pairs(routing: np.ndarray, cut: float = 0.7, max_pairs: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of routing float[n, L, E]: (edit distance float64[p] of the paper strings at `cut`, in edits; mean entropy float64[p], nats).

    The pairs are `pathways.sample_pairs(n, max_pairs, seed)` in its order, the same ones
    `mean_pairwise_distance` averages with these arguments. A pair's entropy is the mean of its two
    samples' `routing_entropy`, each averaged over layers.
    """
    entropy = routing_entropy(routing).mean(axis=1)
    i, j = pathways.sample_pairs(len(entropy), max_pairs, seed)
    strings = pathways.pathway_strings(routing, cut)
    distance = process.cpdist(
        [strings[a] for a in i.tolist()], [strings[b] for b in j.tolist()], scorer=Levenshtein.distance, dtype=np.int64
    ).astype(np.float64)
    return distance, (entropy[i] + entropy[j]) / 2


def entropy_distance_correlation(routing: np.ndarray, cut: float = 0.7, max_pairs: int | None = None, seed: int = 0) -> dict:
    """Paper Fig. 13 over pairs of routing float[n, L, E]: correlation of pair edit distance (paper strings, edits) with the pair's mean entropy (nats).

    The pairs and values are `entropy_distance_pairs(routing, cut, max_pairs, seed)`. Keys: pearson,
    pearson_p, spearman, spearman_p, n (pairs), r_squared, mean_distance, mean_entropy.
    """
    return entropy_distance_summary(*entropy_distance_pairs(routing, cut, max_pairs, seed))


def entropy_distance_summary(distance: np.ndarray, pair_entropy: np.ndarray) -> dict:
    """`entropy_distance_correlation`'s keys from per-pair distance float[p] (edits) and pair mean entropy float[p] (nats)."""
    distance, pair_entropy = np.asarray(distance, dtype=np.float64), np.asarray(pair_entropy, dtype=np.float64)
    out = correlation.correlate(distance, pair_entropy)
    return {**out, "r_squared": out["pearson"] ** 2, "mean_distance": float(distance.mean()), "mean_entropy": float(pair_entropy.mean())}


def post_memorization_trend(values: np.ndarray, t_index: int) -> dict:
    """Trend of a group's metric values float[n_ckpt] from checkpoint index t_index (t*) to the end.

    Non-finite values are dropped (a metric undefined at a checkpoint is no point). Keys:
    spearman (metric vs checkpoint index; NaN with fewer than 3 points, 0 for a constant series: no
    trend), change (last minus first point, NaN with fewer than 2), relative_change (change / |first|,
    NaN if first is 0), start, end (first and last point), n_points.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {values.shape}")
    if check_int("t_index", t_index) >= values.size or t_index < 0:
        raise ValueError(f"t_index must be an integer index into values (0..{values.size - 1}), got {t_index!r}")
    window = values[int(t_index) :]
    index = np.flatnonzero(np.isfinite(window))
    points = window[index]
    n = int(points.size)
    if n == 0:
        return {"spearman": np.nan, "change": np.nan, "relative_change": np.nan, "start": np.nan, "end": np.nan, "n_points": 0}
    start, end = float(points[0]), float(points[-1])
    change = end - start if n >= 2 else np.nan
    if n < 3:
        rho = np.nan
    elif np.ptp(points) == 0:
        rho = 0.0
    else:
        rho = float(stats.spearmanr(index, points).statistic)
    relative = change / abs(start) if start != 0 else np.nan
    return {"spearman": rho, "change": change, "relative_change": relative, "start": start, "end": end, "n_points": n}


def correlation_estimate(metric: np.ndarray, accuracy: np.ndarray, method: str = "pearson") -> float:
    """Correlation of metric with accuracy, both float[n_ckpt] (NaN if constant) or float[n_seeds, n_ckpt] (mean of per-seed r)."""
    metric, accuracy = _check_pair(metric, accuracy, method)
    return _statistic(_row_correlations(metric, accuracy, method))


def bootstrap_correlation(
    metric: np.ndarray, accuracy: np.ndarray, n_boot: int = 1000, seed: int = 0, method: str = "pearson"
) -> tuple[float, float]:
    """Percentile 95% CI (low, high) of `correlation_estimate` for metric and accuracy float[n_ckpt] or float[n_seeds, n_ckpt].

    1-D: resamples checkpoints (metric, accuracy pairs) with replacement; resamples in which either
    series is constant have no correlation and are dropped. 2-D: resamples seeds with replacement.
    (NaN, NaN) when no resample has a defined value, or (2-D) fewer than 2 seeds have one.
    """
    metric, accuracy = _check_pair(metric, accuracy, method)
    _check_count(n_boot, "n_boot")
    rng = np.random.default_rng(seed)
    if metric.ndim == 1:
        idx = rng.integers(0, metric.size, size=(n_boot, metric.size))
        boot = _row_correlations(metric[idx], accuracy[idx], method)
    else:
        per_seed = _row_correlations(metric, accuracy, method)
        per_seed = per_seed[np.isfinite(per_seed)]
        if per_seed.size < 2:
            return (np.nan, np.nan)
        boot = per_seed[rng.integers(0, per_seed.size, size=(n_boot, per_seed.size))].mean(axis=1)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return (np.nan, np.nan)
    tail = 100 * (1 - CI_LEVEL) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return (float(low), float(high))


def permutation_pvalue(metric: np.ndarray, accuracy: np.ndarray, n_perm: int = 1000, seed: int = 0, method: str = "pearson") -> float:
    """Two-sided permutation p-value of `correlation_estimate` for metric and accuracy float[n_ckpt] or float[n_seeds, n_ckpt].

    The metric's checkpoint order is shuffled (within each seed for 2-D). 1-D with n! <= n_perm
    enumerates all n! orders: exact p = #{|r_perm| >= |r|} / n! (a strictly monotone pair of 5
    points gives 2/120). Otherwise (1 + #{|r_perm| >= |r|}) / (1 + n_perm) over seeded random orders.
    NaN when the observed correlation is undefined.
    """
    metric, accuracy = _check_pair(metric, accuracy, method)
    _check_count(n_perm, "n_perm")
    observed = _statistic(_row_correlations(metric, accuracy, method))
    if np.isnan(observed):
        return np.nan
    n = metric.shape[-1]
    exact = metric.ndim == 1 and math.factorial(n) <= n_perm
    if exact:
        orders = np.array(list(itertools.permutations(range(n))))
    else:
        orders = np.random.default_rng(seed).permuted(np.broadcast_to(np.arange(n), (n_perm, *metric.shape)), axis=-1)
    shuffled = np.take_along_axis(np.broadcast_to(metric, orders.shape), orders, axis=-1)
    r = _row_correlations(shuffled, np.broadcast_to(accuracy, orders.shape), method)
    stat = r if metric.ndim == 1 else _nanmean_rows(r)
    hits = int((np.abs(stat) >= abs(observed) - _TIE_TOLERANCE).sum())
    return hits / len(orders) if exact else (1 + hits) / (1 + n_perm)


def _row_correlations(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Correlation along the last axis of x and y float[..., n] -> float[...]; NaN where a row is constant."""
    if method == "spearman":
        x, y = stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", stats.NearConstantInputWarning)
        return np.asarray(stats.pearsonr(x, y, axis=-1).statistic, dtype=np.float64)


def _statistic(r: np.ndarray) -> float:
    """The estimate from per-seed correlations: r itself (0-D) or the mean over defined seeds."""
    return float(r) if r.ndim == 0 else float(_nanmean_rows(r[None])[0])


def _nanmean_rows(r: np.ndarray) -> np.ndarray:
    finite = np.isfinite(r)
    count = finite.sum(axis=-1)
    total = np.where(finite, r, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _check_pair(metric: np.ndarray, accuracy: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    metric, accuracy = np.asarray(metric, dtype=np.float64), np.asarray(accuracy, dtype=np.float64)
    if metric.ndim not in (1, 2) or metric.size == 0:
        raise ValueError(f"metric must be a non-empty [n_ckpt] or [n_seeds, n_ckpt] array, got shape {metric.shape}")
    if accuracy.shape != metric.shape:
        raise ValueError(f"accuracy shape {accuracy.shape} differs from metric shape {metric.shape}")
    if metric.shape[-1] < 3:
        raise ValueError(f"metric needs >= 3 checkpoints for a correlation, got {metric.shape[-1]}")
    if not (np.isfinite(metric).all() and np.isfinite(accuracy).all()):
        raise ValueError("metric and accuracy must be finite (drop undefined checkpoints first)")
    return metric, accuracy


def _check_count(value: int, name: str) -> None:
    check_int(name, value, 1)
