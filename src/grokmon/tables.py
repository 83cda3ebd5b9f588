"""The workflow's tables, assembled from the metric modules: pathway groups, series, Table 1, matching."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from grokmon import consistency, controls, correlation, matching, pathways

# Table 1 rows: series column -> the paper's metric name.
TABLE1_METRICS = {
    "distance": "Pathway distance",
    "consistency": "Pathway consistency",
    "train_loss": "Training loss",
    "train_loss_ma": "Training loss (MA)",
    "validation_loss": "Validation loss",
    "distance_experts": "Pathway distance (experts mode)",
    "distance_normalized": "Pathway distance (length-normalized)",
    "adjacent_cosine": "Raw adjacent-layer cosine",
}


def routing_metrics(
    routing: np.ndarray,
    weights: np.ndarray,
    *,
    cut: float = 0.7,
    max_pairs: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Means over samples of routing float[n, L, E] with router rows weights float[L, E, d]: distance (paper strings,
    edits), distance_experts (edits), distance_normalized (paper strings, 0..1), consistency (paper C_i), adjacent_cosine.
    """
    pairs = {"cut": cut, "max_pairs": max_pairs, "seed": seed}
    return {
        "distance": pathways.mean_pairwise_distance(routing, mode="paper", **pairs),
        "distance_experts": pathways.mean_pairwise_distance(routing, mode="experts", **pairs),
        "distance_normalized": pathways.mean_pairwise_distance(routing, mode="paper", normalize=True, **pairs),
        "consistency": float(np.mean(consistency.paper_consistency(routing, weights))),
        "adjacent_cosine": float(np.mean(consistency.mean_adjacent_cosine(routing, weights))),
    }


def sample_sets(routing: Mapping[str, np.ndarray], t_star: pd.DataFrame) -> list[tuple[str, int, np.ndarray]]:
    """(label, t* step or -1, routing float[n, L, E]) for every Pretrain@t* group and the control sets."""
    train = routing["train"]
    sets = []
    memorized = t_star["t_star"].to_numpy() >= 0
    for step, members in t_star[memorized].groupby("t_star")["sample"]:
        sets.append((f"Pretrain@{step}", int(step), train[members.to_numpy()]))
    sets.append(("memorized", -1, train[memorized]))
    sets.append(("train", -1, train))
    sets.append(("validation", -1, routing["validation"]))
    sets.append(("test", -1, routing["test"]))
    return sets


