"""Figure functions draw real PNGs with the numbers the paper prints in their titles."""

import numpy as np
import pytest

from grokmon.claims.controls import entropy_distance_correlation, entropy_distance_pairs
from grokmon.workflow import figures

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def titles(monkeypatch):
    """Axis titles of every figure saved during the test, keyed by output file name."""
    seen, save = {}, figures._save

    def record(fig, path):
        seen[str(path).rsplit("/", 1)[-1]] = [ax.get_title() for ax in fig.axes if ax.get_title()]
        save(fig, path)

    monkeypatch.setattr(figures, "_save", record)
    return seen


def test_fig13_entropy_distance_png_and_titles(tmp_path, titles):
    rng = np.random.default_rng(0)
    routing = {
        "math": rng.dirichlet(np.full(8, 0.3), size=(40, 3)),
        "code": rng.dirichlet(np.full(8, 2.0), size=(30, 3)),
    }
    pairs = {d: entropy_distance_pairs(r, cut=0.8, max_pairs=500, seed=1) for d, r in routing.items()}
    stats = {d: entropy_distance_correlation(r, cut=0.8, max_pairs=500, seed=1) for d, r in routing.items()}
    assert [stats[d]["n"] for d in routing] == [500, 435]  # 40 samples: 780 pairs, 500 sampled; 30 samples: all 435
    path = tmp_path / "fig13_entropy_distance.png"
    figures.fig13_entropy_distance(pairs, stats, path)
    png = path.read_bytes()
    assert png.startswith(PNG) and len(png) > 10_000
    expected = [
        f"{d}: {stats[d]['n']:,} pairs\nr = {stats[d]['pearson']:.2f}, r² = {stats[d]['r_squared']:.3f}"
        for d in routing
    ]
    assert titles["fig13_entropy_distance.png"] == expected


def test_fig13_entropy_distance_undefined_r(tmp_path, titles):
    # Every sample routes the same way: one distance (0) and one entropy, so r is undefined; the panel still draws.
    routing = np.tile(np.array([[[0.5, 0.3, 0.2, 0.0]]]), (4, 1, 1))
    pairs = {"math": entropy_distance_pairs(routing, cut=0.8)}
    stats = {"math": entropy_distance_correlation(routing, cut=0.8)}
    assert np.isnan(stats["math"]["pearson"]) and pairs["math"][0].tolist() == [0.0] * 6
    path = tmp_path / "flat.png"
    figures.fig13_entropy_distance(pairs, stats, path)
    assert path.read_bytes().startswith(PNG)
    assert titles["flat.png"] == ["math: 6 pairs\nr undefined"]
