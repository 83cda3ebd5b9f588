"""The paper's figures, drawn from the workflow's saved tables (matplotlib, no model needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from grokmon.files.atomic import atomic_path

LOSS_COLOR, METRIC_COLOR, ACC_COLOR = "tab:blue", "tab:purple", "tab:red"
SOURCE_STYLES = ("-", "--", ":")  # line style of each accuracy source (evaluation.tuning), in config order


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _panels(n: int, width: float = 4.8, height: float = 3.4):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, layout="constrained")
    return fig, axes[0]


def tracked_groups(
    groups: pd.DataFrame, steps: np.ndarray, n: int = 2, chosen: Sequence[int] | None = None
) -> list[int]:
    """t* of the Pretrain@t* groups a figure draws: `chosen` (config figures.*, the paper's groups) where they have
    pathway rows, else the `n` largest groups that leave at least two later checkpoints
    (the paper's Fig. 4/6 choice)."""
    pretrain = groups[groups["group"].str.startswith("Pretrain@")]
    if chosen is not None:
        present = set(pretrain["t_star"].astype(int))
        return [int(t) for t in chosen if int(t) in present]
    late = set(np.asarray(steps)[-2:].tolist())
    sizes = pretrain[~pretrain["t_star"].isin(late)].groupby("t_star")["n"].max()
    return sorted(sizes.sort_values(ascending=False).index[:n].astype(int).tolist())


def _missing(chosen: Sequence[int] | None, drawn: list[int]) -> str:
    """Title note naming the chosen groups that have no pathway rows (too small, or no sample memorized then)."""
    absent = [int(t) for t in chosen or () if int(t) not in drawn]
    return f"\nno group: {', '.join(f'Pretrain@{t}' for t in absent)}" if absent else ""


def fig1_memorization(
    t_star: Mapping[str, pd.DataFrame], accuracy: Mapping[str, Mapping[str, pd.DataFrame]], path: str | Path
) -> None:
    """Fig. 1: samples first memorized at each checkpoint before the last (bars) and benchmark accuracy (one line per
    accuracy source: `accuracy[source][domain]`), per domain."""
    fig, axes = _panels(len(t_star))
    for ax, domain in zip(axes, t_star):
        steps = next(iter(accuracy.values()))[domain]["step"].to_numpy()
        counts = [int((t_star[domain]["t_star"] == s).sum()) for s in steps[:-1]]  # t* = T is not "before T"
        x = np.arange(len(steps))
        ax.bar(x[:-1], counts, color=LOSS_COLOR, alpha=0.6, label="newly memorized")
        ax.set_xticks(x, [str(s) for s in steps], rotation=60, fontsize=7)
        ax.set_ylabel("# memorized samples")
        ax.set_title(domain)
        twin = ax.twinx()
        for (source, by_domain), style in zip(accuracy.items(), SOURCE_STYLES):
            twin.plot(
                x, by_domain[domain]["accuracy"], color=ACC_COLOR, marker="o", ls=style, label=f"accuracy ({source})"
            )
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("accuracy")
        twin.legend(fontsize=6, loc="upper left")
    fig.suptitle("Memorization is asynchronous; accuracy rises later (paper Fig. 1)")
    _save(fig, path)


def fig2_matched_pairs(
    loss: np.ndarray,
    steps: np.ndarray,
    t_star: pd.DataFrame,
    correct: np.ndarray,
    t_sharp: pd.DataFrame,
    matches: pd.DataFrame,
    domain: str,
    path: str | Path,
) -> None:
    """Fig. 2: each matched pair's train-group mean loss (blue) and test-group accuracy (red) across checkpoints."""
    n = max(1, len(matches))
    fig, axes = _panels(min(n, 4))
    if matches.empty:
        axes[0].text(0.5, 0.5, "no matched pairs:\nno memorized or no generalized group", ha="center", va="center")
        axes[0].set_axis_off()
    x = np.arange(len(steps))
    for ax, (_, pair) in zip(axes, matches.sort_values("train_step").head(4).iterrows()):
        members = t_star.loc[t_star["t_star"] == pair["train_step"], "sample"].to_numpy()
        items = np.flatnonzero(t_sharp["t_sharp"].to_numpy() == pair["test_step"])
        ax.plot(x, loss[:, members].mean(1), color=LOSS_COLOR, marker="o")
        ax.set_ylabel("train group loss", color=LOSS_COLOR)
        twin = ax.twinx()
        twin.plot(x, correct[:, items].mean(1), color=ACC_COLOR, marker="s")
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("test group accuracy", color=ACC_COLOR)
        p, q = list(steps).index(pair["train_step"]), list(steps).index(pair["test_step"])
        ax.axvspan(min(p, q), max(p, q), color="gold", alpha=0.2)
        ax.set_title(
            f"Pretrain@{pair['train_step']} -> Test@{pair['test_step']}\ndelay {int(pair['delay'])}", fontsize=9
        )
        ax.set_xticks(x, [str(s) for s in steps], rotation=60, fontsize=7)
    fig.suptitle(f"{domain}: matched train/test groups (paper Fig. 2)")
    _save(fig, path)


def _metric_with_loss(
    groups: Mapping[str, pd.DataFrame],
    loss: Mapping[str, np.ndarray],
    t_star: Mapping[str, pd.DataFrame],
    metric: str,
    label: str,
    title: str,
    path,
    chosen: Sequence[int] | None = None,
) -> None:
    fig, axes = _panels(len(groups))
    for ax, domain in zip(axes, groups):
        g = groups[domain]
        steps = np.sort(g["step"].unique())
        x = np.arange(len(steps))
        twin = ax.twinx()
        drawn = tracked_groups(g, steps, chosen=chosen)
        for k, t in enumerate(drawn):
            rows = g[g["group"] == f"Pretrain@{t}"].set_index("step").reindex(steps)
            members = t_star[domain].loc[t_star[domain]["t_star"] == t, "sample"].to_numpy()
            style = ["-", "--"][k % 2]
            ax.plot(x, rows[metric], color=METRIC_COLOR, ls=style, marker="o", label=f"{label}, Pretrain@{t}")
            twin.plot(
                x, loss[domain][:, members].mean(1), color=LOSS_COLOR, ls=style, alpha=0.7, label=f"loss, Pretrain@{t}"
            )
            ax.axvline(list(steps).index(t), color="gray", ls=style, lw=0.8)
        ax.set_ylabel(label, color=METRIC_COLOR)
        twin.set_ylabel("group loss", color=LOSS_COLOR)
        ax.set_xticks(x, [str(s) for s in steps], rotation=60, fontsize=7)
        ax.set_title(domain + _missing(chosen, drawn), fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(title)
    _save(fig, path)


def fig4_distance(groups, loss, t_star, path, chosen: Sequence[int] | None = None) -> None:
    """Fig. 4 (nanoMoE: Fig. 14): pathway edit distance of two memorization groups (`chosen` t*, else the two largest)
    with their loss; vertical line at t*."""
    _metric_with_loss(
        groups,
        loss,
        t_star,
        "distance",
        "edit distance",
        "Pathway distance after memorization (paper Fig. 4)",
        path,
        chosen,
    )


def fig6_consistency(groups, loss, t_star, path, chosen: Sequence[int] | None = None) -> None:
    """Fig. 6 (nanoMoE: Fig. 15): pathway consistency C_i of two memorization groups (`chosen` t*, else the two
    largest) with their loss; vertical line at t*."""
    _metric_with_loss(
        groups,
        loss,
        t_star,
        "consistency",
        "consistency C_i",
        "Pathway consistency after memorization (paper Fig. 6)",
        path,
        chosen,
    )


def fig5_layers(
    layers: Mapping[str, pd.DataFrame], groups: Mapping[str, pd.DataFrame], path, chosen: int | None = None
) -> None:
    """Fig. 5: per-layer edit distance across checkpoints for one memorization group per domain (`chosen` t*, else
    the largest)."""
    fig, axes = _panels(len(layers))
    for ax, domain in zip(axes, layers):
        steps = np.sort(groups[domain]["step"].unique())
        tracked = tracked_groups(groups[domain], steps, n=1, chosen=None if chosen is None else [chosen])
        if not tracked:
            ax.set_title(f"{domain}: no memorization group" + ("" if chosen is None else f" Pretrain@{chosen}"))
            continue
        rows = layers[domain][layers[domain]["group"] == f"Pretrain@{tracked[0]}"]
        table = rows.pivot(index="layer", columns="step", values="distance")
        cmap = plt.get_cmap("viridis")
        for i, step in enumerate(table.columns):
            ax.plot(table.index, table[step], color=cmap(i / max(1, len(table.columns) - 1)), label=str(step))
        ax.set_xlabel("layer")
        ax.set_ylabel("edit distance")
        ax.set_title(f"{domain}, Pretrain@{tracked[0]}")
        ax.legend(fontsize=5, ncol=2, title="step", title_fontsize=6)
    fig.suptitle("Per-layer pathway distance (paper Fig. 5)")
    _save(fig, path)


def fig7_scatter(series: Mapping[str, pd.DataFrame], path) -> None:
    """Fig. 7: each metric (standardized per domain) against accuracy, all domains, with a linear fit, MSE and R^2."""
    metrics = [
        ("distance", "pathway distance"),
        ("consistency", "consistency"),
        ("train_loss", "training loss"),
        ("train_loss_ma", "training loss (MA)"),
        ("validation_loss", "validation loss"),
    ]
    fig, axes = _panels(len(metrics), width=3.4)
    for ax, (column, label) in zip(axes, metrics):
        xs, ys = [], []
        for domain, s in series.items():
            x = s[column].to_numpy(dtype=float)
            x = (x - np.nanmean(x)) / (np.nanstd(x) or 1.0)
            ax.scatter(x, s["accuracy"], s=14, label=domain)
            xs.append(x)
            ys.append(s["accuracy"].to_numpy(dtype=float))
        x, y = np.concatenate(xs), np.concatenate(ys)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0:
            slope, intercept = np.polyfit(x[ok], y[ok], 1)
            fit = slope * x[ok] + intercept
            mse = float(np.mean((y[ok] - fit) ** 2))
            r2 = 1 - mse / float(np.var(y[ok])) if np.var(y[ok]) > 0 else float("nan")
            grid = np.linspace(x[ok].min(), x[ok].max(), 20)
            ax.plot(grid, slope * grid + intercept, color="black", lw=1)
            ax.set_title(f"{label}\nMSE {mse:.4f}  R² {r2:.3f}", fontsize=9)
        else:
            ax.set_title(label, fontsize=9)
        ax.set_xlabel(f"{label} (standardized)")
        ax.set_ylabel("accuracy")
    axes[0].legend(fontsize=6)
    fig.suptitle("Metrics against benchmark accuracy across checkpoints (paper Fig. 7)")
    _save(fig, path)


def fig9_cut_sweep(groups: Mapping[str, pd.DataFrame], path) -> None:
    """Fig. 9: the memorized set's pathway distance at each cumulative-weight cut, across checkpoints."""
    fig, axes = _panels(len(groups))
    for ax, domain in zip(axes, groups):
        g = groups[domain][groups[domain]["group"] == "memorized"].sort_values("step")
        cuts = [c for c in g.columns if c.startswith("distance_cut")]
        for c in cuts:
            ax.plot(g["step"], g[c], marker="o", label=c.removeprefix("distance_cut"))
        ax.set_xlabel("step")
        ax.set_ylabel("edit distance")
        ax.set_title(domain)
        ax.legend(title="cut", fontsize=7)
    fig.suptitle("Threshold ablation of the pathway cut (paper Fig. 9)")
    _save(fig, path)


def monitor_curves(monitor: pd.DataFrame, checkpoint_steps, path) -> None:
    """The live monitor's probe metrics at every monitored pretraining step;
    dotted lines at the analysed checkpoints."""
    panels = [
        ("loss", "probe loss (nats/token)"),
        ("distance", "pathway distance"),
        ("distance_normalized", "distance / length"),
        ("distance_experts", "distance (experts mode)"),
        ("consistency", "consistency C_i"),
        ("adjacent_cosine", "raw adjacent cosine"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), squeeze=False, layout="constrained")
    for ax, (column, label) in zip(axes.flat, panels):
        ax.plot(monitor["step"], monitor[column], color=METRIC_COLOR if column != "loss" else LOSS_COLOR)
        for step in checkpoint_steps:
            ax.axvline(step, color="gray", ls=":", lw=0.7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("pretraining step")
    fig.suptitle("Pathway metrics monitored during pretraining (grokmon.monitor)")
    _save(fig, path)


def _pair_value(table: pd.DataFrame, a: str, b: str, column: str) -> float:
    return float(table.loc[(table["domain_a"] == a) & (table["domain_b"] == b), column].iloc[0])


def fig12_cross_domain(tables: Mapping[int, pd.DataFrame], path) -> None:
    """Fig. 12: mean pathway distance across each pair of domains (solid) and within each domain (dashed)
    by checkpoint."""
    steps = sorted(tables)
    fig, axes = _panels(2, width=5.5)
    for ax, column, label in zip(axes, ("distance", "distance_normalized"), ("edit distance", "distance / length")):
        first = tables[steps[0]]
        for _, pair in first.iterrows():
            a, b = pair["domain_a"], pair["domain_b"]
            values = [_pair_value(tables[s], a, b, column) for s in steps]
            ax.plot(
                steps,
                values,
                ls="--" if pair["within"] else "-",
                marker="o",
                ms=3,
                label=a if pair["within"] else f"{a} x {b}",
            )
        ax.set_xlabel("step")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle("Pathway distance across domains (solid) and within domains (dashed) (paper Fig. 12)")
    _save(fig, path)


def fig13_entropy_distance(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], stats: Mapping[str, dict], path) -> None:
    """Fig. 13: hexbin of each pair's edit distance (edits) against its mean routing entropy (nats), per domain; n,
    Pearson r and r^2 in the titles.

    pairs: domain -> (distance float[p], pair mean entropy float[p]) from `controls.entropy_distance_pairs`;
    stats: domain -> that domain's `controls.entropy_distance_correlation` dict (keys n, pearson, r_squared).
    """
    fig, axes = _panels(len(pairs), width=4.2, height=3.6)
    for ax, (domain, (distance, entropy)) in zip(axes, pairs.items()):
        s = stats[domain]
        cells = ax.hexbin(
            np.asarray(entropy, dtype=float),
            np.asarray(distance, dtype=float),
            gridsize=40,
            mincnt=1,
            bins="log",
            cmap="viridis",
        )
        fig.colorbar(cells, ax=ax, label="pairs")
        r = f"r = {s['pearson']:.2f}, r² = {s['r_squared']:.3f}" if np.isfinite(s["pearson"]) else "r undefined"
        ax.set_title(f"{domain}: {int(s['n']):,} pairs\n{r}", fontsize=9)
        ax.set_xlabel("mean routing entropy of the pair (nats)")
        ax.set_ylabel("edit distance")
    fig.suptitle("Pathway edit distance against routing entropy (paper Fig. 13)")
    _save(fig, path)