def pathway_tables(
    routing: Mapping[str, np.ndarray],
    router_weights: np.ndarray,
    t_star: pd.DataFrame,
    cut: float = 0.7,
    cut_sweep: Sequence[float] = (),
    max_pairs: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per sample set: both distance modes, normalized distance, C_i, raw cosine, length, entropy; and per-layer distances."""
    rows, layer_rows = [], []
    for label, step, r in sample_sets(routing, t_star):
        row = {"group": label, "t_star": step, "n": len(r)}
        if len(r) >= 2:
            row |= routing_metrics(r, router_weights, cut=cut, max_pairs=max_pairs, seed=seed)
            for c in cut_sweep:  # the main cut's distance is already in the row
                row[f"distance_cut{c:g}"] = (
                    row["distance"] if c == cut else pathways.mean_pairwise_distance(r, mode="paper", cut=c, max_pairs=max_pairs, seed=seed)
                )
            for layer, d in enumerate(pathways.per_layer_distances(r, cut=cut, mode="paper", max_pairs=max_pairs, seed=seed)):
                layer_rows.append({"group": label, "t_star": step, "layer": layer, "distance": d})
        if len(r) >= 1:
            row["path_length"] = float(np.mean([len(s) for s in pathways.pathway_strings(r, cut=cut)]))
            row["entropy"] = float(np.mean(controls.routing_entropy(r)))
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(layer_rows, columns=["group", "t_star", "layer", "distance"])


def cross_domain_table(
    routing: Mapping[str, np.ndarray], cut: float = 0.7, max_pairs: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """Mean pathway distance within each domain and across each pair of domains (paper Fig. 12), both string forms."""
    rows = []
    names = list(routing)
    kwargs = {"cut": cut, "max_pairs": max_pairs, "seed": seed}
    for i, a in enumerate(names):
        for b in names[i:]:
            if a == b:
                distance = pathways.mean_pairwise_distance(routing[a], **kwargs)
                normalized = pathways.mean_pairwise_distance(routing[a], normalize=True, **kwargs)
            else:
                distance = pathways.cross_distance(routing[a], routing[b], **kwargs)
                normalized = pathways.cross_distance(routing[a], routing[b], normalize=True, **kwargs)
            rows.append({"domain_a": a, "domain_b": b, "within": a == b, "distance": distance, "distance_normalized": normalized})
    return pd.DataFrame(rows)


def domain_series(
    steps: np.ndarray,
    accuracy: np.ndarray,
    train_loss: np.ndarray,
    t_star: pd.DataFrame,
    validation_loss: np.ndarray,
    pathway_groups: pd.DataFrame,
    window: int = 3,
) -> pd.DataFrame:
    """One row per checkpoint: accuracy, training/validation loss, and the memorized set's pathway metrics."""
    if not (len(steps) == len(accuracy) == len(train_loss) == len(validation_loss)):
        raise ValueError("steps, accuracy, train_loss and validation_loss need one entry per checkpoint")
    mean_train_loss = train_loss.mean(axis=1)
    series = pd.DataFrame(
        {
            "step": steps,
            "accuracy": accuracy,
            "train_loss": mean_train_loss,
            "train_loss_ma": correlation.moving_average(mean_train_loss, window),
            "validation_loss": validation_loss,
            "memorized_fraction": [(t_star["t_star"].between(0, s)).mean() for s in steps],
        }
    )
    metrics = ["distance", "distance_experts", "distance_normalized", "consistency", "adjacent_cosine", "path_length", "entropy"]
    for prefix, group in (("", "memorized"), ("validation_", "validation"), ("test_", "test")):
        for metric in metrics:
            series[prefix + metric] = [_group_value(pathway_groups[pathway_groups["step"] == s], group, metric) for s in steps]
    return series


def _group_value(groups: pd.DataFrame, group: str, metric: str) -> float:
    row = groups[groups["group"] == group]
    if row.empty or metric not in row or pd.isna(row[metric].iloc[0]):
        return float("nan")
    return float(row[metric].iloc[0])


def correlation_table(series: Mapping[str, pd.DataFrame], checkpoints: str = "after_rise") -> pd.DataFrame:
    """Table 1 in long form: Pearson/Spearman (with p-values) of each metric vs accuracy, per domain."""
    if checkpoints not in ("all", "after_rise"):
        raise ValueError(f"checkpoints must be 'all' or 'after_rise', got {checkpoints!r}")
    rows = []
    for domain, s in series.items():
        accuracy = s["accuracy"].to_numpy()
        start = correlation.sustained_rise_start(accuracy) if checkpoints == "after_rise" else 0
        kept = s.iloc[start:]
        for column, name in TABLE1_METRICS.items():
            stats = correlation.correlate(kept[column].to_numpy(), kept["accuracy"].to_numpy())
            rows.append({"domain": domain, "metric": name, "column": column, "from_step": int(kept["step"].iloc[0]), **stats})
    return pd.DataFrame(rows)


def matching_table(
    t_star: pd.DataFrame,
    t_sharp: pd.DataFrame,
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
) -> pd.DataFrame:
    """Matched (Pretrain@p, Test@q) pairs with similarity and delay q - p; empty when either side has no group."""
    columns = ["train_step", "test_step", "similarity", "delay", "n_train", "n_test"]
    train_groups = {int(s): g["sample"].to_numpy() for s, g in t_star[t_star["t_star"] >= 0].groupby("t_star")}
    test_groups = {int(s): g["doc_id"].to_numpy() for s, g in t_sharp[t_sharp["t_sharp"] >= 0].groupby("t_sharp")}
    if not train_groups or not test_groups:
        return pd.DataFrame(columns=columns)
    train_emb = embed(list(train_texts))
    test_emb = embed(list(test_texts))
    similarity = matching.group_similarity([train_emb[i] for i in train_groups.values()], [test_emb[i] for i in test_groups.values()])
    table = matching.match_table(list(train_groups), list(test_groups), similarity)
    table["n_train"] = [len(train_groups[s]) for s in table["train_step"]]
    table["n_test"] = [len(test_groups[s]) for s in table["test_step"]]
    return table[columns]
