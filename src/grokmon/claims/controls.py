"""Controls for the pathway metrics: routing entropy (paper Fig. 13) and the verdicts' tests of trends and correlations.

These tell a real pathway signal from its artifacts (string length, global sharpening of routing,
small samples); `grokmon.claims.verdicts` applies them to the paper's claims (docs/verdicts.md).

Trend tests take checkpoint-to-checkpoint changes (each group's own series, so each group and seed
is its own block) and test their weighted mean (`weighted_mean_test`). Correlation tests take a
metric and an accuracy series float[n_seeds, n_ckpt] (same checkpoints) and test the correlation
both in levels and in first differences (`correlation_test`), so that two series that merely
trend with training time do not pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import special, stats

from grokmon.metrics import correlation, pathways
from grokmon.metrics.pathways import PathwaySettings
from grokmon.metrics.validation import as_array, check_finite, check_int

_SUM_TOLERANCE = 1e-3


def routing_entropy(routing: np.ndarray) -> np.ndarray:
    """Entropy in nats float64[n, L] of each sample's token-averaged full-softmax routing weights routing
    float[n, L, E]."""
    routing = check_finite("routing", as_array("routing", routing, 3, shape_doc="[n, L, E]"))
    if (routing < 0).any():
        raise ValueError(f"routing: has negative values (min {routing.min():.4g}): expected routing probabilities >= 0")
    if (np.abs(routing.sum(axis=-1) - 1) > _SUM_TOLERANCE).any():
        raise ValueError("routing: must sum to 1 per layer (full softmax; top-k weights give no entropy)")
    return special.entr(routing).sum(axis=-1)


def entropy_distance_pairs(
    routing: np.ndarray,
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of routing float[n, L, E]:
    (edit distance float64[p] of the paper strings at `cut`, in edits; mean entropy float64[p], nats).

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


def entropy_distance_correlation(
    routing: np.ndarray,
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
) -> dict:
    """Paper Fig. 13 over pairs of routing float[n, L, E]: correlation of pair edit distance (paper strings, edits) with
    the pair's mean entropy (nats).

    The pairs and values are `entropy_distance_pairs(routing, cut, max_pairs, seed)`. Keys: pearson,
    pearson_p, spearman, spearman_p, n (pairs), r_squared, mean_distance, mean_entropy.
    """
    return entropy_distance_summary(*entropy_distance_pairs(routing, cut, max_pairs, seed))


def entropy_distance_summary(distance: np.ndarray, pair_entropy: np.ndarray) -> dict:
    """`entropy_distance_correlation`'s keys from per-pair distance float[p] (edits)
    and pair mean entropy float[p] (nats)."""
    distance, pair_entropy = np.asarray(distance, dtype=np.float64), np.asarray(pair_entropy, dtype=np.float64)
    out = correlation.correlate(distance, pair_entropy)
    return {
        **out,
        "r_squared": out["pearson"] ** 2,
        "mean_distance": float(distance.mean()),
        "mean_entropy": float(pair_entropy.mean()),
    }


@dataclass(frozen=True)
class MeanTest:
    """Weighted one-sample t-test of a mean change: estimate, its standard error and degrees of freedom."""

    estimate: float
    se: float
    df: int

    def p_value(self, sign: int) -> float:
        """One-sided p of a mean with the sign `sign` (+1 > 0, -1 < 0); NaN when undefined."""
        if not (np.isfinite(self.estimate) and self.df >= 1):
            return np.nan
        if self.se == 0:
            return 0.0 if sign * self.estimate > 0 else 1.0
        return float(special.stdtr(self.df, -sign * self.estimate / self.se))

    def bound(self, sign: int, alpha: float) -> float:
        """One-sided (1 - alpha) upper confidence bound of sign * mean; NaN when undefined."""
        if not (np.isfinite(self.estimate) and self.df >= 1):
            return np.nan
        return float(sign * self.estimate + special.stdtrit(self.df, 1 - alpha) * self.se)


def weighted_mean_test(values: np.ndarray, weights: np.ndarray) -> MeanTest:
    """Weighted least squares t-test of the mean of values float[m] with precision weights float[m] (df m - 1).

    Estimate sum(w x) / sum(w); residual variance s2 = sum(w (x - est)^2) / (m - 1); se = sqrt(s2 / sum(w)).
    With equal weights this is `scipy.stats.ttest_1samp`.
    """
    values, weights = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if values.shape != weights.shape or values.ndim != 1:
        raise ValueError(f"values and weights must be 1-D of one shape, got {values.shape} and {weights.shape}")
    if (weights <= 0).any() or not np.isfinite(values).all():
        raise ValueError("weights must be > 0 and values finite")
    if values.size < 2:
        return MeanTest(float(values[0]) if values.size else np.nan, np.nan, 0)
    estimate = float((weights * values).sum() / weights.sum())
    s2 = float((weights * (values - estimate) ** 2).sum() / (values.size - 1))
    return MeanTest(estimate, float(np.sqrt(s2 / weights.sum())), values.size - 1)


def post_memorization_trend(values: np.ndarray, t_index: int) -> dict:
    """Descriptive trend of a group's metric values float[n_ckpt] from checkpoint index t_index (t*) to the end.

    Non-finite values are dropped (a metric undefined at a checkpoint is no point). Keys:
    spearman (metric vs checkpoint index; NaN with fewer than 3 points, 0 for a constant series: no
    trend), change (last minus first point, NaN with fewer than 2), relative_change (change / |first|,
    NaN if first is 0), start, end (first and last point), n_points. Describes, does not test: the
    verdicts test trends with `weighted_mean_test` on `changes_from`.
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
        return {
            "spearman": np.nan,
            "change": np.nan,
            "relative_change": np.nan,
            "start": np.nan,
            "end": np.nan,
            "n_points": 0,
        }
    start, end = float(points[0]), float(points[-1])
    change = end - start if n >= 2 else np.nan
    rho = np.nan if n < 3 else 0.0 if np.ptp(points) == 0 else float(stats.spearmanr(index, points).statistic)
    relative = change / abs(start) if start != 0 else np.nan
    return {"spearman": rho, "change": change, "relative_change": relative, "start": start, "end": end, "n_points": n}


