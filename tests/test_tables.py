"""The workflow's tables on hand-made routing where the answer is known."""

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from grokmon.metrics import correlation, matching
from grokmon.metrics.generalization import generalization_index
from grokmon.metrics.memorization import memorization_index
from grokmon.routing import capture
from grokmon.workflow.tables import (
    LOSS_SAMPLES,
    TABLE1_METRICS,
    correlation_table,
    cross_domain_table,
    domain_series,
    matching_table,
    pathway_tables,
    rank_table,
    sample_sets,
)

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())


def one_hot_routing(experts, n_experts=3):
    """Routing float[n, 1, E]: sample i sends all weight to expert experts[i] (pathway string = that digit)."""
    routing = np.zeros((len(experts), 1, n_experts))
    routing[np.arange(len(experts)), 0, experts] = 1.0
    return routing


def test_cross_domain_table_within_and_across():
    # domain a: pathways "0", "0"; domain b: "1", "2". Within a: 0 edits; within b: 1; across: every pair 1 edit.
    table = cross_domain_table({"a": one_hot_routing([0, 0]), "b": one_hot_routing([1, 2])})
    assert table[["domain_a", "domain_b", "within"]].values.tolist() == [
        ["a", "a", True],
        ["a", "b", False],
        ["b", "b", True],
    ]
    assert table["distance"].tolist() == [0.0, 1.0, 1.0]
    assert table["distance_normalized"].tolist() == [0.0, 1.0, 1.0]


# ---- which samples are memorized, grouped, pooled and matched ----------------------------------------------------

STEPS = np.array([10, 20, 30, 40])  # T = 40
# epsilon 2.0, delta 0.05: s0, s1 memorized at 20, s2 at 10, s3 and s5 meet epsilon only at T, s4 never.
LOSS = np.array(
    [
        [3.0, 3.0, 1.5, 3.0, 3.0, 3.0],
        [1.8, 1.8, 1.5, 3.0, 3.0, 3.0],
        [1.8, 1.8, 1.5, 3.0, 3.0, 3.0],
        [1.8, 1.8, 1.5, 1.5, 3.0, 1.0],
    ]
)


def t_star_table(include_final=False):
    """The memorization rule's t_star.tsv columns (sample, t_star = step or -1) for LOSS."""
    t_index = memorization_index(LOSS, epsilon=2.0, delta=0.05, include_final=include_final)
    return pd.DataFrame({"sample": np.arange(LOSS.shape[1]), "t_star": np.where(t_index >= 0, STEPS[t_index], -1)})


def members(sets):
    """label -> training samples in each set, read back from one-hot routing (sample i routes to expert i)."""
    return {label: sorted(r[:, 0].argmax(-1).tolist()) for label, _, r in sets}


def test_a_sample_memorized_only_at_t_is_in_no_group_and_no_pooled_set():
    two_layers = {"train": range(6), "validation": [0], "test": [1]}  # consistency needs two layers
    routing = {split: np.repeat(one_hot_routing(experts, 6), 2, axis=1) for split, experts in two_layers.items()}
    got = members(sample_sets(routing, t_star_table(), min_group_size=1))
    assert got == {
        "Pretrain@10": [2],
        "Pretrain@20": [0, 1],
        "memorized": [0, 1, 2],
        "train": list(range(6)),
        "validation": [0],
        "test": [1],
    }
    # memorization.include_final: s3 and s5 form Pretrain@T and join the pooled set
    got = members(sample_sets(routing, t_star_table(include_final=True), min_group_size=1))
    assert got["Pretrain@40"] == [3, 5] and got["memorized"] == [0, 1, 2, 3, 5]
    # min_group_size 2: the one-sample Pretrain@10 has no row of its own but stays in the pooled memorized set
    got = members(sample_sets(routing, t_star_table(), min_group_size=2))
    assert list(got) == ["Pretrain@20", "memorized", "train", "validation", "test"] and got["memorized"] == [0, 1, 2]
    routers = np.random.default_rng(0).normal(size=(2, 6, 3))
    groups, layers = pathway_tables(routing, routers, t_star_table(), min_group_size=2)
    assert groups["group"].tolist() == ["Pretrain@20", "memorized", "train", "validation", "test"]
    assert groups.set_index("group").loc["memorized", "n"] == 3
    assert set(layers["group"]) == {"Pretrain@20", "memorized", "train"}


def test_an_item_first_correct_at_t_is_in_no_matched_group():
    # Items: i0, i1 right from 10 on; i2, i3 right only at T = 40; i4 never.
    correct = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]])
    # Embeddings: train texts 0-2 and test texts are one-hot; the T-only items look exactly like Pretrain@20.
    vectors = {"s0": [0, 1], "s1": [0, 1], "s2": [1, 0], "i0": [1, 0], "i1": [1, 0], "i2": [0, 1], "i3": [0, 1]}
    train_texts = ["s0", "s1", "s2", "s3", "s4", "s5"]
    test_texts = ["i0", "i1", "i2", "i3", "i4"]

    def embed(texts):
        return np.array([vectors.get(t, [1, 1]) for t in texts], dtype=np.float64)

    def table(include_final, min_group_size=1):
        t_index = generalization_index(correct, include_final=include_final)
        t_sharp = pd.DataFrame({"doc_id": np.arange(5), "t_sharp": np.where(t_index >= 0, STEPS[t_index], -1)})
        return matching_table(t_star_table(), t_sharp, train_texts, test_texts, embed, min_group_size=min_group_size)

    # Test@10 (i0, i1) is the only test group: it goes to Pretrain@10 (s2, cosine 1); i2 and i3 are in no group.
    assert table(False)[["train_step", "test_step", "n_test"]].values.tolist() == [[10, 10, 2]]
    # generalization.include_final: Test@40 (i2, i3) exists and takes Pretrain@20 (cosine 1)
    assert table(True)[["train_step", "test_step", "n_test"]].values.tolist() == [[10, 10, 2], [20, 40, 2]]
    # matching.min_group_size 2: the one-sample Pretrain@10 is left out, so Test@10 goes to Pretrain@20
    assert table(False, min_group_size=2)[["train_step", "test_step", "n_train"]].values.tolist() == [[20, 10, 2]]


# ---- Table 1: checkpoint windows and the samples of each row ---------------------------------------------------

RISE_WITH_LATE_DIP = np.array([0.1, 0.1, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 0.1])


def series_of(accuracy):
    """A domain series over 10 checkpoints: every Table 1 column rises with the checkpoint index."""
    steps = np.arange(1, len(accuracy) + 1) * 100
    columns = {column: np.arange(len(accuracy), dtype=float) for column in TABLE1_METRICS}
    return pd.DataFrame({"step": steps, "accuracy": accuracy, **columns})


@pytest.mark.parametrize(
    "checkpoints, kwargs, n, from_step",
    [
        ("after_rise", {}, 8, 300),  # one dip at the last checkpoint does not collapse the window
        ("last", {"last_k": 5}, 5, 600),
        ("last", {"last_k": 3}, 3, 800),
        ("all", {}, 10, 100),
        ("after_rise", {"rise_floor": 0.5}, 6, 500),  # floor band <= 0.1 + 0.5 * 0.9 = 0.55 ends at index 4 (0.4)
    ],
)
def test_correlation_table_checkpoint_windows(checkpoints, kwargs, n, from_step):
    table = correlation_table({"d": series_of(RISE_WITH_LATE_DIP)}, checkpoints, **kwargs)
    assert set(table["n"]) == {n} and set(table["from_step"]) == {from_step}


def test_correlation_table_skips_checkpoints_where_a_metric_is_undefined():
    series = series_of(np.linspace(0.0, 1.0, 10))
    series.loc[:3, "distance"] = np.nan  # no memorized sample yet at the first 4 checkpoints
    series["consistency"] = np.nan  # never defined (no memorized sample at all)
    table = correlation_table({"d": series}, "all").set_index("column")
    assert table.loc["distance", "n"] == 6 and table.loc["distance", "pearson"] == pytest.approx(1.0)
    assert table.loc["consistency", "n"] == 0 and np.isnan(table.loc["consistency", "pearson"])


def test_table1_says_which_samples_each_row_averages():
    names = {"tracked": "all tracked training samples", "memorized": "memorized training samples"}
    for loss_samples, train in names.items():
        table = correlation_table({"d": series_of(RISE_WITH_LATE_DIP)}, loss_samples=loss_samples).set_index("column")
        assert table.loc["train_loss", "samples"] == table.loc["train_loss_ma", "samples"] == train
        assert table.loc["validation_loss", "samples"] == "validation samples"
        assert table.loc["distance", "samples"] == table.loc["consistency", "samples"] == "memorized training samples"
    with pytest.raises(ValueError, match="correlation.loss_samples"):
        correlation_table({"d": series_of(RISE_WITH_LATE_DIP)}, loss_samples="all")


def test_table4_puts_each_ranks_table1_side_by_side():
    # Every Table 1 column is the distance 5, 4, 3, 2, 1. r = 32: accuracy rises with the checkpoint, so r = -1.
    # r = 64: accuracy 0, .5, .25, .75, 1 (deviations -.5, 0, -.25, .25, .5 against 2, 1, 0, -1, -2): Pearson
    # -2.25 / sqrt(.625 * 10) = -0.9; ranks 1, 3, 2, 4, 5 against 5, 4, 3, 2, 1 (d^2 = 38):
    # Spearman 1 - 6 * 38 / 120 = -0.9.
    def series(accuracy):
        return pd.DataFrame(
            {
                "step": [100, 200, 300, 400, 500],
                "accuracy": accuracy,
                **{column: [5.0, 4.0, 3.0, 2.0, 1.0] for column in TABLE1_METRICS},
            }
        )

    tables = {
        32: correlation_table({"commonsense": series([0, 0.25, 0.5, 0.75, 1])}, "all"),
        64: correlation_table({"commonsense": series([0, 0.5, 0.25, 0.75, 1])}, "all"),
    }
    table = rank_table(tables)
    assert table["metric"].tolist() == list(TABLE1_METRICS.values()) and set(table["domain"]) == {"commonsense"}
    assert list(table.columns) == ["domain", "metric", "column", "samples"] + [
        f"{stat}_r{rank}"
        for rank in (32, 64)
        for stat in ("pearson", "spearman", "pearson_p", "spearman_p", "n", "from_step")
    ]
    distance = table.set_index("column").loc["distance"]
    assert distance["pearson_r32"] == pytest.approx(-1.0) and distance["spearman_r32"] == pytest.approx(-1.0)
    assert distance["pearson_r64"] == pytest.approx(-0.9) and distance["spearman_r64"] == pytest.approx(-0.9)
    assert distance["n_r32"] == distance["n_r64"] == 5 and distance["from_step_r64"] == 100
    # each rank keeps its own correlation window: r = 64 from the rise of its own accuracy on
    late = {**tables, 64: correlation_table({"commonsense": series([0, 0, 0, 0.5, 1])}, "after_rise")}
    assert rank_table(late).set_index("column").loc["distance", ["n_r32", "n_r64", "from_step_r64"]].tolist() == [
        5,
        3,
        300,
    ]
    with pytest.raises(ValueError, match="at least one rank"):
        rank_table({})


def test_domain_series_loss_samples():
    # LOSS's memorized samples (t* < T) are s0, s1, s2; the tracked mean is over all six.
    groups = pd.DataFrame(columns=["group", "step"])
    args = (STEPS, np.linspace(0, 1, 4), LOSS, t_star_table(), np.ones(4), groups)
    tracked = domain_series(*args, window=1)
    memorized = domain_series(*args, window=2, loss_samples="memorized")
    np.testing.assert_allclose(tracked["train_loss"], LOSS.mean(axis=1))
    np.testing.assert_allclose(memorized["train_loss"], [2.5, 1.7, 1.7, 1.7])  # (3 + 3 + 1.5) / 3, then 1.7
    np.testing.assert_allclose(memorized["train_loss_ma"], [2.5, 2.1, 1.7, 1.7])
    assert memorized["memorized_fraction"].tolist() == pytest.approx([1 / 6, 0.5, 0.5, 0.5])  # s3, s5 not at T
    nobody = pd.DataFrame({"sample": np.arange(6), "t_star": -1})
    assert domain_series(*args[:3], nobody, *args[4:], loss_samples="memorized")["train_loss"].isna().all()


def _default(function, name):
    return inspect.signature(function).parameters[name].default


# (schema section, key) -> the (function, parameter) pairs whose default restates the schema's
RESTATED_DEFAULTS = {
    ("routes", "include_special_tokens"): [(capture.iter_capture, "include_special_tokens")],
    ("memorization", "include_final"): [(memorization_index, "include_final")],
    ("generalization", "include_final"): [(generalization_index, "include_final")],
    ("matching", "max_seq_length"): [(matching.load_embedder, "max_seq_length")],
    ("matching", "batch_size"): [(matching.load_embedder, "batch_size")],
    ("matching", "min_group_size"): [(matching_table, "min_group_size")],
    ("pathways", "min_group_size"): [(pathway_tables, "min_group_size"), (sample_sets, "min_group_size")],
    ("correlation", "checkpoints"): [(correlation_table, "checkpoints"), (correlation.checkpoint_window, "mode")],
    ("correlation", "last_k"): [(correlation_table, "last_k"), (correlation.checkpoint_window, "last_k")],
    ("correlation", "rise_floor"): [
        (correlation_table, "rise_floor"),
        (correlation.checkpoint_window, "rise_floor"),
        (correlation.sustained_rise_start, "floor_fraction"),
    ],
    ("correlation", "loss_samples"): [(correlation_table, "loss_samples"), (domain_series, "loss_samples")],
    ("correlation", "moving_average_window"): [(domain_series, "window")],
}


@pytest.mark.parametrize(
    "section, key, function, name", [(*where, f, n) for where, pairs in RESTATED_DEFAULTS.items() for f, n in pairs]
)
def test_function_defaults_are_the_schema_defaults(section, key, function, name):
    assert _default(function, name) == SCHEMA["properties"][section]["properties"][key]["default"]


def test_schema_choices_are_the_codes():
    properties = SCHEMA["properties"]["correlation"]["properties"]
    assert properties["checkpoints"]["enum"] == list(correlation.CHECKPOINT_WINDOWS)
    assert properties["loss_samples"]["enum"] == list(LOSS_SAMPLES)
    assert SCHEMA["properties"]["matching"]["properties"]["max_seq_length"]["maximum"] == matching.MAX_POSITIONS
