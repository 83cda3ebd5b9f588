"""The workflow's tables, assembled from the metric modules: pathway groups, series, Tables 1 and 4, matching."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from grokmon.claims import controls
from grokmon.metrics import correlation, matching, pathways
from grokmon.metrics.memorization import groups
from grokmon.metrics.pathways import PathwaySettings
from grokmon.metrics.routing_summary import routing_metrics

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


def sample_sets(
    routing: Mapping[str, np.ndarray], t_star: pd.DataFrame, min_group_size: int = 5
) -> list[tuple[str, int, np.ndarray]]:
    """(label, t* step or -1, routing float[n, L, E]) for every Pretrain@t* group of at least min_group_size samples,
    then the pooled sets: memorized (every sample with t* >= 0, whatever its group's size), train (all tracked
    samples), validation, test."""
    train = routing["train"]
    steps, samples = t_star["t_star"].to_numpy(), t_star["sample"].to_numpy()
    sets = [(f"Pretrain@{step}", step, train[samples[rows]]) for step, rows in groups(steps, min_group_size).items()]
    sets.append(("memorized", -1, train[samples[steps >= 0]]))
    sets.append(("train", -1, train))
    sets.append(("validation", -1, routing["validation"]))
    sets.append(("test", -1, routing["test"]))
    return sets


def pathway_tables(
    routing: Mapping[str, np.ndarray],
    router_weights: np.ndarray,
    t_star: pd.DataFrame,
    cut: float = PathwaySettings.cut,
    cut_sweep: Sequence[float] = (),
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
    min_group_size: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per sample set of `sample_sets`: both distance modes, normalized distance, C_i, raw cosine, length, entropy; and
    per-layer distances."""
    rows, layer_rows = [], []
    for label, step, r in sample_sets(routing, t_star, min_group_size):
        row = {"group": label, "t_star": step, "n": len(r)}
        if len(r) >= 2:
            row |= routing_metrics(r, router_weights, cut=cut, max_pairs=max_pairs, seed=seed)
            for c in cut_sweep:  # the main cut's distance is already in the row
                row[f"distance_cut{c:g}"] = (
                    row["distance"]
                    if c == cut
                    else pathways.mean_pairwise_distance(r, mode="paper", cut=c, max_pairs=max_pairs, seed=seed)
                )
            for layer, d in enumerate(
                pathways.per_layer_distances(r, cut=cut, mode="paper", max_pairs=max_pairs, seed=seed)
            ):
                layer_rows.append({"group": label, "t_star": step, "layer": layer, "distance": d})
        if len(r) >= 1:
            row["path_length"] = float(np.mean([len(s) for s in pathways.pathway_strings(r, cut=cut)]))
            row["entropy"] = float(np.mean(controls.routing_entropy(r)))
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(layer_rows, columns=["group", "t_star", "layer", "distance"])


