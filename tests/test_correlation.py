import numpy as np
import pytest

from grokmon.metrics.correlation import checkpoint_window, correlate, moving_average, sustained_rise_start

X = [1, 2, 3, 4, 5]


def test_correlate_known_series():
    # y = 1,2,4,8,16: dx = -2..2, dy = -5.2,-4.2,-2.2,1.8,9.8; sum dx*dy = 36, sum dx^2 = 10, sum dy^2 = 148.8
    # r = 36 / sqrt(1488) = 0.933257; t = r sqrt(3 / (1 - r^2)) = sqrt(3 * 1296/192) = 4.5
    # -> p = 2 P(T_3 > 4.5) = 0.020490.
    out = correlate(X, [1, 2, 4, 8, 16])
    assert out["n"] == 5
    assert out["pearson"] == pytest.approx(0.933257, abs=1e-6)
    assert out["pearson_p"] == pytest.approx(0.020490, abs=1e-6)
    assert out["spearman"] == pytest.approx(1.0)  # strictly monotone
    assert out["spearman_p"] < 1e-10


def test_correlate_reproduces_paper_tied_spearman_values():
    # ranks of 1,1,2,2,3 = 1.5,1.5,3.5,3.5,5: sum dx*dr = 9, sum dr^2 = 9 -> 9/sqrt(90) = 3/sqrt(10) = 0.9487 (Table 1).
    # t = sqrt(27) = 5.196 -> p = 0.013847.
    out = correlate(X, [1, 1, 2, 2, 3])
    assert out["spearman"] == pytest.approx(0.948683, abs=1e-6)
    assert out["spearman_p"] == pytest.approx(0.013847, abs=1e-6)
    # 1,1,2,3,4: ranks 1.5,1.5,3,4,5 -> 9.5/sqrt(95) = 0.9747 (Table 1, Commonsense); sign flips with the metric.
    assert correlate([-x for x in X], [1, 1, 2, 3, 4])["spearman"] == pytest.approx(-0.974679, abs=1e-6)


def test_correlate_degenerate_gives_nan():
    short = correlate([1, 2], [3, 4])
    assert short["n"] == 2 and np.isnan(short["pearson"]) and np.isnan(short["spearman_p"])
    const = correlate(X, [0.5] * 5)
    assert const["n"] == 5 and all(np.isnan(const[k]) for k in ("pearson", "pearson_p", "spearman", "spearman_p"))


def test_correlate_bad_input():
    with pytest.raises(ValueError, match="metric has 5 points, accuracy 4"):
        correlate(X, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="accuracy: contains NaN"):
        correlate(X, [1, 2, np.nan, 4, 5])
    with pytest.raises(ValueError, match="metric: expected a non-empty 1-D"):
        correlate([], [])


def test_moving_average_trailing():
    assert moving_average([1, 2, 3, 4], 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([1, 2, 3, 4], 3).tolist() == [1.0, 1.5, 2.0, 3.0]
    assert moving_average([1, 2, 3, 4], 1).tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="window"):
        moving_average([1, 2], 0)


def test_sustained_rise_start():
    # min 0.2, max 1.0: floor band <= 0.2 + 0.1 * 0.8 = 0.28; last index inside it.
    assert sustained_rise_start([0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0]) == 4
    assert sustained_rise_start([0.25, 0.2, 0.27, 0.21, 0.4, 0.6, 0.55, 0.8, 0.9, 1.0]) == 3
    assert sustained_rise_start([0.2, 0.5, 0.2, 0.6, 0.8]) == 2  # an early rise that falls back does not count
    assert sustained_rise_start([0.4, 0.4, 0.4]) == 0
    assert sustained_rise_start([0.9, 0.5, 0.1]) == 2
    with pytest.raises(ValueError, match="floor_fraction"):
        sustained_rise_start([0.1, 0.2], floor_fraction=1.0)


def test_sustained_rise_start_ignores_a_single_late_dip():
    rising = [0.1, 0.1, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 0.1]
    assert sustained_rise_start(rising) == 2  # 8 points, not 1
    assert sustained_rise_start([0.1, 0.1, 0.5, 0.1, 0.8, 1.0]) == 3  # a mid-curve return to the floor restarts
    assert sustained_rise_start([0.1, 0.1, 0.5, 0.8, 0.1, 0.1]) == 5  # two low points at the end are not a dip


def test_checkpoint_window_modes():
    acc = [0.1, 0.1, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 0.1]
    assert checkpoint_window(acc, "after_rise") == 2
    assert checkpoint_window(acc, "last", last_k=5) == 5
    assert checkpoint_window(acc[:3], "last", last_k=5) == 0
    assert checkpoint_window(acc, "all") == 0
    with pytest.raises(ValueError, match="mode"):
        checkpoint_window(acc, "first")
    with pytest.raises(ValueError, match="last_k"):
        checkpoint_window(acc, "last", last_k=1)
