"""Figures of the paper's schematic, theory and ablations (Figs. 3, 8, 10-11, Table 3), from the saved tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from rapidfuzz.distance import Levenshtein

from grokmon.metrics import consistency, pathways
from grokmon.workflow.figures import _panels, _save, plt

EDIT_COLORS = {"replace": "tab:orange", "delete": "tab:red", "insert": "tab:green"}
GROUP_COLORS = {"router": "tab:red", "expert": "tab:blue", "attention": "tab:green", "other": "tab:gray"}
_WRAP = 96  # characters per line of a drawn pathway string


def edit_marks(a: str, b: str) -> tuple[dict[int, str], dict[int, str]]:
    """Levenshtein edit operations turning a into b, as {position in a: op} (replace, delete) and {position in b: op}
    (replace, insert)."""
    marks_a, marks_b = {}, {}
    for op in Levenshtein.editops(a, b):
        if op.tag in ("replace", "delete"):
            marks_a[op.src_pos] = op.tag
        if op.tag in ("replace", "insert"):
            marks_b[op.dest_pos] = op.tag
    return marks_a, marks_b


def fig3_choice(t_star: pd.DataFrame, steps: Sequence[int]) -> tuple[list[int], int | None]:
    """The two samples Fig. 3 shows: the first two members of the largest Pretrain@t* group with t* < T (ties: earliest
    t*), and that t*; with no such group, samples [0, 1] and None."""
    early = t_star[(t_star["t_star"] >= 0) & (t_star["t_star"] != steps[-1])]
    sizes = early.groupby("t_star")["sample"].count()
    sizes = sizes[sizes >= 2]
    if sizes.empty:
        return [0, 1], None
    step = int(sizes.index[np.argmax(sizes.to_numpy())])
    return sorted(early.loc[early["t_star"] == step, "sample"].astype(int).tolist())[:2], step


def _draw_string(ax, y: float, label: str, text: str, marks: Mapping[int, str]) -> float:
    """Draw `text` from height y down, one monospace character per cell, edited ones coloured; returns the next y."""
    ax.text(0, y, label, fontsize=8, fontweight="bold", va="top", transform=ax.transData)
    y -= 1
    for start in range(0, max(len(text), 1), _WRAP):
        for k, ch in enumerate(text[start : start + _WRAP]):
            op = marks.get(start + k)
            ax.text(
                k,
                y,
                ch,
                family="monospace",
                fontsize=7,
                va="top",
                color=EDIT_COLORS.get(op, "black"),
                fontweight="bold" if op else "normal",
            )
        y -= 1
    return y - 0.4


def fig3_schematic(
    routing: Mapping[int, np.ndarray],
    routers: Mapping[int, np.ndarray],
    samples: Sequence[int],
    cut: float,
    title: str,
    path: str | Path,
) -> None:
    """Fig. 3 from a run: (a) two samples' pathway strings at two checkpoints with the edits between them marked;
    (b) their routing embeddings e_l (PCA to 2-D) across adjacent layers, with cos(e_l, e_l+1) and C_i."""
    fig = plt.figure(figsize=(13, 7), layout="constrained")
    ax_a, ax_b = fig.subplots(1, 2, width_ratios=[1.6, 1])
    y = 0.0
    i, j = samples
    embeddings = {}
    for step, r in routing.items():
        a, b = pathways.pathway_strings(r[[i, j]], cut=cut)
        marks_a, marks_b = edit_marks(a, b)
        y = _draw_string(ax_a, y, f"step {step}, sample {i}", a, marks_a)
        y = _draw_string(ax_a, y, f"step {step}, sample {j}   (edit distance {Levenshtein.distance(a, b)})", b, marks_b)
        y -= 0.6
        embeddings[step] = consistency.routing_embeddings(r[[i, j]], routers[step])
    ax_a.set_xlim(-1, _WRAP + 1)
    ax_a.set_ylim(y, 1)
    ax_a.set_axis_off()
    handles = [plt.Line2D([], [], color=c, marker="s", ls="", label=op) for op, c in EDIT_COLORS.items()]
    ax_a.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        fontsize=8,
        title="edits from upper to lower string",
    )
    ax_a.set_title("(a) pathway strings (experts ',' layers '-') and their edit operations", fontsize=10)
    stacked = np.concatenate([e.reshape(-1, e.shape[-1]) for e in embeddings.values()]).astype(np.float64)
    centre = stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(stacked - centre, full_matrices=False)
    basis = vt[:2].T if vt.shape[0] >= 2 else np.pad(vt.T, ((0, 0), (0, 2 - vt.shape[0])))
    for (step, e), style in zip(embeddings.items(), ("--", "-")):
        cos = consistency.adjacent_cosines(e)
        c_i = consistency.paper_consistency(routing[step][[i, j]], routers[step])
        for s, sample in enumerate((i, j)):
            xy = (e[s] - centre) @ basis
            line = ax_b.plot(
                xy[:, 0], xy[:, 1], style, marker="o", ms=3, label=f"step {step}, sample {sample}: C_i={c_i[s]:.2f}"
            )[0]
            for layer in range(len(xy) - 1):
                ax_b.annotate(
                    "", xy[layer + 1], xy[layer], arrowprops={"arrowstyle": "->", "color": line.get_color(), "lw": 0.8}
                )
                mid = (xy[layer] + xy[layer + 1]) / 2
                ax_b.text(*mid, f"{cos[s, layer]:.2f}", fontsize=6, color=line.get_color())
            ax_b.text(*xy[0], "L0", fontsize=7)
    ax_b.legend(fontsize=7, loc="upper right")
    ax_b.set_title(
        "(b) routing embeddings e_l = sum_k g_lk W_l[k], layer to layer\n(numbers: cos(e_l, e_l+1))", fontsize=10
    )
    ax_b.set_xlabel("PC 1")
    ax_b.set_ylabel("PC 2")
    fig.suptitle(title)
    _save(fig, path)


def fig8_theory(table: pd.DataFrame, stats: Mapping[str, float], path: str | Path) -> None:
    """Fig. 8: d_eff / n of the routing kernel against mean normalized pathway edit distance, one point per seed."""
    fig, (ax,) = _panels(1, width=5.5, height=4.2)
    points = ax.scatter(
        table["distance"], table["d_eff_normalized"], c=np.log10(table["router_scale"]), cmap="viridis", s=18
    )
    fig.colorbar(points, ax=ax, label="log10 router logit scale")
    slope, intercept = np.polyfit(table["distance"], table["d_eff_normalized"], 1)
    x = np.linspace(table["distance"].min(), table["distance"].max(), 2)
    ax.plot(x, slope * x + intercept, color="black", lw=1)
    ax.set_xlabel("average pathway edit distance (normalized)")
    ax.set_ylabel("d_eff / n of the routing kernel")
    ax.set_title(
        f"one-layer MoE, frozen random router: Pearson {stats['pearson']:+.2f}, "
        f"Spearman {stats['spearman']:+.2f} (n={stats['n']})",
        fontsize=9,
    )
    _save(fig, path)


def sweep_figure(series: pd.DataFrame, summary: pd.DataFrame, kind: str, path: str | Path) -> None:
    """Figs. 10-11: per domain, the Pretrain@t* groups' mean distance relative to its value at t*, against checkpoints
    since t*, one line per epsilon or delta setting (legend: groups falling / groups with a trend)."""
    domains = list(dict.fromkeys(series["domain"])) or ["(none)"]
    fig, axes = _panels(len(domains), width=4.4)
    for ax, domain in zip(axes, domains):
        rows = series[series["domain"] == domain]
        for (epsilon, delta), setting in rows.groupby(["epsilon", "delta"], sort=True):
            curves = []
            for t_star, group in setting.groupby("t_star"):
                values = group.sort_values("step")["distance"].to_numpy()
                after = values[np.flatnonzero(group.sort_values("step")["step"].to_numpy() == t_star)[0] :]
                if np.isfinite(after[0]) and after[0] > 0:
                    curves.append(after / after[0])
            if not curves:
                continue
            width = max(len(c) for c in curves)
            mean = np.nanmean([np.pad(c, (0, width - len(c)), constant_values=np.nan) for c in curves], axis=0)
            s = summary[(summary["domain"] == domain) & (summary["epsilon"] == epsilon) & (summary["delta"] == delta)]
            fall = f"{int(s['n_falling'].iloc[0])}/{int(s['n_groups'].iloc[0])} fall" if len(s) else ""
            value = epsilon if kind == "epsilon" else delta
            ax.plot(np.arange(width), mean, marker="o", ms=3, label=f"{kind} {value:g} ({fall})")
        plotted = bool(ax.lines)
        ax.axhline(1.0, color="gray", lw=0.6)
        ax.set_xlabel("checkpoints since t*")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("group distance / distance at t*")
        ax.set_title(domain)
        if plotted:
            ax.legend(fontsize=7)
        else:
            note = "no Pretrain@t* group of 2+ samples\nbefore the last checkpoint"
            ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(
        f"Post-memorization distance trend across {kind} settings (paper Fig. {10 if kind == 'epsilon' else 11})"
    )
    _save(fig, path)


def table3_figure(changes: pd.DataFrame, table: pd.DataFrame, path: str | Path) -> None:
    """Table 3 as curves: each group's L2 norm relative to the first checkpoint, and its mean normalized change."""
    fig, (ax_norm, ax_change) = _panels(2)
    for group, rows in changes.groupby("group", sort=False):
        rows = rows.sort_values("step")
        color = GROUP_COLORS.get(group)
        row = table[table["group"] == group].iloc[0]
        ax_norm.plot(rows["step"], rows["norm"] / rows["norm"].iloc[0], marker="o", ms=3, color=color, label=group)
        ax_change.plot(
            rows["step"],
            rows["change"],
            marker="o",
            ms=3,
            color=color,
            label=f"{group}: speed {row['speed']:.3g}, stability {row['stability']:.3g}",
        )
    ax_norm.set_ylabel("L2 norm / norm at first checkpoint")
    ax_change.set_ylabel("mean |normalized change| since previous checkpoint")
    for ax in (ax_norm, ax_change):
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle("Router vs expert vs attention parameters across checkpoints (paper App. D, Table 3)")
    _save(fig, path)
