"""Correlating a monitoring metric with test accuracy across checkpoints (paper Sec. 4.3, Table 1)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from grokmon.metrics.validation import as_array, check_choice, check_finite, check_int, check_number


def correlate(metric: np.ndarray, accuracy: np.ndarray) -> dict:
    """Pearson and Spearman r with two-sided p-values (keys pearson, pearson_p, spearman, spearman_p, n) of metric
    float[n] vs accuracy float[n].

    With n < 3 or a constant series the four values are NaN (n is still set).
    """
    metric = _check_series(metric, "metric")
    accuracy = _check_series(accuracy, "accuracy")
    if metric.shape != accuracy.shape:
        raise ValueError(f"metric has {metric.size} points, accuracy {accuracy.size}")
    n = int(metric.size)
    if n < 3 or np.ptp(metric) == 0 or np.ptp(accuracy) == 0:
        return {"pearson": np.nan, "pearson_p": np.nan, "spearman": np.nan, "spearman_p": np.nan, "n": n}
    pearson, spearman = stats.pearsonr(metric, accuracy), stats.spearmanr(metric, accuracy)
    return {
        "pearson": float(pearson.statistic),
        "pearson_p": float(pearson.pvalue),
        "spearman": float(spearman.statistic),
        "spearman_p": float(spearman.pvalue),
        "n": n,
    }


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average float64[n] of x float[n]: y[t] = mean(x[max(0, t - window + 1) : t + 1])."""
    x = _check_series(x, "x")
    window = min(check_int("window", window, 1), x.size)  # a window longer than x averages all of x so far
    csum = np.concatenate([[0.0], np.cumsum(x)])
    t = np.arange(x.size)
    lo = np.maximum(0, t - window + 1)
    return (csum[t + 1] - csum[lo]) / (t + 1 - lo)


CHECKPOINT_WINDOWS = ("after_rise", "last", "all")


def sustained_rise_start(accuracy: np.ndarray, floor_fraction: float = 0.1) -> int:
    """Index where accuracy float[n] begins its sustained rise: the last index in its floor band,
    a last-point dip ignored.

    The floor band is accuracy <= min + floor_fraction * (max - min). The last checkpoint in the band
    right after one above it is a single late dip and does not end the rise, so one bad final
    checkpoint cannot collapse the window to a point (an earlier return to the band restarts the
    rise). The checkpoints from the start on (`accuracy[start:]`, the start included) are the rise
    the paper correlates over. A constant curve gives 0.
    """
    accuracy = _check_series(accuracy, "accuracy")
    floor_fraction = check_number("floor_fraction", floor_fraction, 0, 1, high_open=True)
    if np.ptp(accuracy) == 0:
        return 0
    low = accuracy <= accuracy.min() + floor_fraction * np.ptp(accuracy)
    if low.size >= 2 and low[-1] and not low[-2] and low[:-1].any():
        low[-1] = False
    return int(np.flatnonzero(low)[-1])


def checkpoint_window(
    accuracy: np.ndarray, mode: str = "after_rise", *, last_k: int = 5, rise_floor: float = 0.1
) -> int:
    """First index of the checkpoints correlated with accuracy float[n] (the window is [start:]).

    mode: `after_rise` (from the sustained rise on, `sustained_rise_start` with floor_fraction
    rise_floor), `last` (the last `last_k` checkpoints; the paper's Spearman values imply 5) or
    `all` (0).
    """
    accuracy = _check_series(accuracy, "accuracy")
    check_choice("mode", mode, CHECKPOINT_WINDOWS)
    if mode == "after_rise":
        return sustained_rise_start(accuracy, check_number("rise_floor", rise_floor, 0, 1, high_open=True))
    if mode == "last":
        return max(0, accuracy.size - check_int("last_k", last_k, 2))
    return 0


def _check_series(x: np.ndarray, name: str) -> np.ndarray:
    return check_finite(name, as_array(name, x, 1))
