"""A verdict per paper claim and domain, decided by controls that tell a pathway signal from its artifacts.

Inputs, per domain, are the workflow's tables (either one table or a list with one per training
seed, all on the same checkpoints):
- groups: `results/{run}/pathways/{domain}.groups.tsv`, i.e. `tables.pathway_tables(...)[0]` of every
  checkpoint stacked with a `step` column (rows per group: Pretrain@t*, memorized, train,
  validation = held-out items of the domain never trained on, test);
- series: `results/{run}/correlation/{domain}.series.tsv`, i.e. `tables.domain_series(...)`.

Claims (paper v4): (1) pathway distance falls after memorization (Fig. 4); (2) consistency rises
after memorization (Fig. 6), judged for the paper's C_i and, in a separate row, for the raw mean
adjacent-layer cosine; (3) distance correlates negatively with accuracy (Table 1); (4) consistency
correlates positively with accuracy (Table 1; C_i and raw cosine rows); (5) training and validation
loss do not track accuracy (Table 1). Directions: a higher distance means more dissimilar pathways;
a higher C_i means LESS uniform adjacent-layer transitions by its formula, although the paper reads
its rise as improving consistency; a higher raw cosine means more aligned adjacent layers.

Decision rules, trend claims (1, 2), over the Pretrain@t* groups of all seeds:
- a group is eligible with >= MIN_TREND_POINTS checkpoints from its t* to the end; fewer than
  MIN_GROUPS eligible groups -> "undecided";
- a group moves in the claimed direction when the Spearman of its metric vs checkpoint index from t*
  has the claimed sign and the change from t* to the end does too, by more than
  MIN_RELATIVE_CHANGE of the value at t*; not more than MAJORITY of the eligible groups moving
  -> "does not hold" (p_value: one-sided binomial sign test of the count);
- (distance only) length control: not more than MAJORITY of the falling groups also fall in the
  length-normalized distance (flat or rising) -> "explained by a control" (string length);
- held-out control: for each group still moving (in the length-normalized distance for claim 1), the
  held-out items (`validation`) over the same checkpoints move in the same direction by at least
  HELDOUT_SHARE of the group's relative change; more than MAJORITY such groups -> "explained by a
  control" (held-out items: a global sharpening of routing, not memorization); no held-out rows ->
  "undecided";
- otherwise "holds".
Correlation claims (3, 4), over the series' checkpoints (all, or from the accuracy's sustained
rise on as Table 1 with checkpoints="after_rise"; with several seeds, the rise of the seed-mean
accuracy), estimate = Pearson r (several seeds: mean of per-seed r; CI by resampling seeds):
- fewer than MIN_CORRELATION_POINTS checkpoints or a constant series -> "undecided";
- a bootstrap 95% CI that contains 0 -> "undecided";
- a CI on the opposite side of 0, or |r| < MIN_ABS_R -> "does not hold";
- (distance only) length control: the length-normalized distance does not correlate in the same
  direction with |r| >= MIN_ABS_R -> "explained by a control" (string length);
- held-out control: the held-out items' same metric (length-normalized for distance) correlates in
  the same direction with at least HELDOUT_SHARE of the memorized set's r -> "explained by a
  control" (held-out items); no held-out column -> "undecided";
- otherwise "holds".
Claim 5: any of training loss, its moving average or validation loss with |r| >= MIN_ABS_R and a CI
excluding 0 -> "does not hold"; all with |r| < MIN_ABS_R (or constant) -> "holds"; else "undecided".

Numeric columns: n = eligible groups (trend rows) or checkpoints (correlation rows); n_seeds; fraction =
share of eligible groups moving in the claimed direction; estimate = median post-t* Spearman over
groups, or r (claim 5: of the loss in `metric`, the strongest); ci_low, ci_high = bootstrap 95% CI of
r; p_value = one-sided binomial sign test of the moving groups, or permutation p of r;
length_control = share of moving groups whose length-normalized distance moves too, or the
normalized distance's r; heldout_control = share of groups whose held-out items move as much, or
the held-out items' r. NaN where a number does not apply or was not reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from grokmon import controls, correlation

MIN_GROUPS = 2
MIN_TREND_POINTS = 3
MIN_RELATIVE_CHANGE = 0.01
MAJORITY = 0.5
HELDOUT_SHARE = 0.5
MIN_CORRELATION_POINTS = 4
MIN_ABS_R = 0.5
LOSS_COLUMNS = {"train_loss": "training loss", "train_loss_ma": "training loss (MA)", "validation_loss": "validation loss"}
LENGTH_CONTROL = "string length (length-normalized distance)"
HELDOUT_CONTROL = "held-out items (validation set)"
COLUMNS = [
    "domain", "claim", "number", "paper", "statement", "metric", "direction", "verdict", "decided_by", "evidence",
    "n", "n_seeds", "fraction", "estimate", "ci_low", "ci_high", "p_value", "length_control", "heldout_control",
]  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """One paper claim: the metric column it is about, the claimed sign (+1 rises / -1 falls) and its length-controlled column."""

    id: str
    number: int
    paper: str
    statement: str
    metric: str
    sign: int
    direction: str
    length_metric: str | None = None


TREND_CLAIMS = (
    Claim("distance_falls", 1, "Fig. 4", "Pathway distance falls after memorization", "distance", -1,
          "falls (higher = more dissimilar pathways)", "distance_normalized"),
    Claim("consistency_rises", 2, "Fig. 6", "Consistency (paper C_i) rises after memorization", "consistency", 1,
          "rises (by its formula higher C_i = less uniform transitions; the paper reads a rise as improvement)"),
    Claim("adjacent_cosine_rises", 2, "Fig. 6", "Raw adjacent-layer cosine rises after memorization", "adjacent_cosine", 1,
          "rises (higher = more aligned adjacent layers)"),
)  # fmt: skip
CORRELATION_CLAIMS = (
    Claim("distance_vs_accuracy", 3, "Table 1", "Pathway distance correlates negatively with accuracy", "distance", -1,
          "negative r", "distance_normalized"),
    Claim("consistency_vs_accuracy", 4, "Table 1", "Consistency (paper C_i) correlates positively with accuracy", "consistency", 1,
          "positive r (higher C_i = less uniform transitions by its formula)"),
    Claim("adjacent_cosine_vs_accuracy", 4, "Table 1", "Raw adjacent-layer cosine correlates positively with accuracy",
          "adjacent_cosine", 1, "positive r (higher = more aligned adjacent layers)"),
)  # fmt: skip
LOSS_CLAIM = Claim("losses_vs_accuracy", 5, "Table 1", "Training and validation loss do not track accuracy",
                   ", ".join(LOSS_COLUMNS), 0, f"|r| < {MIN_ABS_R} for every loss")  # fmt: skip


def claim_verdicts(
    groups: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
    series: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
    checkpoints: str = "after_rise",
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Tidy verdict table (one row per domain x claim, columns COLUMNS) from per-domain group tables and series (one, or a list per seed)."""
    if checkpoints not in ("all", "after_rise"):
        raise ValueError(f"checkpoints must be 'all' or 'after_rise', got {checkpoints!r}")
    if set(groups) != set(series):
        raise ValueError(f"groups and series must have the same domains, got {sorted(groups)} and {sorted(series)}")
    rows = []
    for domain in series:
        group_tables, window = _as_list(groups[domain], "groups"), _Window(_as_list(series[domain], "series"), checkpoints)
        for claim in TREND_CLAIMS:
            rows.append({"domain": domain, **_claim_fields(claim), **_trend_verdict(group_tables, claim)})
        for claim in CORRELATION_CLAIMS:
            rows.append({"domain": domain, **_claim_fields(claim), **_correlation_verdict(window, claim, n_boot, n_perm, seed)})
        rows.append({"domain": domain, **_claim_fields(LOSS_CLAIM), **_loss_verdict(window, n_boot, n_perm, seed)})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def verdicts_markdown(table: pd.DataFrame) -> str:
    """Markdown table (domain, claim, verdict, decided by, evidence) of a `claim_verdicts` table, for the report/README."""
    missing = {"domain", "number", "statement", "verdict", "decided_by", "evidence"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)} (pass the output of claim_verdicts)")
    lines = ["| domain | # | claim | verdict | decided by | evidence |", "|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        cells = [row.domain, row.number, row.statement, f"**{row.verdict}**", row.decided_by, row.evidence]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _claim_fields(claim: Claim) -> dict:
    return {"claim": claim.id, "number": claim.number, "paper": claim.paper, "statement": claim.statement,
            "metric": claim.metric, "direction": claim.direction}  # fmt: skip


def _result(verdict: str, decided_by: str, evidence: list[str], **numbers) -> dict:
    return {"verdict": verdict, "decided_by": decided_by, "evidence": "; ".join(evidence), **numbers}


# ---- trend claims (1, 2) -------------------------------------------------------------------------


def _trend_verdict(tables: list[pd.DataFrame], claim: Claim) -> dict:
    controlled = claim.length_metric or claim.metric
    numbers = {"n_seeds": len(tables)}
    for table in tables:
        _require(table, ["group", "t_star", "step"], "groups")
        if {claim.metric, controlled} - set(table.columns):
            return _result("undecided", "metric missing", [f"groups table has no {claim.metric} or {controlled} column"], **numbers)
    trends = [t for table in tables for t in _group_trends(table, claim.metric, controlled)]
    eligible = [t for t in trends if t["main"]["n_points"] >= MIN_TREND_POINTS]
    numbers["n"] = len(eligible)
    if len(eligible) < MIN_GROUPS:
        evidence = [f"{len(eligible)} of {len(trends)} groups have >= {MIN_TREND_POINTS} checkpoints from t* on (need {MIN_GROUPS})"]
        return _result("undecided", "too few groups", evidence, **numbers)
    moving = [t for t in eligible if _moves(t["main"], claim.sign)]
    word = "fall" if claim.sign < 0 else "rise"
    numbers.update(
        fraction=len(moving) / len(eligible),
        estimate=float(np.median([t["main"]["spearman"] for t in eligible])),
        p_value=float(stats.binomtest(len(moving), len(eligible), 0.5, alternative="greater").pvalue),
    )
    evidence = [f"{len(moving)}/{len(eligible)} groups {word} after t* ({_median_change(moving or eligible, 'main')}; "
                f"median Spearman {numbers['estimate']:+.2f}; sign-test p {numbers['p_value']:.2g})"]  # fmt: skip
    if numbers["fraction"] <= MAJORITY:
        return _result("does not hold", "majority of groups", evidence, **numbers)
    if claim.length_metric:
        kept = [t for t in moving if _moves(t["controlled"], claim.sign)]
        numbers["length_control"] = len(kept) / len(moving)
        evidence.append(f"length-normalized distance falls in {len(kept)}/{len(moving)} of them "
                        f"({_median_change(moving, 'controlled')}; path length {_median_change(moving, 'path_length')}, "
                        f"entropy {_median_change(moving, 'entropy')})")  # fmt: skip
        if numbers["length_control"] <= MAJORITY:
            return _result("explained by a control", LENGTH_CONTROL, evidence, **numbers)
    else:
        kept = moving
    compared = [t for t in kept if np.isfinite(t["heldout"]["relative_change"]) and np.isfinite(t["controlled"]["relative_change"])]
    if not compared:
        evidence.append("no held-out (validation) values over the groups' checkpoints")
        return _result("undecided", "held-out control unavailable", evidence, **numbers)
    shared = [
        t
        for t in compared
        if claim.sign * t["heldout"]["relative_change"] >= HELDOUT_SHARE * claim.sign * t["controlled"]["relative_change"]
    ]
    numbers["heldout_control"] = len(shared) / len(compared)
    name = "length-normalized distance" if claim.length_metric else claim.metric
    evidence.append(f"held-out items {word} as much ({name}, >= {HELDOUT_SHARE:g} of the group's relative change) "
                    f"over {len(shared)}/{len(compared)} of the groups' windows ({_median_change(compared, 'heldout')})")  # fmt: skip
    if numbers["heldout_control"] > MAJORITY:
        return _result("explained by a control", HELDOUT_CONTROL, evidence, **numbers)
    passed = "length and held-out controls" if claim.length_metric else "held-out control"
    return _result("holds", f"majority of groups; passed {passed}", evidence, **numbers)


def _group_trends(table: pd.DataFrame, metric: str, controlled: str) -> list[dict]:
    """Post-t* trends of every Pretrain@t* group of one seed's group table, with the held-out set's over the same window."""
    steps = np.sort(table["step"].unique())
    heldout = _on_steps(table[table["group"] == "validation"], steps, controlled)
    trends = []
    for _, rows in table[table["t_star"] >= 0].groupby("group"):
        t_index = int(np.searchsorted(steps, rows["t_star"].iloc[0]))
        if t_index >= len(steps):
            continue
        trend = {"main": controls.post_memorization_trend(_on_steps(rows, steps, metric), t_index)}
        trend["controlled"] = controls.post_memorization_trend(_on_steps(rows, steps, controlled), t_index)
        trend["heldout"] = controls.post_memorization_trend(heldout, t_index)
        for column in ("path_length", "entropy"):
            trend[column] = controls.post_memorization_trend(_on_steps(rows, steps, column), t_index)
        trends.append(trend)
    return trends


def _on_steps(rows: pd.DataFrame, steps: np.ndarray, column: str) -> np.ndarray:
    """float[len(steps)]: the column's value at each step, NaN where the rows have none."""
    if column not in rows:
        return np.full(len(steps), np.nan)
    return rows.set_index("step")[column].reindex(steps).to_numpy(dtype=np.float64)


def _moves(trend: dict, sign: int) -> bool:
    return bool(sign * trend["spearman"] > 0 and sign * trend["change"] > MIN_RELATIVE_CHANGE * abs(trend["start"]))


def _median_change(trends: list[dict], key: str) -> str:
    changes = [t[key]["relative_change"] for t in trends if np.isfinite(t[key]["relative_change"])]
    return f"median change {np.median(changes):+.0%}" if changes else "change n/a"


# ---- correlation claims (3, 4, 5) ----------------------------------------------------------------


class _Window:
    """The series' checkpoints that Table 1 correlates over, as arrays float[n] (one seed) or float[n_seeds, n]."""

    def __init__(self, tables: list[pd.DataFrame], checkpoints: str):
        for table in tables:
            _require(table, ["step", "accuracy"], "series")
        steps = tables[0]["step"].to_numpy()
        if any(not np.array_equal(t["step"].to_numpy(), steps) for t in tables):
            raise ValueError("series of different seeds must share the same steps")
        self.tables = tables
        accuracy = np.stack([t["accuracy"].to_numpy(dtype=np.float64) for t in tables])
        self.start = correlation.sustained_rise_start(accuracy.mean(axis=0)) if checkpoints == "after_rise" else 0
        self.first_step = int(steps[self.start])

    def pair(self, column: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(metric, accuracy) on the window's checkpoints where both are finite; None if the column is absent."""
        if column not in self.tables[0]:
            return None
        metric = np.stack([t[column].to_numpy(dtype=np.float64) for t in self.tables])[:, self.start :]
        accuracy = np.stack([t["accuracy"].to_numpy(dtype=np.float64) for t in self.tables])[:, self.start :]
        keep = np.isfinite(metric).all(axis=0) & np.isfinite(accuracy).all(axis=0)
        metric, accuracy = metric[:, keep], accuracy[:, keep]
        return (metric[0], accuracy[0]) if len(self.tables) == 1 else (metric, accuracy)

    def correlate(self, column: str, n_boot: int, n_perm: int, seed: int) -> dict | None:
        """r, CI, permutation p and n of the column vs accuracy; r NaN when too few points or constant; None if absent."""
        pair = self.pair(column)
        if pair is None:
            return None
        metric, accuracy = pair
        out = {"n": metric.shape[-1], "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
        if out["n"] < MIN_CORRELATION_POINTS:
            return out
        out["estimate"] = controls.correlation_estimate(metric, accuracy)
        if np.isnan(out["estimate"]):
            return out
        out["ci_low"], out["ci_high"] = controls.bootstrap_correlation(metric, accuracy, n_boot, seed)
        out["p_value"] = controls.permutation_pvalue(metric, accuracy, n_perm, seed)
        return out


def _correlation_verdict(window: _Window, claim: Claim, n_boot: int, n_perm: int, seed: int) -> dict:
    main = window.correlate(claim.metric, n_boot, n_perm, seed)
    numbers = {"n_seeds": len(window.tables)}
    if main is None:
        return _result("undecided", "metric missing", [f"series has no {claim.metric} column"], **numbers)
    numbers.update(main)
    evidence = [f"r = {main['estimate']:+.2f} over {main['n']} checkpoints from step {window.first_step} "
                f"(95% CI [{main['ci_low']:+.2f}, {main['ci_high']:+.2f}], permutation p {main['p_value']:.2g})"]  # fmt: skip
    if main["n"] < MIN_CORRELATION_POINTS:
        return _result("undecided", "too few checkpoints", [f"{main['n']} checkpoints (need {MIN_CORRELATION_POINTS})"], **numbers)
    if np.isnan(main["estimate"]):
        return _result("undecided", "constant series", [f"{claim.metric} or accuracy is constant"], **numbers)
    if not main["ci_low"] > 0 and not main["ci_high"] < 0:
        return _result("undecided", "bootstrap CI contains 0", evidence, **numbers)
    if claim.sign * main["estimate"] < 0:
        return _result("does not hold", "bootstrap CI excludes 0 on the opposite side", evidence, **numbers)
    if abs(main["estimate"]) < MIN_ABS_R:
        return _result("does not hold", f"|r| < {MIN_ABS_R}", evidence, **numbers)
    controlled = main["estimate"]
    if claim.length_metric:
        length = window.correlate(claim.length_metric, n_boot, n_perm, seed)
        controlled = np.nan if length is None else length["estimate"]
        numbers["length_control"] = controlled
        evidence.append(f"length-normalized distance r = {controlled:+.2f}")
        if not claim.sign * controlled >= MIN_ABS_R:
            return _result("explained by a control", LENGTH_CONTROL, evidence, **numbers)
    heldout_column = "validation_" + (claim.length_metric or claim.metric)
    heldout = window.correlate(heldout_column, n_boot, n_perm, seed)
    if heldout is None or heldout["n"] < MIN_CORRELATION_POINTS:
        evidence.append(f"no usable {heldout_column} series")
        return _result("undecided", "held-out control unavailable", evidence, **numbers)
    r_heldout = 0.0 if np.isnan(heldout["estimate"]) else heldout["estimate"]  # a constant held-out series tracks nothing
    numbers["heldout_control"] = r_heldout
    evidence.append(f"held-out items ({heldout_column}) r = {r_heldout:+.2f}")
    if claim.sign * r_heldout >= HELDOUT_SHARE * claim.sign * controlled:
        return _result("explained by a control", HELDOUT_CONTROL, evidence, **numbers)
    passed = "length and held-out controls" if claim.length_metric else "held-out control"
    return _result("holds", f"bootstrap CI and |r| >= {MIN_ABS_R}; passed {passed}", evidence, **numbers)


def _loss_verdict(window: _Window, n_boot: int, n_perm: int, seed: int) -> dict:
    results = {c: r for c in LOSS_COLUMNS if (r := window.correlate(c, n_boot, n_perm, seed)) is not None}
    numbers = {"n_seeds": len(window.tables)}
    if not results:
        return _result("undecided", "metric missing", ["series has no loss column"], **numbers)
    evidence = [f"{LOSS_COLUMNS[c]} r = {r['estimate']:+.2f} (CI [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}], n {r['n']})"
                for c, r in results.items()]  # fmt: skip
    evidence[0] += f" from step {window.first_step}"
    tracking = {c: r for c, r in results.items() if abs(r["estimate"]) >= MIN_ABS_R and (r["ci_low"] > 0 or r["ci_high"] < 0)}
    strongest = max(tracking or results, key=lambda c: np.nan_to_num(abs(results[c]["estimate"]), nan=-1.0))
    numbers.update(results[strongest])
    numbers["metric"] = strongest
    if tracking:
        return _result("does not hold", f"|r| >= {MIN_ABS_R} with a bootstrap CI excluding 0", evidence, **numbers)
    weak = all(r["n"] >= MIN_CORRELATION_POINTS and not abs(r["estimate"]) >= MIN_ABS_R for r in results.values())
    if weak:
        return _result("holds", f"every loss |r| < {MIN_ABS_R}", evidence, **numbers)
    return _result("undecided", "too few checkpoints or CI contains 0", evidence, **numbers)


def _as_list(tables: pd.DataFrame | Sequence[pd.DataFrame], name: str) -> list[pd.DataFrame]:
    tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise ValueError(f"{name} must be a DataFrame or a non-empty list of DataFrames (one per seed)")
    return tables


def _require(table: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"{name} table lacks columns {missing}")
