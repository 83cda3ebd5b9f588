"""Threshold ablations (paper App. E.3, Figs. 10-11): memorization groups at each epsilon or delta, recomputed from the
saved loss matrix, and each group's pathway distance after its t*, recomputed from the saved routes (no model run)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from grokmon.claims import controls
from grokmon.metrics import memorization, pathways
from grokmon.metrics.pathways import PathwaySettings

SWEEP_COLUMNS = [
    "epsilon",
    "delta",
    "t_star",
    "n",
    "n_points",
    "spearman",
    "change",
    "relative_change",
    "memorized_fraction",
]


def sweep_settings(
    kind: str, values: Sequence[float], relative: bool, epsilon: float, delta: float, fixed_epsilon: float | None = None
) -> list[tuple[float, float]]:
    """(epsilon, delta) per setting: kind "epsilon" sweeps epsilon (values added to the run's `epsilon` if relative) at
    the run's delta; kind "delta" sweeps delta at `fixed_epsilon` (None: the run's epsilon)."""
    if kind == "epsilon":
        return [(round(epsilon + v, 10) if relative else float(v), float(delta)) for v in values]
    if kind == "delta":
        eps = float(epsilon if fixed_epsilon is None else fixed_epsilon)
        return [(eps, float(v)) for v in values]
    raise ValueError(f"kind: expected 'epsilon' or 'delta', got {kind!r}")


def group_distance_series(
    routing: Sequence[np.ndarray], members: np.ndarray, cut: float, max_pairs: int | None, seed: int
) -> np.ndarray:
    """Mean pairwise pathway distance (paper strings, edits) float[n_ckpt] of the samples `members` in each checkpoint's
    routing float[n, L, E]; NaN everywhere for fewer than 2 members."""
    if len(members) < 2:
        return np.full(len(routing), np.nan)
    return np.array(
        [pathways.mean_pairwise_distance(r[members], cut=cut, max_pairs=max_pairs, seed=seed) for r in routing]
    )


def sweep_table(
    loss: np.ndarray,
    routing: Sequence[np.ndarray],
    steps: Sequence[int],
    settings: Sequence[tuple[float, float]],
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For each (epsilon, delta) of `settings`, from loss float[n_ckpt, n] and each checkpoint's routing float[n, L, E]:
    (one row per Pretrain@t* group with t* < T: its post-t* distance trend (`controls.post_memorization_trend`);
    the groups' distance float per checkpoint in long form: epsilon, delta, t_star, step, distance)."""
    steps = np.asarray(steps)
    if len(routing) != len(steps) or loss.shape[0] != len(steps):
        raise ValueError(
            f"loss has {loss.shape[0]} checkpoints, routing {len(routing)}, steps {len(steps)}: need one each"
        )
    rows, series = [], []
    for epsilon, delta in settings:
        t_index = memorization.memorization_index(loss, epsilon, delta)
        fraction = memorization.memorized_fraction_before_final(t_index, len(steps))
        for t, members in memorization.groups(t_index).items():
            if t >= len(steps) - 1:  # t* = T: memorized at the last checkpoint, no "after" to trend over
                continue
            distance = group_distance_series(routing, members, cut, max_pairs, seed)
            trend = controls.post_memorization_trend(distance, t)
            rows.append(
                {
                    "epsilon": epsilon,
                    "delta": delta,
                    "t_star": int(steps[t]),
                    "n": len(members),
                    **{k: trend[k] for k in SWEEP_COLUMNS[4:8]},
                    "memorized_fraction": fraction,
                }
            )
            series += [
                {"epsilon": epsilon, "delta": delta, "t_star": int(steps[t]), "step": int(s), "distance": d}
                for s, d in zip(steps, distance)
            ]
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS), pd.DataFrame(
        series, columns=["epsilon", "delta", "t_star", "step", "distance"]
    )


def sweep_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (epsilon, delta): groups with a trend (>= 3 points), how many fall (Spearman < 0 and change < 0), the median
    Spearman and median relative change after t*, and the memorized fraction."""
    rows = []
    for (epsilon, delta), rows_ in table.groupby(["epsilon", "delta"], sort=True):
        trended = rows_[rows_["n_points"] >= 3]
        falling = trended[(trended["spearman"] < 0) & (trended["change"] < 0)]
        rows.append(
            {
                "epsilon": epsilon,
                "delta": delta,
                "n_groups": len(trended),
                "n_falling": len(falling),
                "median_spearman": float(trended["spearman"].median()) if len(trended) else np.nan,
                "median_relative_change": float(trended["relative_change"].median()) if len(trended) else np.nan,
                "memorized_fraction": float(rows_["memorized_fraction"].iloc[0]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "epsilon",
            "delta",
            "n_groups",
            "n_falling",
            "median_spearman",
            "median_relative_change",
            "memorized_fraction",
        ],
    )