def cross_domain_table(
    routing: Mapping[str, np.ndarray],
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = PathwaySettings.max_pairs,
    seed: int = PathwaySettings.seed,
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
            rows.append(
                {
                    "domain_a": a,
                    "domain_b": b,
                    "within": a == b,
                    "distance": distance,
                    "distance_normalized": normalized,
                }
            )
    return pd.DataFrame(rows)


LOSS_SAMPLES = ("tracked", "memorized")  # config correlation.loss_samples


def domain_series(
    steps: np.ndarray,
    accuracy: np.ndarray,
    train_loss: np.ndarray,
    t_star: pd.DataFrame,
    validation_loss: np.ndarray,
    pathway_groups: pd.DataFrame,
    window: int = 3,
    loss_samples: str = "tracked",
) -> pd.DataFrame:
    """One row per checkpoint: accuracy, training/validation loss, and the memorized set's pathway metrics.

    train_loss float[n_ckpt, n_tracked] (nats) is averaged over all tracked samples (loss_samples "tracked") or over
    the memorized ones (t* >= 0, "memorized"; NaN when none is); the pathway columns always describe the pooled
    memorized set (`validation_`/`test_` columns: the held-out items).
    """
    if not (len(steps) == len(accuracy) == len(train_loss) == len(validation_loss)):
        raise ValueError("steps, accuracy, train_loss and validation_loss need one entry per checkpoint")
    memorized = t_star["sample"].to_numpy()[t_star["t_star"].to_numpy() >= 0]
    averaged = train_loss if _check_loss_samples(loss_samples) == "tracked" else train_loss[:, memorized]
    if averaged.shape[1]:
        mean_train_loss = averaged.mean(axis=1)
        moving = correlation.moving_average(mean_train_loss, window)
    else:
        mean_train_loss = moving = np.full(len(steps), np.nan)
    series = pd.DataFrame(
        {
            "step": steps,
            "accuracy": accuracy,
            "train_loss": mean_train_loss,
            "train_loss_ma": moving,
            "validation_loss": validation_loss,
            "memorized_fraction": [(t_star["t_star"].between(0, s)).mean() for s in steps],
        }
    )
    metrics = [
        "distance",
        "distance_experts",
        "distance_normalized",
        "consistency",
        "adjacent_cosine",
        "path_length",
        "entropy",
    ]
    for prefix, group in (("", "memorized"), ("validation_", "validation"), ("test_", "test")):
        for metric in metrics:
            series[prefix + metric] = [
                _group_value(pathway_groups[pathway_groups["step"] == s], group, metric) for s in steps
            ]
    return series


def _group_value(groups: pd.DataFrame, group: str, metric: str) -> float:
    row = groups[groups["group"] == group]
    if row.empty or metric not in row or pd.isna(row[metric].iloc[0]):
        return float("nan")
    return float(row[metric].iloc[0])


def _check_loss_samples(loss_samples: str) -> str:
    if loss_samples not in LOSS_SAMPLES:
        allowed = ", ".join(map(repr, LOSS_SAMPLES))
        raise ValueError(f"correlation.loss_samples: expected one of {allowed}, got {loss_samples!r}")
    return loss_samples


def _table1_samples(loss_samples: str) -> dict[str, str]:
    """Series column of each Table 1 row -> the samples its value averages (Table 1's `samples` column)."""
    names = {"tracked": "all tracked training samples", "memorized": "memorized training samples"}
    train = names[_check_loss_samples(loss_samples)]
    samples = {"train_loss": train, "train_loss_ma": train, "validation_loss": "validation samples"}
    return {column: samples.get(column, "memorized training samples") for column in TABLE1_METRICS}


def correlation_table(
    series: Mapping[str, pd.DataFrame],
    checkpoints: str = "after_rise",
    *,
    last_k: int = 5,
    rise_floor: float = 0.1,
    loss_samples: str = "tracked",
) -> pd.DataFrame:
    """Table 1 in long form: Pearson/Spearman (with p-values) of each metric vs accuracy, per domain, over the
    checkpoints of `correlation.checkpoint_window` (mode `checkpoints`), with the samples each metric averages."""
    samples = _table1_samples(loss_samples)
    rows = []
    for domain, s in series.items():
        accuracy = s["accuracy"].to_numpy()
        kept = s.iloc[correlation.checkpoint_window(accuracy, checkpoints, last_k=last_k, rise_floor=rise_floor) :]
        for column, name in TABLE1_METRICS.items():
            stats = _correlate_defined(kept[column].to_numpy(dtype=float), kept["accuracy"].to_numpy(dtype=float))
            first = int(kept["step"].iloc[0])
            rows.append(
                {
                    "domain": domain,
                    "metric": name,
                    "column": column,
                    "samples": samples[column],
                    "from_step": first,
                    **stats,
                }
            )
    return pd.DataFrame(rows)


# Table 4's columns per rank r: `{stat}_r{r}`; the correlation window may differ per rank (its own accuracy).
RANK_COLUMNS = ("pearson", "spearman", "pearson_p", "spearman_p", "n", "from_step")


def rank_table(tables: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Table 4: each LoRA rank's Table 1 (`correlation_table`, {rank: table}) side by side, one row per (domain,
    metric) in the first table's order, columns `pearson_r{rank}`, `spearman_r{rank}`, their p-values, `n_r{rank}`
    and `from_step_r{rank}` per rank in the mapping's order; every table has the same (domain, metric) rows."""
    keys = ["domain", "metric", "column", "samples"]
    wide = None
    for rank, table in tables.items():
        part = table[keys + list(RANK_COLUMNS)].rename(columns={c: f"{c}_r{rank}" for c in RANK_COLUMNS})
        wide = part if wide is None else wide.merge(part, on=keys, how="left", validate="one_to_one")
    if wide is None:
        raise ValueError("rank_table needs at least one rank's table")
    return wide.reset_index(drop=True)


def _correlate_defined(metric: np.ndarray, accuracy: np.ndarray) -> dict:
    """`correlation.correlate` over the checkpoints where the metric is defined (a set with no member is NaN there)."""
    defined = np.isfinite(metric)
    if not defined.any():
        return {"pearson": np.nan, "pearson_p": np.nan, "spearman": np.nan, "spearman_p": np.nan, "n": 0}
    return correlation.correlate(metric[defined], accuracy[defined])


def matching_table(
    t_star: pd.DataFrame,
    t_sharp: pd.DataFrame,
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    min_group_size: int = 5,
) -> pd.DataFrame:
    """Matched (Pretrain@p, Test@q) pairs with similarity and delay q - p; groups (t* < T, t# < T) of fewer than
    min_group_size members are left out; empty when either side has no group left."""
    columns = ["train_step", "test_step", "similarity", "delay", "n_train", "n_test"]
    samples, items = t_star["sample"].to_numpy(), t_sharp["doc_id"].to_numpy()
    train_groups = {s: samples[rows] for s, rows in groups(t_star["t_star"].to_numpy(), min_group_size).items()}
    test_groups = {s: items[rows] for s, rows in groups(t_sharp["t_sharp"].to_numpy(), min_group_size).items()}
    if not train_groups or not test_groups:
        return pd.DataFrame(columns=columns)
    train_emb = embed(list(train_texts))
    test_emb = embed(list(test_texts))
    similarity = matching.group_similarity(
        [train_emb[i] for i in train_groups.values()], [test_emb[i] for i in test_groups.values()]
    )
    table = matching.match_table(list(train_groups), list(test_groups), similarity)
    table["n_train"] = [len(train_groups[s]) for s in table["train_step"]]
    table["n_test"] = [len(test_groups[s]) for s in table["test_step"]]
    return table[columns]