def changes_from(values: np.ndarray, t_index: int) -> np.ndarray:
    """Checkpoint-to-checkpoint changes float[k - 1] of the k finite values float[n_ckpt] from index t_index on."""
    window = np.asarray(values, dtype=np.float64)[int(t_index) :]
    return np.diff(window[np.isfinite(window)])


@dataclass(frozen=True)
class CorrelationTest:
    """Correlation with accuracy over checkpoints of one or more seeds, in levels and in first differences.

    r, r_diff: mean over seeds of the per-seed Pearson r of the levels and of the first differences;
    p_levels, p_diff: per sign, the one-sided Pearson p (t distribution, n - 2 df), combined over
    seeds by Stouffer's method; z, z_diff: per-seed Fisher z of the levels' and the differences' r (for the
    intervals); n: checkpoints (n - 1 differences).
    """

    r: float
    r_diff: float
    p_levels: dict
    p_diff: dict
    z: np.ndarray
    z_diff: np.ndarray
    n: int

    def p_value(self, sign: int) -> float:
        """p of the intersection-union test: levels AND first differences correlate with the sign (max of the two)."""
        return float(np.maximum(self.p_levels[sign], self.p_diff[sign]))  # NaN (no test) propagates

    def interval(self, level: float, differences: bool = False) -> tuple[float, float]:
        """Two-sided CI of r (of the first differences' r with `differences`) at `level`: 1 seed, Fisher z
        +- z_q / sqrt(points - 3); more, t over the seeds' Fisher z."""
        z, points = (self.z_diff, self.n - 1) if differences else (self.z, self.n)
        z = z[np.isfinite(z)]
        if z.size == 0 or (z.size == 1 and points <= 3):
            return (np.nan, np.nan)
        if z.size == 1:
            half = special.ndtri((1 + level) / 2) / np.sqrt(points - 3)
        else:
            half = special.stdtrit(z.size - 1, (1 + level) / 2) * z.std(ddof=1) / np.sqrt(z.size)
        return (float(np.tanh(z.mean() - half)), float(np.tanh(z.mean() + half)))

    def bound(self, sign: int, alpha: float, differences: bool = False) -> float:
        """One-sided (1 - alpha) upper confidence bound of sign * r (of the differences' r with `differences`)."""
        low, high = self.interval(1 - 2 * alpha, differences)
        return high if sign > 0 else -low

    def describe_interval(self) -> str:
        """What the interval is and what it covers, for the evidence text."""
        seeds = int(np.isfinite(self.z).sum())
        if seeds <= 1:
            return (
                f"Fisher z over {self.n} checkpoints of 1 seed: covers this run's r if its checkpoints were "
                "independent, not seed-to-seed variation"
            )
        return f"t over {seeds} seeds' Fisher z (df {seeds - 1}): covers the mean r over seeds"


