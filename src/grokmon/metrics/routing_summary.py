"""A sample set's routing in one dict of means: pathway distance in both modes, length-normalized distance, C_i
and raw adjacent-layer cosine (what the monitor logs and the pathway tables list per group)."""

from __future__ import annotations

import numpy as np

from grokmon.metrics import consistency, pathways
from grokmon.metrics.pathways import PathwaySettings


def routing_metrics(
    routing: np.ndarray,
    weights: np.ndarray,
    *,
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
) -> dict[str, float]:
    """Means over samples of routing float[n, L, E] with router rows weights float[L, E, d]: distance (paper strings,
    edits), distance_experts (edits), distance_normalized (paper strings, 0..1), consistency (paper C_i),
    adjacent_cosine.
    """
    pairs = {"cut": cut, "max_pairs": max_pairs, "seed": seed}
    return {
        "distance": pathways.mean_pairwise_distance(routing, mode="paper", **pairs),
        "distance_experts": pathways.mean_pairwise_distance(routing, mode="experts", **pairs),
        "distance_normalized": pathways.mean_pairwise_distance(routing, mode="paper", normalize=True, **pairs),
        "consistency": float(np.mean(consistency.paper_consistency(routing, weights))),
        "adjacent_cosine": float(np.mean(consistency.mean_adjacent_cosine(routing, weights))),
    }
