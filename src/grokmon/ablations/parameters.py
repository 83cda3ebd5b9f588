"""Router vs expert vs attention parameters across checkpoints (paper App. D, Table 3): per-tensor L2 norms taken
once per loaded checkpoint, their normalized changes between consecutive checkpoints, convergence speed, stability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

GROUPS = ("router", "expert", "attention", "other")
NORM_COLUMNS = ["name", "group", "numel", "norm"]
# The paper's Table 3 (OLMoE): group -> (convergence speed, stability).
PAPER_TABLE3: Mapping[str, tuple[float, float]] = {
    "router": (0.151, 5.63),
    "expert": (0.063, 7.32),
    "attention": (0.083, 6.01),
}


def parameter_group(name: str, router_names: set[str]) -> str:
    """Group of a parameter by its name: router (a router module's parameter), expert (`.experts.`), attention
    (`.self_attn.`), else other (embeddings, norms, head, dense MLPs, shared experts)."""
    if name in router_names:
        return "router"
    if ".experts." in name:
        return "expert"
    if ".self_attn." in name:
        return "attention"
    return "other"


def tensor_norms(model) -> pd.DataFrame:
    """One row per parameter tensor of a loaded model: name, group, numel and L2 norm (float64, over all entries);
    a model without routers (dense) has no router group."""
    import torch  # only here, where a model is already loaded

    from grokmon.routing.architectures import DenseSpec, UnsupportedArchitectureError, get_router_spec, moe_routers

    try:  # a dense model's virtual experts (whole MLPs) are not routers
        dense = isinstance(get_router_spec(model), DenseSpec)
        routers = set() if dense else {id(module) for _, module in moe_routers(model)}
    except UnsupportedArchitectureError:
        routers = set()
    router_names = {
        f"{prefix}.{n}"
        for prefix, module in model.named_modules()
        if id(module) in routers
        for n, _ in module.named_parameters()
    }
    rows = [
        {
            "name": n,
            "group": parameter_group(n, router_names),
            "numel": int(p.numel()),
            "norm": float(torch.linalg.vector_norm(p.detach(), dtype=torch.float64)),
        }
        for n, p in model.named_parameters()
    ]
    return pd.DataFrame(rows, columns=NORM_COLUMNS)


def norm_changes(norms: Sequence[pd.DataFrame], steps: Sequence[int]) -> pd.DataFrame:
    """Per group and checkpoint: group L2 norm (sqrt of the sum of its tensors' squared norms) and, from the second
    checkpoint on, the mean over its tensors of |norm_t - norm_{t-1}| / norm_{t-1} (NaN at the first checkpoint)."""
    if len(norms) != len(steps) or len(norms) < 1:
        raise ValueError(f"norms and steps need one entry per checkpoint, got {len(norms)} and {len(steps)}")
    names = norms[0]["name"].tolist()
    for step, table in zip(steps, norms):
        if table["name"].tolist() != names:
            raise ValueError(f"checkpoint {step}: its parameter tensors differ from the first checkpoint's")
    groups = norms[0]["group"].to_numpy()
    stack = np.stack([t["norm"].to_numpy(dtype=np.float64) for t in norms])  # [n_ckpt, n_tensors]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(np.diff(stack, axis=0)) / stack[:-1]
    rows = []
    for group in [g for g in GROUPS if g in set(groups)]:
        members = groups == group
        for t, step in enumerate(steps):
            change = float(np.nanmean(relative[t - 1, members])) if t > 0 else np.nan
            rows.append(
                {
                    "group": group,
                    "step": int(step),
                    "norm": float(np.sqrt((stack[t, members] ** 2).sum())),
                    "change": change,
                }
            )
    return pd.DataFrame(rows, columns=["group", "step", "norm", "change"])


def convergence_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Table 3 per group from `norm_changes`' changes c_1..c_m (m = n_ckpt - 1): mean_change, speed = mean of the first
    floor(m/2) changes minus mean of the last floor(m/2) (the drop from early to late), stability = 1 / std(c)."""
    rows = []
    for group, table in changes.groupby("group", sort=False):
        c = table.sort_values("step")["change"].to_numpy(dtype=np.float64)[1:]
        half = c.size // 2
        std = float(np.std(c)) if c.size else np.nan
        rows.append(
            {
                "group": group,
                "mean_change": float(np.mean(c)) if c.size else np.nan,
                "speed": float(np.mean(c[:half]) - np.mean(c[-half:])) if half else np.nan,
                "stability": 1.0 / std if c.size and std > 0 else np.nan,
                "n_changes": int(c.size),
            }
        )
    return pd.DataFrame(rows, columns=["group", "mean_change", "speed", "stability", "n_changes"])
