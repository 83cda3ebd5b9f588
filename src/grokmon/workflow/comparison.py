"""Two runs side by side (e.g. the MoE demo and its dense control): Table 1 and the claim verdicts,
one column per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

# Rows are matched by accuracy source (lora, none, full) too: each source has its own Table 1 rows and verdicts.
TABLE1_KEYS = ("accuracy_source", "domain", "metric")
TABLE1_VALUES = ("pearson", "spearman", "n")
VERDICT_KEYS = ("accuracy_source", "domain", "number", "statement")
VERDICT_VALUES = ("verdict",)


def side_by_side(tables: Mapping[str, pd.DataFrame], keys: Sequence[str], values: Sequence[str]) -> pd.DataFrame:
    """One row per `keys` combination (first table's order, then rows only later tables have), columns `keys` then
    "{label} {value}" for each label of `tables` (a run name) and each of `values`; missing cells are NaN."""
    if len(tables) < 2:
        raise ValueError(f"tables: need at least 2 runs, got {len(tables)}")
    for label, table in tables.items():
        missing = [c for c in (*keys, *values) if c not in table]
        if missing:
            raise ValueError(f"tables[{label!r}]: lacks columns {missing}")
    keys = list(keys)
    merged = pd.concat([table[keys] for table in tables.values()]).drop_duplicates(ignore_index=True)
    for label, table in tables.items():
        part = table[[*keys, *values]].rename(columns={v: f"{label} {v}" for v in values})
        merged = merged.merge(part, on=keys, how="left")
    return merged


def comparison_markdown(table1: Mapping[str, pd.DataFrame], verdicts: Mapping[str, pd.DataFrame]) -> str:
    """Markdown page: Table 1 (Pearson / Spearman, n checkpoints) and the verdicts of each run, side by side."""
    labels = list(table1)
    t1 = side_by_side(table1, TABLE1_KEYS, TABLE1_VALUES)
    rows = [[*(r[k] for k in TABLE1_KEYS), *(_cell(r, label) for label in labels)] for _, r in t1.iterrows()]
    v = side_by_side(verdicts, VERDICT_KEYS, VERDICT_VALUES)
    claims = [
        [r["accuracy_source"], r["domain"], str(r["number"]), r["statement"]]
        + [_text(r[f"{label} verdict"]) for label in labels]
        for _, r in v.iterrows()
    ]
    return (
        f"# {' vs '.join(labels)}\n\n## Table 1: Pearson / Spearman with accuracy (n checkpoints)\n\n"
        + _markdown(["accuracy source", "domain", "metric", *labels], rows)
        + "\n## Verdicts\n\n"
        + _markdown(["accuracy source", "domain", "#", "claim", *labels], claims)
    )


def _cell(row: pd.Series, label: str) -> str:
    pearson, spearman, n = (row[f"{label} {v}"] for v in TABLE1_VALUES)
    if pd.isna(pearson) and pd.isna(spearman):
        return "-"
    n = "?" if pd.isna(n) else int(n)
    return f"{pearson:+.2f} / {spearman:+.2f} ({n})"


def _text(value) -> str:
    return "-" if pd.isna(value) else str(value)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |\n" for line in lines)
