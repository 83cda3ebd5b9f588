"""A verdict per paper claim and domain, decided by tests and controls that tell a pathway signal from its artifacts.

The rules, thresholds and their calibration are in docs/verdicts.md; the thresholds a user may
change are `VerdictSettings` (config `verdicts:`).

Inputs, per domain, are the workflow's tables (either one table or a list with one per training
seed, all on the same checkpoints):
- groups: `results/{run}/pathways/{domain}.groups.tsv`, i.e. `tables.pathway_tables(...)[0]` of every
  checkpoint stacked with a `step` column (rows per group: Pretrain@t* with its size `n`, memorized,
  train, validation = held-out items of the domain never trained on, test);
- series: `results/{run}/correlation/{domain}.series.tsv`, i.e. `tables.domain_series(...)`;
- optionally, for the grokking precondition: matching (`matching/{domain}.tsv`), t_star
  (`memorization/{domain}/t_star.tsv`) and t_sharp (`generalization/{domain}/t_sharp.tsv`).

Claims (paper v4): (0) precondition: generalization lags memorization in this run; (1) pathway
distance falls after memorization (Fig. 4); (2) consistency rises after memorization (Fig. 6), for
the paper's C_i and, in a separate row, the raw mean adjacent-layer cosine; (3) distance
correlates negatively with accuracy (Table 1); (4) consistency correlates positively with accuracy
(C_i and raw cosine rows); (5) training and validation loss do not track accuracy (Table 1).
Directions: a higher distance means more dissimilar pathways; a higher C_i means LESS uniform
adjacent-layer transitions by its formula, although the paper reads its rise as improving
consistency; a higher raw cosine means more aligned adjacent layers.

Every test gives "supports" (one-sided p < alpha in the claimed direction), "against" (one-sided
p < alpha in the opposite direction, or the effect's one-sided upper confidence bound below the
margin) or "inconclusive". A claim holds only when its test and every control test support it
(an intersection-union test: no multiplicity correction needed within a row); it does not hold
only on evidence against it; a control explains it only on evidence (the control's own series
moves the same way, or the length-normalized distance does not); everything else is undecided.

Trend claims (1, 2): eligible groups have >= min_group_size samples and >= min_trend_points
checkpoints from t* on (fewer than min_groups eligible groups -> undecided). The test is a
weighted t-test (weights = group sizes) of the checkpoint-to-checkpoint changes of every eligible
group of every seed from its t* on, in units of the median t* value (each group of each seed is
its own block; a random walk's changes are independent). Controls: length (claim 1) = the same test
on the length-normalized distance; held-out = the same test on the group's change minus the held-out
items' change over the same checkpoints (supports -> holds; otherwise the held-out items' own changes
supporting the claim -> explained by a control).
Correlation claims (3, 4) over the series' checkpoint window (`correlation.checkpoint_window` of the
seed-mean accuracy): Pearson r in levels AND in first differences, one-sided, combined over seeds by
Stouffer's method (fewer than min_checkpoints checkpoints -> undecided); the same controls, the
held-out one on the memorized minus held-out series. Claim 5: a loss that correlates with accuracy
in levels and first differences (two-sided, Bonferroni over the losses) -> does not hold; every loss's
r shown inside +-correlation_margin in levels or in first differences (Bonferroni over the two) -> holds;
else undecided.
Precondition (0): per seed, a one-sided Mann-Whitney test that the test items' t# are later than the
memorized samples' t*, combined over seeds by Stouffer's method.

Numeric columns: n = eligible groups (trend rows), checkpoints (correlation rows) or matched pairs
(precondition); n_seeds; fraction = share of eligible groups whose t*-to-end change has the claimed
sign (precondition: of matched pairs with a positive delay); estimate = weighted mean change per
checkpoint in units of the t* value, or the mean over seeds of r, or median t# - median t* (steps);
ci_low, ci_high = its 95% interval (evidence says which); r_diff = r of the first differences;
p_value = the row's one-sided p in the claimed direction (an intersection-union p for correlation
rows); q_value = Benjamini-Hochberg adjusted p over the table's rows; length_control and
heldout_control = the estimate of the length-normalized test and of the group-minus-held-out test.
NaN where a number does not apply or was not reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import special, stats

from grokmon.claims import controls
from grokmon.metrics import correlation

LOSS_COLUMNS = {
    "train_loss": "training loss",
    "train_loss_ma": "training loss (MA)",
    "validation_loss": "validation loss",
}
LENGTH_CONTROL = "string length (length-normalized distance)"
HELDOUT_CONTROL = "held-out items (validation set)"
VERDICTS = ("holds", "does not hold", "explained by a control", "undecided")
COLUMNS = [
    "domain",
    "claim",
    "number",
    "paper",
    "statement",
    "metric",
    "direction",
    "verdict",
    "decided_by",
    "evidence",
    "n",
    "n_seeds",
    "fraction",
    "estimate",
    "ci_low",
    "ci_high",
    "r_diff",
    "p_value",
    "q_value",
    "length_control",
    "heldout_control",
]
NO_GROKKING = "No domain shows generalization lagging memorization: this run cannot show grokking."


@dataclass(frozen=True)
class VerdictSettings:
    """The verdicts' thresholds (config `verdicts:`; docs/verdicts.md gives their calibration)."""

    alpha: float = 0.05
    """Level of every one-sided test (and of the one-sided bounds compared with the margins)."""
    min_group_size: int = 10
    """Samples a Pretrain@t* group needs to count in a trend test."""
    min_groups: int = 3
    """Eligible groups (over all seeds) a trend claim needs; fewer -> undecided."""
    min_trend_points: int = 3
    """Checkpoints from t* to the end a group needs (>= 2 changes)."""
    min_checkpoints: int = 5
    """Checkpoints in the correlation window a correlation claim needs; fewer -> undecided."""
    trend_margin: float = 0.005
    """Mean change per checkpoint (fraction of the t* value) below which a trend counts as absent."""
    correlation_margin: float = 0.5
    """|r| below which a correlation counts as absent (claims 3, 4: does not hold; claim 5: holds)."""

    def __post_init__(self):
        for name, least in (("min_group_size", 1), ("min_groups", 1), ("min_trend_points", 3), ("min_checkpoints", 4)):
            value = getattr(self, name)
            if int(value) != value or value < least:
                raise ValueError(f"verdicts.{name} must be an integer >= {least}, got {value!r}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"verdicts.alpha must be in (0, 0.5), got {self.alpha!r}")
        if self.trend_margin < 0 or not 0 <= self.correlation_margin < 1:
            raise ValueError("verdicts.trend_margin must be >= 0 and verdicts.correlation_margin in [0, 1)")

    @classmethod
    def from_config(cls, section: Mapping | None) -> VerdictSettings:
        """Settings from a config `verdicts:` section (missing keys keep their defaults); unknown keys are an error."""
        section = dict(section or {})
        unknown = set(section) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown verdicts keys {sorted(unknown)}; allowed: {[f.name for f in fields(cls)]}")
        return cls(**section)


@dataclass(frozen=True)
class Claim:
    """One paper claim: the metric column it is about, the claimed sign (+1 rises / -1 falls)
    and its length-controlled column."""

    id: str
    number: int
    paper: str
    statement: str
    metric: str
    sign: int
    direction: str
    length_metric: str | None = None


@dataclass(frozen=True)
class GroupSeries:
    """One Pretrain@t* group of one seed: size, t* index and float[n_ckpt] series over the checkpoints
    (NaN = no value)."""

    n: int
    t_index: int
    block: int
    """The training seed (index) the group belongs to."""
    metric: np.ndarray
    controlled: np.ndarray
    """The length-normalized metric for distance, else the metric itself."""
    heldout: np.ndarray
    """The held-out (validation) items' controlled metric over the same checkpoints."""


PRECONDITION = Claim(
    "generalization_lags",
    0,
    "Sec. 3.2, Fig. 2",
    "Generalization lags memorization (grokking precondition)",
    "t_sharp - t_star",
    1,
    "t# later than t* (steps)",
)
TREND_CLAIMS = (
    Claim(
        "distance_falls",
        1,
        "Fig. 4",
        "Pathway distance falls after memorization",
        "distance",
        -1,
        "falls (higher = more dissimilar pathways)",
        "distance_normalized",
    ),
    Claim(
        "consistency_rises",
        2,
        "Fig. 6",
        "Consistency (paper C_i) rises after memorization",
        "consistency",
        1,
        "rises (by its formula higher C_i = less uniform transitions; the paper reads a rise as improvement)",
    ),
    Claim(
        "adjacent_cosine_rises",
        2,
        "Fig. 6",
        "Raw adjacent-layer cosine rises after memorization",
        "adjacent_cosine",
        1,
        "rises (higher = more aligned adjacent layers)",
    ),
)
CORRELATION_CLAIMS = (
    Claim(
        "distance_vs_accuracy",
        3,
        "Table 1",
        "Pathway distance correlates negatively with accuracy",
        "distance",
        -1,
        "negative r",
        "distance_normalized",
    ),
    Claim(
        "consistency_vs_accuracy",
        4,
        "Table 1",
        "Consistency (paper C_i) correlates positively with accuracy",
        "consistency",
        1,
        "positive r (higher C_i = less uniform transitions by its formula)",
    ),
    Claim(
        "adjacent_cosine_vs_accuracy",
        4,
        "Table 1",
        "Raw adjacent-layer cosine correlates positively with accuracy",
        "adjacent_cosine",
        1,
        "positive r (higher = more aligned adjacent layers)",
    ),
)
LOSS_CLAIM = Claim(
    "losses_vs_accuracy",
    5,
    "Table 1",
    "Training and validation loss do not track accuracy",
    ", ".join(LOSS_COLUMNS),
    0,
    "|r| below the margin for every loss",
)


def claim_verdicts(
    groups: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
    series: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
    *,
    checkpoints: str = "after_rise",
    last_k: int | None = None,
    rise_floor: float | None = None,
    settings: VerdictSettings | None = None,
    matching: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]] | None = None,
    t_star: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]] | None = None,
    t_sharp: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]] | None = None,
) -> pd.DataFrame:
    """Tidy verdict table (one row per domain x claim, columns COLUMNS) from per-domain tables
    (one, or a list per seed).

    checkpoints, last_k, rise_floor: the correlation window (`correlation.checkpoint_window`; None
    keeps its default). matching, t_star, t_sharp: per-domain tables for the precondition row (all
    three or none).
    """
    settings = settings or VerdictSettings()
    if set(groups) != set(series):
        raise ValueError(f"groups and series must have the same domains, got {sorted(groups)} and {sorted(series)}")
    lag_inputs = (matching, t_star, t_sharp)
    if any(x is None for x in lag_inputs) and any(x is not None for x in lag_inputs):
        raise ValueError("matching, t_star and t_sharp must be given together (the precondition row) or not at all")
    window_kwargs = {k: v for k, v in (("last_k", last_k), ("rise_floor", rise_floor)) if v is not None}
    rows = []
    for domain in series:
        if matching is not None:
            lag = generalization_lag(
                _as_list(matching[domain], "matching"),
                _as_list(t_star[domain], "t_star"),
                _as_list(t_sharp[domain], "t_sharp"),
                settings,
            )
            rows.append({"domain": domain, **_claim_fields(PRECONDITION), **lag})
        group_tables = _as_list(groups[domain], "groups")
        window = _Window(_as_list(series[domain], "series"), checkpoints, window_kwargs)
        for claim in TREND_CLAIMS:
            rows.append({"domain": domain, **_claim_fields(claim), **_trend_from_tables(group_tables, claim, settings)})
        for claim in CORRELATION_CLAIMS:
            verdict = correlation_verdict(window.columns(), window.accuracy(), claim, settings, window.first_step)
            rows.append({"domain": domain, **_claim_fields(claim), **verdict})
        rows.append(
            {
                "domain": domain,
                **_claim_fields(LOSS_CLAIM),
                **loss_verdict(window.columns(), window.accuracy(), settings),
            }
        )
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    return table.assign(q_value=_fdr(table["p_value"].to_numpy(dtype=np.float64)))


