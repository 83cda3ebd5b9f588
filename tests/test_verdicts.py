"""Verdicts on constructed routing whose pathway strings behave in known ways, run through the real pathway tables."""

import numpy as np
import pandas as pd
import pytest

from grokmon import tables
from grokmon.verdicts import COLUMNS, HELDOUT_CONTROL, LENGTH_CONTROL, claim_verdicts, verdicts_markdown

STEPS = np.arange(100, 900, 100)  # 8 checkpoints
N_LAYERS, N_EXPERTS = 4, 8
# Tracked training samples: three Pretrain@t* groups of 6 (t* = steps 200, 300, 400) and 4 never memorized.
T_INDEX = np.array([1] * 6 + [2] * 6 + [3] * 6 + [-1] * 4)
T_STAR = pd.DataFrame({"sample": np.arange(len(T_INDEX)), "t_star": np.where(T_INDEX >= 0, STEPS[T_INDEX], -1)})
ACCURACY = np.array([0.1, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])  # sustained rise from index 1 (step 200)
_rng = np.random.default_rng(0)
# A fixed random expert order per sample and layer (the sample's "disorder"), and one shared template.
ORDERS = {
    split: np.argsort(_rng.random((n, N_LAYERS, N_EXPERTS)), axis=-1) for split, n in (("train", 22), ("validation", 12), ("test", 6))
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
    """(b) After t*, one more layer per checkpoint follows the template (identical across samples); held-out stay random."""
    return {
        "train": routing(converged(ORDERS["train"], np.minimum(since_memorized(c), N_LAYERS)), 4),
        "validation": routing(ORDERS["validation"], 4),
        "test": routing(ORDERS["test"], 4),
    }


def global_sharpening(c):
    """(c) Every item, trained or not, converges on the same schedule (one layer per two checkpoints)."""
    return {split: routing(converged(orders, min(c // 2, N_LAYERS)), 4) for split, orders in ORDERS.items()}


def tables_of(world):
    """The workflow's per-domain tables: stacked pathway_tables per checkpoint (groups.tsv) and domain_series (series.tsv)."""
    groups = pd.concat(
        [tables.pathway_tables(world(c), ROUTERS, T_STAR)[0].assign(step=step) for c, step in enumerate(STEPS)], ignore_index=True
    )
    train_loss = np.linspace(2.0, 1.0, len(STEPS))[:, None] + np.zeros(len(T_INDEX))  # falls as accuracy rises
    validation_loss = np.array([2.0, 1.9, 2.1, 1.8, 2.0, 2.2, 1.9, 2.0])
    return groups, tables.domain_series(STEPS, ACCURACY, train_loss, T_STAR, validation_loss, groups)


@pytest.fixture(scope="module")
def worlds():
    return {world.__name__: tables_of(world) for world in (shorter_strings, memorized_converge, global_sharpening)}


def verdicts(groups, series, **kwargs):
    return claim_verdicts({"toy": groups}, {"toy": series}, **kwargs).set_index("claim")


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
    assert (row.n, row.fraction, row.length_control) == (3, 1.0, 0.0)
    assert row.p_value == pytest.approx(1 / 8)  # one-sided sign test, 3 of 3 groups
    assert "length-normalized distance falls in 0/3" in row.evidence
    corr = v.loc["distance_vs_accuracy"]
    assert (corr.verdict, corr.decided_by) == ("explained by a control", LENGTH_CONTROL)
    assert corr.estimate < -0.8 and corr.ci_high < 0 and corr.length_control > 0  # raw falls, normalized does not
    assert corr.n == 7  # checkpoints from the sustained rise (step 200) on


def test_memorized_convergence_holds(worlds):
    groups, series = worlds["memorized_converge"]
    g = groups.set_index(["group", "step"])
    assert g.loc[("Pretrain@200", 600), "distance"] == 0  # all four layers on the template: identical strings
    assert g.loc[("validation", 100), "distance"] == g.loc[("validation", 800), "distance"] > 10
    v = verdicts(groups, series)
    row = v.loc["distance_falls"]
    assert row.verdict == "holds" and "passed length and held-out controls" in row.decided_by
    assert (row.n, row.n_seeds, row.fraction, row.length_control, row.heldout_control) == (3, 1, 1.0, 1.0, 0.0)
    corr = v.loc["distance_vs_accuracy"]
    assert corr.verdict == "holds"
    assert corr.estimate < -0.9 and corr.ci_low >= -1 and corr.ci_high < 0 and corr.p_value < 0.05
    assert corr.heldout_control == 0.0  # held-out distance is constant: it tracks nothing
    # Claim 5: the constructed training loss falls linearly while accuracy rises.
    loss = v.loc["losses_vs_accuracy"]
    assert loss.verdict == "does not hold" and loss.metric == "train_loss" and loss.estimate < -0.95


def test_global_sharpening_is_explained_by_held_out_items(worlds):
    groups, series = worlds["global_sharpening"]
    v = verdicts(groups, series)
    row = v.loc["distance_falls"]
    assert (row.verdict, row.decided_by) == ("explained by a control", HELDOUT_CONTROL)
    assert (row.fraction, row.length_control, row.heldout_control) == (1.0, 1.0, 1.0)  # passes length, fails held-out
    corr = v.loc["distance_vs_accuracy"]
    assert (corr.verdict, corr.decided_by) == ("explained by a control", HELDOUT_CONTROL)
    assert corr.heldout_control == pytest.approx(corr.length_control, abs=0.05)


def test_table_shape_and_markdown(worlds):
    groups, series = worlds["memorized_converge"]
    table = claim_verdicts({"math": groups, "code": groups}, {"math": series, "code": series}, checkpoints="all")
    assert list(table.columns) == COLUMNS
    assert len(table) == 14 and table.groupby("domain").size().tolist() == [7, 7]
    assert sorted(table["number"].unique()) == [1, 2, 3, 4, 5]
    assert set(table["verdict"]) <= {"holds", "does not hold", "explained by a control", "undecided"}
    assert (table.loc[table.claim == "distance_vs_accuracy", "n"] == 8).all()  # all checkpoints
    md = verdicts_markdown(table)
    lines = md.strip().split("\n")
    assert len(lines) == 2 + 14 and lines[0].startswith("| domain | # | claim | verdict")
    assert "| math | 1 | Pathway distance falls after memorization | **holds** |" in md
    assert all(line.count(" | ") == 5 for line in lines[2:])  # "|" inside cells (as in |r|) is escaped


def test_several_seeds_pool_groups_and_resample_seeds(worlds):
    groups, series = worlds["memorized_converge"]
    v = claim_verdicts({"toy": [groups, groups]}, {"toy": [series, series]}).set_index("claim")
    assert (v.loc["distance_falls", "n"], v.loc["distance_falls", "n_seeds"]) == (6, 2)
    assert v.loc["distance_falls", "verdict"] == "holds"
    corr = v.loc["distance_vs_accuracy"]
    assert corr.n_seeds == 2 and corr.ci_low == corr.ci_high == pytest.approx(corr.estimate)  # identical seeds


def test_too_few_groups_or_no_held_out_items_is_undecided(worlds):
    groups, series = worlds["memorized_converge"]
    one_group = groups[~groups["group"].isin(["Pretrain@200", "Pretrain@300"])]
    row = verdicts(one_group, series).loc["distance_falls"]
    assert (row.verdict, row.decided_by, row.n) == ("undecided", "too few groups", 1)
    no_heldout = groups[groups["group"] != "validation"]
    row = verdicts(no_heldout, series).loc["distance_falls"]
    assert (row.verdict, row.decided_by) == ("undecided", "held-out control unavailable")
    corr = verdicts(groups, series.drop(columns=["validation_distance_normalized"])).loc["distance_vs_accuracy"]
    assert (corr.verdict, corr.decided_by) == ("undecided", "held-out control unavailable")


def series_of(accuracy, **columns):
    return pd.DataFrame({"step": 100 * np.arange(1, len(accuracy) + 1), "accuracy": accuracy, **columns})


def test_correlation_rules_on_hand_built_series():
    acc = np.array([0.2, 0.3, 0.5, 0.6, 0.8, 0.9])
    flat_loss = {"train_loss": [1.0, 1.2, 0.9, 1.1, 1.2, 0.9], "train_loss_ma": [1.0, 1.1, 1.0, 1.0, 1.1, 1.0],
                 "validation_loss": [2.0, 2.1, 1.9, 1.9, 2.1, 2.0]}  # fmt: skip
    # By hand (acc deviations -.35 -.25 -.05 .05 .25 .35, sum of squares .375): training loss deviations
    # -.05 .15 -.15 .05 .15 -.15 (squares .095), products sum -.025 -> r = -.025/sqrt(.375 * .095) = -0.1325;
    # the MA and validation deviations give products that sum to 0 -> r = 0.
    noise = series_of(acc, distance=[5.0, 3.0, 6.0, 2.0, 5.5, 4.0], **flat_loss)
    v = verdicts(pd.DataFrame(columns=["group", "t_star", "step", "distance", "distance_normalized"]), noise, checkpoints="all")
    assert v.loc["distance_vs_accuracy", "verdict"] == "undecided"
    assert v.loc["distance_vs_accuracy", "decided_by"] == "bootstrap CI contains 0"
    assert v.loc["distance_falls", "verdict"] == "undecided"  # no groups at all
    loss = v.loc["losses_vs_accuracy"]
    assert loss.verdict == "holds" and loss.metric == "train_loss"
    assert loss.estimate == pytest.approx(-0.025 / np.sqrt(0.375 * 0.095))
    assert v.loc["consistency_vs_accuracy", "decided_by"] == "metric missing"
    # Distance rising with accuracy (the toy study's finding): CI above 0 -> does not hold.
    rising = series_of(acc, distance=[8.0, 8.5, 9.1, 9.0, 9.8, 10.2], **flat_loss)
    row = verdicts(pd.DataFrame(columns=["group", "t_star", "step", "distance", "distance_normalized"]), rising, checkpoints="all")
    assert row.loc["distance_vs_accuracy", "verdict"] == "does not hold"
    assert row.loc["distance_vs_accuracy", "ci_low"] > 0
    # Three checkpoints after the rise: too few for a verdict.
    late = series_of(np.array([0.1, 0.1, 0.1, 0.1, 0.5, 0.9]), distance=[9.0, 9.0, 9.0, 6.0, 4.0, 2.0], **flat_loss)
    row = verdicts(pd.DataFrame(columns=["group", "t_star", "step", "distance", "distance_normalized"]), late).loc["distance_vs_accuracy"]
    assert (row.verdict, row.decided_by, row.n) == ("undecided", "too few checkpoints", 3)


def test_seeds_with_opposite_signs_are_undecided():
    acc = np.array([0.2, 0.3, 0.5, 0.6, 0.8])
    up, down = acc * 10, -acc * 10
    seeds = [series_of(acc, distance=d, distance_normalized=d / 20, validation_distance_normalized=np.ones(5)) for d in (down, down, up)]
    row = claim_verdicts({"toy": pd.DataFrame(columns=["group", "t_star", "step", "distance", "distance_normalized"])},
                         {"toy": seeds}, checkpoints="all", n_boot=2000).set_index("claim").loc["distance_vs_accuracy"]  # fmt: skip
    # Per-seed r = -1, -1, +1: mean -1/3; resampling 3 seeds gives a 95% CI of [-1, 1].
    assert row.estimate == pytest.approx(-1 / 3) and (row.ci_low, row.ci_high) == pytest.approx((-1.0, 1.0))
    assert (row.verdict, row.n_seeds) == ("undecided", 3)


def test_bad_inputs(worlds):
    groups, series = worlds["memorized_converge"]
    with pytest.raises(ValueError, match="checkpoints"):
        claim_verdicts({"a": groups}, {"a": series}, checkpoints="late")
    with pytest.raises(ValueError, match="same domains"):
        claim_verdicts({"a": groups}, {"b": series})
    with pytest.raises(ValueError, match="groups table lacks"):
        claim_verdicts({"a": groups.drop(columns=["step"])}, {"a": series})
    with pytest.raises(ValueError, match="same steps"):
        claim_verdicts({"a": groups}, {"a": [series, series.iloc[1:]]})
    with pytest.raises(ValueError, match="verdicts_markdown|claim_verdicts"):
        verdicts_markdown(pd.DataFrame({"domain": ["a"]}))
