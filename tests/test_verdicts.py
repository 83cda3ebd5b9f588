"""Verdicts on constructed routing whose pathway strings behave in known ways, run through the real pathway tables."""

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from grokmon.claims.verdicts import (
    COLUMNS,
    HELDOUT_CONTROL,
    LENGTH_CONTROL,
    NO_GROKKING,
    VerdictSettings,
    claim_verdicts,
    generalization_lag,
    verdicts_markdown,
)
from grokmon.workflow import tables

STEPS = np.arange(100, 900, 100)  # 8 checkpoints
N_LAYERS, N_EXPERTS = 4, 8
# Tracked training samples: three Pretrain@t* groups of 6 (t* = steps 200, 300, 400) and 4 never memorized.
T_INDEX = np.array([1] * 6 + [2] * 6 + [3] * 6 + [-1] * 4)
T_STAR = pd.DataFrame({"sample": np.arange(len(T_INDEX)), "t_star": np.where(T_INDEX >= 0, STEPS[T_INDEX], -1)})
ACCURACY = np.array([0.1, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])  # sustained rise from index 1 (step 200)
_rng = np.random.default_rng(0)
# A fixed random expert order per sample and layer (the sample's "disorder"), and one shared template.
ORDERS = {
    split: np.argsort(_rng.random((n, N_LAYERS, N_EXPERTS)), axis=-1)
    for split, n in (("train", 22), ("validation", 12), ("test", 6))
}
TEMPLATE = np.argsort(_rng.random((N_LAYERS, N_EXPERTS)), axis=-1)
ROUTERS = _rng.normal(size=(N_LAYERS, N_EXPERTS, 6))


def routing(orders: np.ndarray, k) -> np.ndarray:
    """Routing [n, L, E] whose 0.7 cut takes exactly k experts per layer (k <= 5), in the sample's order.

    The k leading experts share 0.75 (cumulative weight passes 0.7 at the k-th, never before), with
    offsets of 1e-3 that fix their rank order; the other E - k share 0.25.
    """
    k = np.broadcast_to(np.asarray(k), (len(orders),))[:, None]
    rank = np.arange(N_EXPERTS)[None]
    profile = np.where(rank < k, 0.75 / k + (k - 1 - 2 * rank) * 1e-3, 0.25 / (N_EXPERTS - k))
    weights = np.zeros(orders.shape)
    np.put_along_axis(weights, orders, np.broadcast_to(profile[:, None, :], orders.shape), axis=-1)
    return weights


def converged(orders: np.ndarray, n_layers) -> np.ndarray:
    """Orders whose first n_layers[i] layers are replaced by the shared template (identical pathways there)."""
    out = orders.copy()
    for i, m in enumerate(np.broadcast_to(np.asarray(n_layers), (len(orders),))):
        out[i, :m] = TEMPLATE[:m]
    return out


def since_memorized(c: int) -> np.ndarray:
    """Checkpoints since each training sample's t* at checkpoint index c (0 before t* and if never memorized)."""
    return np.where(T_INDEX >= 0, np.clip(c - T_INDEX, 0, None), 0)


def shorter_strings(c):
    """(a) After t*, routing sharpens: 5, 4, 3, then 2 experts pass the cut, same random order. Held-out: 5 always."""
    return {
        "train": routing(ORDERS["train"], np.maximum(5 - since_memorized(c), 2)),
        "validation": routing(ORDERS["validation"], 5),
        "test": routing(ORDERS["test"], 5),
    }


def memorized_converge(c):
    """(b) After t*, one more layer per checkpoint follows the template (identical across samples);
    held-out stay random."""
    return {
        "train": routing(converged(ORDERS["train"], np.minimum(since_memorized(c), N_LAYERS)), 4),
        "validation": routing(ORDERS["validation"], 4),
        "test": routing(ORDERS["test"], 4),
    }