def correlation_test(metric: np.ndarray, accuracy: np.ndarray) -> CorrelationTest:
    """`CorrelationTest` of metric vs accuracy, float[n_seeds, n_ckpt] (n_ckpt >= 4);
    seeds with a constant series are left out."""
    metric, accuracy = (
        np.atleast_2d(np.asarray(metric, dtype=np.float64)),
        np.atleast_2d(np.asarray(accuracy, dtype=np.float64)),
    )
    if metric.shape != accuracy.shape or metric.shape[-1] < 4:
        raise ValueError(
            f"metric and accuracy must share a shape [n_seeds, n_ckpt >= 4], got {metric.shape}, {accuracy.shape}"
        )
    if not (np.isfinite(metric).all() and np.isfinite(accuracy).all()):
        raise ValueError("metric and accuracy must be finite (drop undefined checkpoints first)")
    r, p_greater = _pearson(metric, accuracy)
    r_diff, p_diff_greater = _pearson(np.diff(metric, axis=-1), np.diff(accuracy, axis=-1))
    return CorrelationTest(
        r=_nanmean(r),
        r_diff=_nanmean(r_diff),
        p_levels={1: stouffer(p_greater), -1: stouffer(1 - p_greater)},
        p_diff={1: stouffer(p_diff_greater), -1: stouffer(1 - p_diff_greater)},
        z=_fisher_z(r),
        z_diff=_fisher_z(r_diff),
        n=metric.shape[-1],
    )


def _fisher_z(r: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of x, y float[S, m]: Pearson r and its one-sided p for r > 0; NaN for a constant row.

    The p is scipy.stats.pearsonr's (t = r sqrt((m - 2) / (1 - r^2)), m - 2 df), computed for all
    rows at once with scipy.special.stdtr (pearsonr's overhead dominates the calibration's time).
    """
    xc, yc = x - x.mean(axis=-1, keepdims=True), y - y.mean(axis=-1, keepdims=True)
    flat = _flat(x) | _flat(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip((xc * yc).sum(axis=-1) / np.sqrt((xc**2).sum(axis=-1) * (yc**2).sum(axis=-1)), -1.0, 1.0)
        df = x.shape[-1] - 2
        t = r * np.sqrt(df / np.maximum(1 - r**2, 1e-300))
    r = np.where(flat, np.nan, r)
    return r, np.where(flat, np.nan, special.stdtr(df, -t))


def _flat(x: np.ndarray) -> np.ndarray:
    """bool[S]: rows of x float[S, m] constant up to rounding (the differences of np.linspace are not exactly equal)."""
    return np.ptp(x, axis=-1) <= 1e-9 * np.maximum(np.abs(x).max(axis=-1), 1e-300)


def stouffer(p: Sequence[float]) -> float:
    """Stouffer combination of the finite one-sided p-values (as scipy.stats.combine_pvalues(method="stouffer"));
    one p is itself, none NaN."""
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size <= 1:
        return float(p[0]) if p.size else np.nan
    z = -special.ndtri(np.clip(p, 1e-300, 1 - 1e-16))
    return float(special.ndtr(-z.sum() / np.sqrt(p.size)))


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan
