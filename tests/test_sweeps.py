"""Threshold sweeps (paper Figs. 10-11): settings, and rows equal to direct memorization and pathway calls."""

import numpy as np
import pandas as pd
import pytest

from grokmon.ablations import sweeps
from grokmon.claims import controls
from grokmon.metrics import memorization, pathways

# 4 checkpoints x 6 samples; at epsilon 1.0, delta 0.05: t* = 1, 1, 0, never, 2, 1 (sample 5: |0.95 - 0.9| = delta)
LOSS = np.array(
    [
        [2.0, 2.0, 0.5, 2.0, 2.0, 2.0],
        [0.9, 0.9, 0.5, 2.0, 2.0, 0.9],
        [0.9, 0.9, 0.5, 2.0, 0.8, 0.95],
        [0.9, 0.9, 0.5, 2.0, 0.8, 0.9],
    ]
)
STEPS = [100, 200, 300, 400]
ROUTING = [np.random.default_rng(s).dirichlet(np.ones(4), size=(6, 3)) for s in range(4)]


def test_settings_relative_absolute_and_delta():
    assert sweeps.sweep_settings("epsilon", [-0.5, 0.0], True, epsilon=2.0, delta=0.05) == [(1.5, 0.05), (2.0, 0.05)]
    assert sweeps.sweep_settings("epsilon", [1.5], False, epsilon=2.3, delta=0.05) == [(1.5, 0.05)]
    assert sweeps.sweep_settings("delta", [0.03, 0.05], True, epsilon=1.2, delta=0.05, fixed_epsilon=2.0) == [
        (2.0, 0.03),
        (2.0, 0.05),
    ]
    assert sweeps.sweep_settings("delta", [0.03], True, epsilon=1.2, delta=0.05) == [(1.2, 0.03)]
    with pytest.raises(ValueError, match="kind"):
        sweeps.sweep_settings("cut", [0.5], True, 1.0, 0.05)


def test_a_sweep_row_equals_direct_memorization_and_pathway_calls():
    table, series = sweeps.sweep_table(LOSS, ROUTING, STEPS, [(1.0, 0.05)], cut=0.7)
    t_index = memorization.memorization_index(LOSS, 1.0, 0.05)
    np.testing.assert_array_equal(t_index, [1, 1, 0, -1, 2, 1])
    assert table["t_star"].tolist() == [100, 200, 300]  # every t* < T, in order
    row = table[table["t_star"] == 200].iloc[0]
    members = np.array([0, 1, 5])
    distance = np.array([pathways.mean_pairwise_distance(r[members], cut=0.7) for r in ROUTING])
    trend = controls.post_memorization_trend(distance, 1)
    assert row["n"] == 3 and row["n_points"] == 3
    for key in ("spearman", "change", "relative_change"):
        assert row[key] == pytest.approx(trend[key])
    assert row["memorized_fraction"] == pytest.approx(5 / 6)  # samples 0, 1, 2, 4, 5 before T
    np.testing.assert_allclose(series[series["t_star"] == 200]["distance"], distance)
    # a single-sample group has no pairs: NaN distances, no trend points
    assert table[table["t_star"] == 100]["n_points"].iloc[0] == 0


def test_settings_change_the_groups():
    table, _ = sweeps.sweep_table(LOSS, ROUTING, STEPS, [(1.0, 0.05), (1.0, 0.03)], cut=0.7)
    # delta 0.03 drops sample 5 (|0.95 - 0.9| > 0.03 until T, so t* = T, left out): Pretrain@200 keeps 0 and 1
    tight = table[table["delta"] == 0.03].set_index("t_star")
    assert tight.loc[200, "n"] == 2


def test_summary_counts_falling_groups():
    table = pd.DataFrame(
        {
            "epsilon": [1.0] * 3,
            "delta": [0.05] * 3,
            "t_star": [1, 2, 3],
            "n": [5, 5, 5],
            "n_points": [4, 3, 2],
            "spearman": [-0.8, 0.5, -1.0],
            "change": [-2.0, 1.0, -1.0],
            "relative_change": [-0.1, 0.05, -0.2],
            "memorized_fraction": [0.2] * 3,
        }
    )
    summary = sweeps.sweep_summary(table).iloc[0]
    assert (summary["n_groups"], summary["n_falling"]) == (2, 1)  # the 2-point group has no trend
    assert summary["median_spearman"] == pytest.approx(-0.15)
    assert summary["median_relative_change"] == pytest.approx(-0.025)