def global_sharpening(c):
    """(c) Every item, trained or not, converges on the same schedule (one layer per two checkpoints)."""
    return {split: routing(converged(orders, min(c // 2, N_LAYERS)), 4) for split, orders in ORDERS.items()}


def tables_of(world):
    """The workflow's per-domain tables: stacked pathway_tables per checkpoint (groups.tsv) and domain_series
    (series.tsv)."""
    groups = pd.concat(
        [tables.pathway_tables(world(c), ROUTERS, T_STAR)[0].assign(step=step) for c, step in enumerate(STEPS)],
        ignore_index=True,
    )
    train_loss = np.linspace(2.0, 1.0, len(STEPS))[:, None] + np.zeros(len(T_INDEX))  # falls as accuracy rises
    validation_loss = np.array([2.0, 1.9, 2.1, 1.8, 2.0, 2.2, 1.9, 2.0])
    return groups, tables.domain_series(STEPS, ACCURACY, train_loss, T_STAR, validation_loss, groups)


@pytest.fixture(scope="module")
def worlds():
    return {world.__name__: tables_of(world) for world in (shorter_strings, memorized_converge, global_sharpening)}


SMALL = VerdictSettings(min_group_size=6)  # the constructed groups have 6 samples each (default minimum 10)


def verdicts(groups, series, **kwargs):
    return claim_verdicts({"toy": groups}, {"toy": series}, **{"settings": SMALL, **kwargs}).set_index("claim")


SMOOTH = "not significant in both levels and first differences"


def test_shorter_strings_are_a_length_artifact(worlds):
    groups, series = worlds["shorter_strings"]
    g = groups.set_index(["group", "step"])
    # Pretrain@200 (t* index 1): 5, 4, 3, 2 experts per layer -> strings of 39, 31, 23, 15 characters.
    assert g.loc[("Pretrain@200", 200), "path_length"] == 39 and g.loc[("Pretrain@200", 500), "path_length"] == 15
    assert g.loc[("Pretrain@200", 800), "distance"] < 0.5 * g.loc[("Pretrain@200", 200), "distance"]
    assert g.loc[("Pretrain@200", 800), "distance_normalized"] > g.loc[("Pretrain@200", 200), "distance_normalized"]
    v = verdicts(groups, series)
    row = v.loc["distance_falls"]
    assert (row.verdict, row.decided_by) == ("explained by a control", LENGTH_CONTROL)
    assert (row.n, row.fraction) == (3, 1.0) and row.estimate < -0.05 and row.p_value < 0.001
    assert row.length_control > 0  # the normalized distance rises: evidence against the claim
    assert "length-normalized distance changes +" in row.evidence
    # Accuracy and distance are both smooth here: a strong r in levels, none in the first differences.
    corr = v.loc["distance_vs_accuracy"]
    assert (corr.verdict, corr.decided_by) == ("undecided", SMOOTH)
    assert corr.estimate < -0.8 and corr.ci_high < 0 and corr.r_diff > 0
    assert corr.n == 7  # checkpoints from the sustained rise (step 200) on


def test_memorized_convergence_holds(worlds):
    groups, series = worlds["memorized_converge"]
    g = groups.set_index(["group", "step"])
    assert g.loc[("Pretrain@200", 600), "distance"] == 0  # all four layers on the template: identical strings
    assert g.loc[("validation", 100), "distance"] == g.loc[("validation", 800), "distance"] > 10
    v = verdicts(groups, series)
    row = v.loc["distance_falls"]
    assert row.verdict == "holds" and "passed length and held-out controls" in row.decided_by
    assert (row.n, row.n_seeds, row.fraction) == (3, 1, 1.0)
    # Same string lengths and a constant held-out distance: the raw, normalized and contrast tests agree.
    assert row.estimate == pytest.approx(row.length_control) == pytest.approx(row.heldout_control)
    assert row.estimate < -0.1 and row.ci_high < 0 and row.p_value < 1e-4
    assert v.loc["distance_vs_accuracy", "decided_by"] == SMOOTH
    # Claim 5: the training loss falls linearly: r = -0.98 in levels, constant differences (no test).
    loss = v.loc["losses_vs_accuracy"]
    assert loss.verdict == "undecided" and loss.estimate < -0.95 and "not shown below 0.5" in loss.decided_by


def test_global_sharpening_is_explained_by_held_out_items(worlds):
    groups, series = worlds["global_sharpening"]
    v = verdicts(groups, series)
    row = v.loc["distance_falls"]
    assert (row.verdict, row.decided_by) == ("explained by a control", HELDOUT_CONTROL)
    assert (
        row.fraction == 1.0 and row.length_control == pytest.approx(row.estimate) and row.estimate < 0
    )  # passes length
    assert abs(row.heldout_control) < 0.01  # the group moves no more than the held-out items
    assert "held-out items alone change -" in row.evidence


def test_table_shape_and_markdown(worlds):
    groups, series = worlds["memorized_converge"]
    table = claim_verdicts(
        {"math": groups, "code": groups}, {"math": series, "code": series}, checkpoints="all", settings=SMALL
    )
    assert list(table.columns) == COLUMNS
    assert len(table) == 14 and table.groupby("domain").size().tolist() == [7, 7]
    assert sorted(table["number"].unique()) == [1, 2, 3, 4, 5]
    assert set(table["verdict"]) <= {"holds", "does not hold", "explained by a control", "undecided"}
    assert (table.loc[table.claim == "distance_vs_accuracy", "n"] == 8).all()  # all checkpoints
    p = table["p_value"].to_numpy()
    finite = np.isfinite(p)
    np.testing.assert_allclose(table["q_value"].to_numpy()[finite], stats.false_discovery_control(p[finite]))
    md = verdicts_markdown(table)
    lines = md.strip().split("\n")
    assert len(lines) == 2 + 14 and lines[0].startswith("| domain | # | claim | verdict")
    assert "| math | 1 | Pathway distance falls after memorization | **holds** |" in md
    assert all(line.count(" | ") == 5 for line in lines[2:])  # "|" inside cells (as in |r|) is escaped
    assert NO_GROKKING not in md  # no precondition rows


def test_several_seeds_pool_groups(worlds):
    groups, series = worlds["memorized_converge"]
    v = claim_verdicts({"toy": [groups, groups]}, {"toy": [series, series]}, settings=SMALL).set_index("claim")
    assert (v.loc["distance_falls", "n"], v.loc["distance_falls", "n_seeds"]) == (6, 2)
    assert v.loc["distance_falls", "verdict"] == "holds"
    corr = v.loc["distance_vs_accuracy"]
    assert corr.n_seeds == 2 and corr.ci_low == corr.ci_high == pytest.approx(corr.estimate)  # identical seeds
    assert "t over 2 seeds" in corr.evidence


def test_small_groups_or_no_held_out_items_are_undecided(worlds):
    groups, series = worlds["memorized_converge"]
    row = claim_verdicts({"toy": groups}, {"toy": series}).set_index("claim").loc["distance_falls"]
    assert (row.verdict, row.decided_by, row.n) == ("undecided", "too few groups", 0)  # groups of 6 < 10 samples
    assert "need 3" in row.evidence
    two_groups = groups[groups["group"] != "Pretrain@200"]
    row = verdicts(two_groups, series).loc["distance_falls"]
    assert (row.verdict, row.decided_by, row.n) == ("undecided", "too few groups", 2)
    no_heldout = groups[groups["group"] != "validation"]
    row = verdicts(no_heldout, series).loc["distance_falls"]
    assert (row.verdict, row.decided_by) == ("undecided", "held-out control unavailable")


def series_of(accuracy, **columns):
    return pd.DataFrame({"step": 100 * np.arange(1, len(accuracy) + 1), "accuracy": accuracy, **columns})


NO_GROUPS = pd.DataFrame(columns=["group", "t_star", "step", "n", "distance", "distance_normalized"])
# Accuracy with checkpoint-to-checkpoint wiggles that a tracking metric follows.
ACC = np.array([0.10, 0.30, 0.25, 0.50, 0.45, 0.70, 0.65, 0.90])
WIGGLE = np.array([0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.015, 0.005])  # small independent noise


def test_correlation_rules_on_hand_built_series():
    tracking = 10 - 8 * ACC + WIGGLE
    base = {
        "distance": tracking,
        "distance_normalized": tracking / 20,
        "validation_distance_normalized": 0.5 + WIGGLE[::-1],
    }
    row = verdicts(NO_GROUPS, series_of(ACC, **base), checkpoints="all").loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == (
        "holds",
        "levels and first differences; passed length and held-out controls",
    )
    assert row.estimate < -0.99 and row.r_diff < -0.99 and row.p_value < 1e-4 and row.heldout_control < -0.99
    # The normalized distance rises with accuracy: the fall is string length.
    length = {**base, "distance_normalized": 0.2 + 0.3 * ACC + WIGGLE}
    row = verdicts(NO_GROUPS, series_of(ACC, **length), checkpoints="all").loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("explained by a control", LENGTH_CONTROL) and row.length_control > 0.95
    # The held-out items track accuracy exactly as much: explained by them.
    shared = {**base, "validation_distance_normalized": tracking / 20 + WIGGLE / 100}
    row = verdicts(NO_GROUPS, series_of(ACC, **shared), checkpoints="all").loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("explained by a control", HELDOUT_CONTROL)
    row = verdicts(
        NO_GROUPS,
        series_of(ACC, **{k: v for k, v in base.items() if k != "validation_distance_normalized"}),
        checkpoints="all",
    ).loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("undecided", "held-out control unavailable")
    # Distance rising with accuracy in levels and differences (the toy study's finding): does not hold.
    rising = {**base, "distance": 2 + 8 * ACC + WIGGLE}
    row = verdicts(NO_GROUPS, series_of(ACC, **rising), checkpoints="all").loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == (
        "does not hold",
        "opposite direction (one-sided test)",
    ) and row.ci_low > 0.9
    # Rising in levels only (a smooth trend, differences unrelated, r_diff +0.14): the claimed-sign r's bound is the
    # reason, stated as the bound on r itself (r = +0.96 is not "|r| < 0.5"); claim 4 mirrored.
    smooth = 2 + 8 * np.linspace(0.1, 0.9, 8) + WIGGLE
    table = verdicts(NO_GROUPS, series_of(ACC, **{**base, "distance": smooth}, consistency=-smooth), checkpoints="all")
    row = table.loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("does not hold", "effect below the margin (r > -0.5; one-sided bound)")
    assert row.estimate == pytest.approx(0.959, abs=1e-3) and row.r_diff == pytest.approx(0.143, abs=1e-3)
    row = table.loc["consistency_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("does not hold", "effect below the margin (r < +0.5; one-sided bound)")
    # Noise: undecided, not "does not hold".
    noise = {**base, "distance": np.array([5.0, 3.0, 6.0, 2.0, 5.5, 4.0, 3.5, 4.5])}
    row = verdicts(NO_GROUPS, series_of(ACC, **noise), checkpoints="all").loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("undecided", SMOOTH)
    # Four checkpoints after the rise: too few (minimum 5).
    late = series_of(np.array([0.1, 0.1, 0.1, 0.1, 0.5, 0.6, 0.9]), distance=[9.0, 9, 9, 6, 4, 3, 2])
    row = verdicts(NO_GROUPS, late).loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by, row.n) == ("undecided", "too few checkpoints", 4)
    assert verdicts(NO_GROUPS, late).loc["consistency_vs_accuracy", "decided_by"] == "metric missing"


def test_loss_claim():
    # A training loss that follows accuracy's wiggles tracks it (levels and differences): does not hold.
    tracks = series_of(ACC, train_loss=2 - ACC + WIGGLE, validation_loss=2 + WIGGLE[::-1])
    row = verdicts(NO_GROUPS, tracks, checkpoints="all").loc["losses_vs_accuracy"]
    assert (row.verdict, row.metric) == ("does not hold", "train_loss") and row.estimate < -0.99
    two_sided = 2 * max(
        stats.pearsonr(2 - ACC + WIGGLE, ACC, alternative="less").pvalue,
        stats.pearsonr(np.diff(2 - ACC + WIGGLE), np.diff(ACC), alternative="less").pvalue,
    )
    assert row.p_value == pytest.approx(2 * two_sided)  # Bonferroni over the two losses present
    # Three seeds whose losses are orthogonal to accuracy (r = 0 in each): |r| < 0.5 shown -> holds.
    centered = ACC - ACC.mean()
    flat = WIGGLE - (WIGGLE @ centered) / (centered @ centered) * centered
    seeds = [series_of(ACC, train_loss=1 + flat, validation_loss=2 + flat)] * 3
    row = (
        claim_verdicts({"toy": [NO_GROUPS] * 3}, {"toy": seeds}, checkpoints="all")
        .set_index("claim")
        .loc["losses_vs_accuracy"]
    )
    assert row.verdict == "holds" and abs(row.estimate) < 1e-9 and row.ci_low == pytest.approx(0, abs=1e-9)
    # One seed of that: the Fisher-z interval over 8 checkpoints is too wide to show |r| < 0.5.
    row = verdicts(NO_GROUPS, seeds[0], checkpoints="all").loc["losses_vs_accuracy"]
    assert (row.verdict, row.decided_by) == ("undecided", "a loss's |r| not shown below 0.5")
    # Losses that rise with training as accuracy does (levels r 0.96) but whose steps are orthogonal to accuracy's
    # (differences r = 0 in each of three seeds): they do not track it (tracking needs both) -> holds.
    steps = np.diff(ACC) - np.diff(ACC).mean()
    wiggle = np.diff(WIGGLE) - np.diff(WIGGLE).mean()
    flat_steps = wiggle - (wiggle @ steps) / (steps @ steps) * steps
    trend = np.concatenate([[1.0], 1.0 + np.cumsum(0.1 + flat_steps)])
    seeds = [series_of(ACC, train_loss=trend, validation_loss=trend + 1)] * 3
    row = (
        claim_verdicts({"toy": [NO_GROUPS] * 3}, {"toy": seeds}, checkpoints="all")
        .set_index("claim")
        .loc["losses_vs_accuracy"]
    )
    assert row.estimate > 0.9 and row.ci_low > 0.9 and row.r_diff == pytest.approx(0, abs=1e-9)
    assert row.verdict == "holds"


LAG_T_STAR = pd.DataFrame({"sample": range(5), "t_star": [100, 100, 200, 200, -1]})
LAG_T_SHARP = pd.DataFrame({"doc_id": range(4), "t_sharp": [300, 400, 400, -1]})
MATCHED = pd.DataFrame({"train_step": [100, 200], "test_step": [300, 400], "delay": [200, 200]})


def test_generalization_lag():
    row = generalization_lag([MATCHED], [LAG_T_STAR], [LAG_T_SHARP])
    assert (row["verdict"], row["n"], row["fraction"]) == ("holds", 2, 1.0)
    assert row["estimate"] == 400 - 150  # median t# 400, median t* 150
    assert row["p_value"] == pytest.approx(
        stats.mannwhitneyu([300, 400, 400], [100, 100, 200, 200], alternative="greater").pvalue
    )
    early = LAG_T_SHARP.assign(t_sharp=[100, 100, 100, -1])
    late_memory = LAG_T_STAR.assign(t_star=[300, 300, 400, 400, -1])
    row = generalization_lag([MATCHED.assign(delay=-200)], [late_memory], [early])
    assert row["verdict"] == "does not hold" and row["estimate"] < 0 and row["fraction"] == 0
    row = generalization_lag([MATCHED], [LAG_T_STAR], [LAG_T_SHARP.assign(t_sharp=[150, 150, -1, -1])])
    assert row["verdict"] == "undecided"
    row = generalization_lag([MATCHED.iloc[:0]], [LAG_T_STAR], [LAG_T_SHARP.assign(t_sharp=-1)])
    assert (row["verdict"], row["decided_by"], row["n"]) == ("undecided", "no memorized or no generalized items", 0)


def test_precondition_rows_and_the_no_grokking_note(worlds):
    groups, series = worlds["memorized_converge"]
    lag = {"matching": {"toy": MATCHED}, "t_star": {"toy": LAG_T_STAR}, "t_sharp": {"toy": LAG_T_SHARP}}
    table = claim_verdicts({"toy": groups}, {"toy": series}, settings=SMALL, **lag)
    assert table["claim"].tolist()[0] == "generalization_lags" and len(table) == 8 and table["number"].iloc[0] == 0
    assert table["verdict"].iloc[0] == "holds" and NO_GROKKING not in verdicts_markdown(table)
    none = claim_verdicts(
        {"toy": groups}, {"toy": series}, settings=SMALL, **{**lag, "t_sharp": {"toy": LAG_T_SHARP.assign(t_sharp=-1)}}
    )
    assert none["verdict"].iloc[0] == "undecided" and verdicts_markdown(none).strip().endswith(NO_GROKKING)
    with pytest.raises(ValueError, match="together"):
        claim_verdicts({"toy": groups}, {"toy": series}, matching={"toy": MATCHED})


def test_settings_defaults_match_the_schema():
    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    section = schema["properties"]["verdicts"]["properties"]
    assert {k: v["default"] for k, v in section.items()} == {f.name: f.default for f in fields(VerdictSettings)}
    assert VerdictSettings.from_config({"alpha": 0.01}).alpha == 0.01
    with pytest.raises(ValueError, match="unknown verdicts keys"):
        VerdictSettings.from_config({"alpah": 0.01})
    with pytest.raises(ValueError, match="min_group_size"):
        VerdictSettings(min_group_size=0)


def test_bad_inputs(worlds):
    groups, series = worlds["memorized_converge"]
    with pytest.raises(ValueError, match="mode"):
        claim_verdicts({"a": groups}, {"a": series}, checkpoints="late")
    with pytest.raises(ValueError, match="same domains"):
        claim_verdicts({"a": groups}, {"b": series})
    with pytest.raises(ValueError, match="groups table lacks"):
        claim_verdicts({"a": groups.drop(columns=["step"])}, {"a": series})
    with pytest.raises(ValueError, match="same steps"):
        claim_verdicts({"a": groups}, {"a": [series, series.iloc[1:]]})
    with pytest.raises(ValueError, match="verdicts_markdown|claim_verdicts"):
        verdicts_markdown(pd.DataFrame({"domain": ["a"]}))