def verdicts_markdown(table: pd.DataFrame) -> str:
    """Markdown table (domain, claim, verdict, decided by, evidence) of a `claim_verdicts` table,
    for the report/docs."""
    missing = {"domain", "number", "claim", "statement", "verdict", "decided_by", "evidence"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)} (pass the output of claim_verdicts)")
    lines = ["| domain | # | claim | verdict | decided by | evidence |", "|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        cells = [row.domain, row.number, row.statement, f"**{row.verdict}**", row.decided_by, row.evidence]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lag = table[table["claim"] == PRECONDITION.id]
    if len(lag) and not (lag["verdict"] == "holds").any():
        lines += ["", NO_GROKKING]
    return "\n".join(lines) + "\n"


def _claim_fields(claim: Claim) -> dict:
    return {
        "claim": claim.id,
        "number": claim.number,
        "paper": claim.paper,
        "statement": claim.statement,
        "metric": claim.metric,
        "direction": claim.direction,
    }


def _result(verdict: str, decided_by: str, evidence: list[str], **numbers) -> dict:
    return {"verdict": verdict, "decided_by": decided_by, "evidence": "; ".join(evidence), **numbers}


def _direction(test, sign: int, margin: float, alpha: float) -> str:
    """'supports', 'against' (opposite direction, or the one-sided bound below margin) or 'inconclusive'."""
    if test.p_value(sign) < alpha:
        return "supports"
    if test.p_value(-sign) < alpha or test.bound(sign, alpha) < margin:
        return "against"
    return "inconclusive"


def _unless_supported(
    test, sign: int, margin: float, alpha: float, against: tuple[str, str], inconclusive: str, evidence, numbers
) -> dict | None:
    """None when `test` supports the claim (`_direction`); else the result of its outcome: `against`
    (verdict, decided_by) when it goes against it, ("undecided", `inconclusive`) when it is inconclusive."""
    direction = _direction(test, sign, margin, alpha)
    if direction == "supports":
        return None
    verdict, decided_by = against if direction == "against" else ("undecided", inconclusive)
    return _result(verdict, decided_by, evidence, **numbers)


def _heldout_outcome(
    contrast, heldout, sign: int, alpha: float, claim: Claim, main: str, evidence: list[str], numbers, alone=None
) -> dict:
    """The result of the held-out control, the last step of a trend or correlation claim: holds when the memorized
    minus held-out `contrast` supports the claim (`main`: the main test's name), explained by a control when the
    `heldout` series alone does, else undecided; the evidence line `alone`, if any, joins once the contrast fails."""
    if contrast.p_value(sign) < alpha:
        passed = "length and held-out controls" if claim.length_metric else "held-out control"
        return _result("holds", f"{main}; passed {passed}", evidence, **numbers)
    if alone is not None:
        evidence.append(alone)
    if heldout.p_value(sign) < alpha:
        return _result("explained by a control", HELDOUT_CONTROL, evidence, **numbers)
    return _result("undecided", "held-out control inconclusive", evidence, **numbers)


def _fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p (scipy.stats.false_discovery_control) of the finite entries; NaN elsewhere."""
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = stats.false_discovery_control(p[finite])
    return q


# ---- precondition (0) -----------------------------------------------------------------------------


def generalization_lag(
    matching: Sequence[pd.DataFrame],
    t_star: Sequence[pd.DataFrame],
    t_sharp: Sequence[pd.DataFrame],
    settings: VerdictSettings | None = None,
) -> dict:
    """Precondition row fields (verdict, evidence, numbers):
    do test items' t# come after memorized samples' t* (per seed lists)?

    Test: per seed, one-sided Mann-Whitney U (scipy.stats.mannwhitneyu) of t# (test items with a t#)
    against t* (samples with a t*), combined over seeds by Stouffer's method. estimate = median t# -
    median t* over all seeds (steps); n, fraction = matched pairs and the share with delay > 0.
    """
    settings = settings or VerdictSettings()
    if not len(matching) == len(t_star) == len(t_sharp):
        raise ValueError("matching, t_star and t_sharp need one table per seed each")
    for table, name, columns in (
        (matching, "matching", ["delay"]),
        (t_star, "t_star", ["t_star"]),
        (t_sharp, "t_sharp", ["t_sharp"]),
    ):
        for t in table:
            _require(t, columns, name)
    memorized = [t["t_star"].to_numpy(dtype=np.float64) for t in t_star]
    generalized = [t["t_sharp"].to_numpy(dtype=np.float64) for t in t_sharp]
    memorized, generalized = [m[m >= 0] for m in memorized], [g[g >= 0] for g in generalized]
    delays = np.concatenate([t["delay"].to_numpy(dtype=np.float64) for t in matching])
    numbers = {
        "n": len(delays),
        "n_seeds": len(t_star),
        "fraction": float((delays > 0).mean()) if len(delays) else np.nan,
    }
    usable = [(m, g) for m, g in zip(memorized, generalized) if len(m) and len(g)]
    if not usable:
        return _result(
            "undecided", "no memorized or no generalized items", ["no seed has both a t* and a t#"], **numbers
        )
    p = {
        sign: controls.stouffer(
            [stats.mannwhitneyu(g, m, alternative="greater" if sign > 0 else "less").pvalue for m, g in usable]
        )
        for sign in (1, -1)
    }
    all_m, all_g = np.concatenate([m for m, _ in usable]), np.concatenate([g for _, g in usable])
    numbers.update(estimate=float(np.median(all_g) - np.median(all_m)), p_value=p[1])
    evidence = [
        (
            f"median t# {np.median(all_g):g} - median t* {np.median(all_m):g} = {numbers['estimate']:+g} steps "
            f"({len(all_g)} test items, {len(all_m)} memorized samples; one-sided Mann-Whitney p {p[1]:.2g})"
        ),
        f"matched delays: {len(delays)} pairs"
        + (f", median {np.median(delays):+g} steps, {int((delays > 0).sum())} positive" if len(delays) else ""),
    ]
    if p[1] < settings.alpha:
        return _result("holds", "t# later than t* (Mann-Whitney)", evidence, **numbers)
    if p[-1] < settings.alpha:
        return _result("does not hold", "t# earlier than t* (Mann-Whitney)", evidence, **numbers)
    return _result("undecided", "t# and t* not distinguishable", evidence, **numbers)


# ---- trend claims (1, 2) -------------------------------------------------------------------------


def trend_verdict(groups: Sequence[GroupSeries], claim: Claim, settings: VerdictSettings, n_seeds: int) -> dict:
    """Verdict fields of a trend claim from the Pretrain@t* groups of all seeds (rules in the module docstring)."""
    s, sign = settings, claim.sign
    numbers = {"n_seeds": n_seeds}
    eligible = [
        g for g in groups if g.n >= s.min_group_size and np.isfinite(g.metric[g.t_index :]).sum() >= s.min_trend_points
    ]
    numbers["n"] = len(eligible)
    if len(eligible) < s.min_groups:
        evidence = [
            (
                f"{len(eligible)} of {len(groups)} groups have >= {s.min_group_size} samples "
                f"and >= {s.min_trend_points} checkpoints from t* on (need {s.min_groups})"
            )
        ]
        return _result("undecided", "too few groups", evidence, **numbers)
    main = _change_test(eligible, lambda g: g.metric)
    ends = [_end_change(g.metric[g.t_index :]) for g in eligible]
    word = "fall" if sign < 0 else "rise"
    half = special.stdtrit(main.df, 0.975) * main.se if main.df >= 1 else np.nan
    low, high = main.estimate - half, main.estimate + half
    fraction = float(np.mean([sign * c > 0 for c in ends]))
    numbers.update(fraction=fraction, estimate=main.estimate, ci_low=low, ci_high=high, p_value=main.p_value(sign))
    evidence = [
        (
            f"{sum(sign * c > 0 for c in ends)}/{len(eligible)} groups {word} from t* to the end; weighted mean change "
            f"{main.estimate:+.2%} of the t* value per checkpoint (95% CI [{low:+.2%}, {high:+.2%}], "
            f"one-sided p {numbers['p_value']:.2g}, {main.df + 1} changes, weights = group sizes)"
        )
    ]
    against = ("does not hold", _against_reason(main, sign, s.alpha, f"{s.trend_margin:.1%} per checkpoint"))
    if done := _unless_supported(
        main, sign, s.trend_margin, s.alpha, against, "trend test not significant", evidence, numbers
    ):
        return done
    if claim.length_metric:
        length = _change_test(eligible, lambda g: g.controlled)
        numbers["length_control"] = length.estimate
        evidence.append(
            f"length-normalized distance changes {length.estimate:+.2%} per checkpoint (p {length.p_value(sign):.2g})"
        )
        control = ("explained by a control", LENGTH_CONTROL)
        if done := _unless_supported(
            length, sign, s.trend_margin, s.alpha, control, "length control inconclusive", evidence, numbers
        ):
            return done
    paired = [g for g in eligible if (np.isfinite(g.heldout) & np.isfinite(g.controlled))[g.t_index :].sum() >= 2]
    if not paired:
        evidence.append("no held-out (validation) values over the groups' checkpoints")
        return _result("undecided", "held-out control unavailable", evidence, **numbers)
    contrast = _change_test(paired, lambda g: g.controlled - g.heldout, lambda g: g.controlled)
    numbers["heldout_control"] = contrast.estimate
    name = "length-normalized distance" if claim.length_metric else claim.metric
    evidence.append(
        f"group minus held-out items ({name}) changes {contrast.estimate:+.2%} per checkpoint "
        f"(p {contrast.p_value(sign):.2g})"
    )
    heldout = _heldout_test(paired)
    alone = f"held-out items alone change {heldout.estimate:+.2%} per checkpoint (p {heldout.p_value(sign):.2g})"
    return _heldout_outcome(contrast, heldout, sign, s.alpha, claim, "weighted trend test", evidence, numbers, alone)


def _change_test(groups: Sequence[GroupSeries], values, scale_values=None) -> controls.MeanTest:
    """Weighted test of values(g)'s checkpoint changes from t* on,
    in units of the median |t* value| of (scale_values or values)(g)."""
    scale_of = scale_values or values
    starts = [v[np.isfinite(v)][0] for g in groups if np.isfinite(v := scale_of(g)[g.t_index :]).any()]
    scale = float(np.median(np.abs(starts))) if starts else 0.0
    changes = [controls.changes_from(values(g), g.t_index) for g in groups]
    weights = [np.full(len(c), float(g.n)) for g, c in zip(groups, changes)]
    return controls.weighted_mean_test(np.concatenate(changes) / (scale or 1.0), np.concatenate(weights))


def _end_change(values: np.ndarray) -> float:
    """Last minus first finite value of values float[k] (NaN with fewer than 2)."""
    points = values[np.isfinite(values)]
    return float(points[-1] - points[0]) if points.size >= 2 else np.nan


def _heldout_test(groups: Sequence[GroupSeries]) -> controls.MeanTest:
    """Equal-weight test of the held-out series' changes from each seed's earliest eligible t* on
    (one series per seed)."""
    first = {}
    for g in groups:
        first[g.block] = g if g.block not in first or g.t_index < first[g.block].t_index else first[g.block]
    start = float(
        np.median([np.abs(g.heldout[g.t_index :][np.isfinite(g.heldout[g.t_index :])][0]) for g in first.values()])
    )
    changes = np.concatenate([controls.changes_from(g.heldout, g.t_index) for g in first.values()])
    return controls.weighted_mean_test(changes / (start or 1.0), np.ones(len(changes)))


def _against_reason(test, sign: int, alpha: float, margin: str) -> str:
    if test.p_value(-sign) < alpha:
        return "opposite direction (one-sided test)"
    return f"effect below the margin ({margin}; one-sided bound)"


def _trend_from_tables(tables: list[pd.DataFrame], claim: Claim, settings: VerdictSettings) -> dict:
    controlled = claim.length_metric or claim.metric
    for table in tables:
        _require(table, ["group", "t_star", "step", "n"], "groups")
        if {claim.metric, controlled} - set(table.columns):
            return _result(
                "undecided",
                "metric missing",
                [f"groups table has no {claim.metric} or {controlled} column"],
                n_seeds=len(tables),
            )
    groups = [g for block, table in enumerate(tables) for g in _group_series(table, block, claim.metric, controlled)]
    return trend_verdict(groups, claim, settings, len(tables))


def _group_series(table: pd.DataFrame, block: int, metric: str, controlled: str) -> list[GroupSeries]:
    """The Pretrain@t* groups of one seed's group table as `GroupSeries` over its checkpoints."""
    steps = np.sort(table["step"].unique())
    heldout = _on_steps(table[table["group"] == "validation"], steps, controlled)
    out = []
    for _, rows in table[table["t_star"] >= 0].groupby("group"):
        t_index = int(np.searchsorted(steps, rows["t_star"].iloc[0]))
        if t_index < len(steps):
            out.append(
                GroupSeries(
                    int(rows["n"].iloc[0]),
                    t_index,
                    block,
                    _on_steps(rows, steps, metric),
                    _on_steps(rows, steps, controlled),
                    heldout,
                )
            )
    return out


def _on_steps(rows: pd.DataFrame, steps: np.ndarray, column: str) -> np.ndarray:
    """float[len(steps)]: the column's value at each step, NaN where the rows have none."""
    if column not in rows:
        return np.full(len(steps), np.nan)
    return rows.set_index("step")[column].reindex(steps).to_numpy(dtype=np.float64)


# ---- correlation claims (3, 4, 5) ----------------------------------------------------------------


class _Window:
    """The series' checkpoints that Table 1 correlates over, as arrays float[n_seeds, n]."""

    def __init__(self, tables: list[pd.DataFrame], checkpoints: str, window_kwargs: dict):
        for table in tables:
            _require(table, ["step", "accuracy"], "series")
        steps = tables[0]["step"].to_numpy()
        if any(not np.array_equal(t["step"].to_numpy(), steps) for t in tables):
            raise ValueError("series of different seeds must share the same steps")
        self.tables = tables
        mean_accuracy = np.stack([t["accuracy"].to_numpy(dtype=np.float64) for t in tables]).mean(axis=0)
        self.start = correlation.checkpoint_window(mean_accuracy, checkpoints, **window_kwargs)
        self.first_step = int(steps[self.start])

    def columns(self) -> dict[str, np.ndarray]:
        """Every numeric column except step and accuracy, float[n_seeds, n] on the window's checkpoints."""
        names = [c for c in self.tables[0].columns if c not in ("step", "accuracy")]
        return {c: np.stack([t[c].to_numpy(dtype=np.float64) for t in self.tables])[:, self.start :] for c in names}

    def accuracy(self) -> np.ndarray:
        """float[n_seeds, n]: accuracy on the window's checkpoints."""
        return np.stack([t["accuracy"].to_numpy(dtype=np.float64) for t in self.tables])[:, self.start :]


def _correlation(columns: Mapping[str, np.ndarray], accuracy: np.ndarray, column, settings: VerdictSettings):
    """(CorrelationTest or None, n) of a column (or a callable of the columns) vs accuracy over the checkpoints where
    all are finite."""
    metric = column(columns) if callable(column) else columns[column]
    keep = np.isfinite(metric).all(axis=0) & np.isfinite(accuracy).all(axis=0)
    n = int(keep.sum())
    return (controls.correlation_test(metric[:, keep], accuracy[:, keep]) if n >= settings.min_checkpoints else None), n


def correlation_verdict(
    columns: Mapping[str, np.ndarray],
    accuracy: np.ndarray,
    claim: Claim,
    settings: VerdictSettings,
    first_step: int | None = None,
) -> dict:
    """Verdict fields of a correlation claim (3, 4) from windowed series columns and accuracy,
    float[n_seeds, n] each."""
    s, sign = settings, claim.sign
    numbers = {"n_seeds": len(accuracy)}
    if claim.metric not in columns:
        return _result("undecided", "metric missing", [f"series has no {claim.metric} column"], **numbers)
    main, numbers["n"] = _correlation(columns, accuracy, claim.metric, s)
    if main is None:
        return _result(
            "undecided", "too few checkpoints", [f"{numbers['n']} checkpoints (need {s.min_checkpoints})"], **numbers
        )
    low, high = main.interval(0.95)
    numbers.update(estimate=main.r, ci_low=low, ci_high=high, r_diff=main.r_diff, p_value=main.p_value(sign))
    where = f" from step {first_step}" if first_step is not None else ""
    evidence = [
        (
            f"r = {main.r:+.2f} over {main.n} checkpoints{where} "
            f"(95% CI [{low:+.2f}, {high:+.2f}]: {main.describe_interval()}); "
            f"first differences r = {main.r_diff:+.2f}; one-sided p levels {main.p_levels[sign]:.2g}, "
            f"differences {main.p_diff[sign]:.2g}"
        )
    ]
    # The claimed-sign r's bound: "r > -0.5" refutes a claimed r <= -0.5 (claim 3), also when r itself is positive.
    margin = f"r {'>' if sign < 0 else '<'} {sign * s.correlation_margin:+g}"
    against = ("does not hold", _against_reason(main, sign, s.alpha, margin))
    if done := _unless_supported(
        main,
        sign,
        s.correlation_margin,
        s.alpha,
        against,
        "not significant in both levels and first differences",
        evidence,
        numbers,
    ):
        return done
    controlled = claim.length_metric or claim.metric
    if claim.length_metric:
        length, _ = (
            _correlation(columns, accuracy, claim.length_metric, s) if claim.length_metric in columns else (None, 0)
        )
        numbers["length_control"] = np.nan if length is None else length.r
        if length is None:
            evidence.append(f"no usable {claim.length_metric} series")
            return _result("undecided", "length control unavailable", evidence, **numbers)
        evidence.append(
            f"length-normalized distance r = {length.r:+.2f} "
            f"(differences {length.r_diff:+.2f}, p {length.p_value(sign):.2g})"
        )
        control = ("explained by a control", LENGTH_CONTROL)
        if done := _unless_supported(
            length, sign, s.correlation_margin, s.alpha, control, "length control inconclusive", evidence, numbers
        ):
            return done
    heldout_column = "validation_" + controlled
    heldout = _correlation(columns, accuracy, heldout_column, s)[0] if heldout_column in columns else None
    if heldout is None:
        evidence.append(f"no usable {heldout_column} series")
        return _result("undecided", "held-out control unavailable", evidence, **numbers)
    contrast, _ = _correlation(columns, accuracy, lambda c: c[controlled] - c[heldout_column], s)
    numbers["heldout_control"] = contrast.r
    evidence.append(
        f"memorized minus held-out {controlled} r = {contrast.r:+.2f} (p {contrast.p_value(sign):.2g}); "
        f"held-out alone r = {heldout.r:+.2f} (p {heldout.p_value(sign):.2g})"
    )
    return _heldout_outcome(contrast, heldout, sign, s.alpha, claim, "levels and first differences", evidence, numbers)


def loss_verdict(columns: Mapping[str, np.ndarray], accuracy: np.ndarray, settings: VerdictSettings) -> dict:
    """Verdict fields of claim 5 from windowed series columns and accuracy, float[n_seeds, n] each."""
    s = settings
    numbers = {"n_seeds": len(accuracy)}
    present = [c for c in LOSS_COLUMNS if c in columns]
    if not present:
        return _result("undecided", "metric missing", ["series has no loss column"], **numbers)
    tests = {c: _correlation(columns, accuracy, c, s) for c in present}
    usable = {c: t for c, (t, _) in tests.items() if t is not None}
    if not usable:
        n = max(n for _, n in tests.values())
        return _result(
            "undecided", "too few checkpoints", [f"{n} checkpoints (need {s.min_checkpoints})"], n=n, **numbers
        )
    # Two-sided p of "tracks accuracy" (levels and differences agree on a sign), Bonferroni over the losses.
    tracking_p = {c: min(1.0, 2 * len(present) * min(t.p_value(1), t.p_value(-1))) for c, t in usable.items()}
    strongest = min(usable, key=lambda c: np.nan_to_num(tracking_p[c], nan=2.0))
    t = usable[strongest]
    low, high = t.interval(0.95)
    numbers.update(
        metric=strongest, n=t.n, estimate=t.r, ci_low=low, ci_high=high, r_diff=t.r_diff, p_value=tracking_p[strongest]
    )
    evidence = [
        f"{LOSS_COLUMNS[c]} r = {u.r:+.2f} (differences {u.r_diff:+.2f}; Bonferroni p {tracking_p[c]:.2g})"
        for c, u in usable.items()
    ]
    evidence.append(f"95% CI of the {LOSS_COLUMNS[strongest]} r [{low:+.2f}, {high:+.2f}] ({t.describe_interval()})")
    if tracking_p[strongest] < s.alpha:
        return _result("does not hold", "a loss tracks accuracy in levels and first differences", evidence, **numbers)
    if len(usable) == len(present) and all(_shown_absent(u, s) for u in usable.values()):
        return _result("holds", f"every loss |r| < {s.correlation_margin:g} (one-sided bounds)", evidence, **numbers)
    return _result("undecided", f"a loss's |r| not shown below {s.correlation_margin:g}", evidence, **numbers)


def _shown_absent(test: controls.CorrelationTest, s: VerdictSettings) -> bool:
    """A loss does not track accuracy: |r| shown below the margin in levels or in first differences (tracking needs
    both), each by both one-sided (1 - alpha / 2) bounds (Bonferroni over the two)."""
    return any(
        test.bound(1, s.alpha / 2, d) < s.correlation_margin and test.bound(-1, s.alpha / 2, d) < s.correlation_margin
        for d in (False, True)
    )


def _as_list(tables: pd.DataFrame | Sequence[pd.DataFrame], name: str) -> list[pd.DataFrame]:
    tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise ValueError(f"{name} must be a DataFrame or a non-empty list of DataFrames (one per seed)")
    return tables


def _require(table: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"{name} table lacks columns {missing}")
