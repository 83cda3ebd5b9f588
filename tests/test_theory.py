"""The theory experiment (paper App. C.4, Fig. 8): d_eff, the routing kernel, the NTKs, one seed's row."""

import numpy as np
import pytest

from grokmon.ablations import theory


def test_effective_dimension_of_a_3x3_gram_by_hand():
    # eigenvalues 3, 1, 1: 3/(3+1) + 1/(1+1) + 1/(1+1) = 1.75
    assert theory.effective_dimension(np.array([[2.0, 1, 0], [1, 2, 0], [0, 0, 1]]), ridge=1.0) == pytest.approx(1.75)
    # rank one (eigenvalues 3, 0, 0) at ridge 0.5: 3 / 3.5
    assert theory.effective_dimension(np.ones((3, 3)), ridge=0.5) == pytest.approx(3 / 3.5)
    with pytest.raises(ValueError, match="ridge"):
        theory.effective_dimension(np.eye(3), ridge=0.0)


def test_routing_kernel_of_2_experts_and_3_samples_by_hand():
    gates = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    kernels = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    # Theta(i, k) = g_i1 g_k1 * 1 + g_i2 g_k2 * 2
    expected = np.array([[1.0, 0.5, 0.0], [0.5, 0.75, 1.0], [0.0, 1.0, 2.0]])
    np.testing.assert_allclose(theory.routing_kernel(gates, kernels), expected)
    shared = np.array([[1.0, 2, 3], [2, 1, 2], [3, 2, 1]])  # one Gram for both experts: (g g^T) * K
    np.testing.assert_allclose(
        theory.routing_kernel(gates, shared), [[1.0, 1.0, 0.0], [1.0, 0.5, 1.0], [0.0, 1.0, 1.0]]
    )
    with pytest.raises(ValueError, match="kernels"):
        theory.routing_kernel(gates, np.ones((3, 3, 3)))


def test_relu_ntk_by_hand_and_the_empirical_kernel_approaches_it():
    x = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [2.0, 0, 0, 0]])  # |x|^2 = d = 4
    k = theory.relu_ntk(x)
    assert k[0, 0] == pytest.approx(1.0)  # theta = 0: 1/2 + 1/2
    assert k[0, 1] == pytest.approx(1 / (2 * np.pi))  # theta = pi/2: 0 + 1/(2 pi)
    assert k[0, 2] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    m = 200_000
    wide = theory.empirical_ntk(x, rng.standard_normal((m, 4)), rng.standard_normal(m))
    np.testing.assert_allclose(wide, k, atol=0.02)


def test_seed_row_is_the_pathway_distance_and_d_eff_of_its_own_draw():
    settings = theory.TheorySettings(samples=30, seeds=3, experts=4, dim=10, router_scale=(2.0, 2.0))
    row = theory.seed_draw(settings, seed=5)
    assert row["router_scale"] == pytest.approx(2.0)
    assert 0 < row["distance"] <= 1 and 0 < row["d_eff_normalized"] <= 1
    assert row["d_eff_normalized"] == pytest.approx(row["d_eff"] / 30)
    assert row["distance_edits"] >= row["distance"]  # edits >= normalized (strings are >= 1 character)


def test_experiment_correlates_distance_and_d_eff_positively():
    table, stats = theory.theory_experiment(theory.TheorySettings(samples=60, seeds=12), seed=0)
    assert list(table["seed"]) == list(range(12))
    assert stats["n"] == 12 and stats["pearson"] > 0.8


def test_settings_name_the_bad_key():
    with pytest.raises(ValueError, match="theory.kernel"):
        theory.TheorySettings(kernel="rbf")
    with pytest.raises(ValueError, match="theory.router_scale"):
        theory.TheorySettings(router_scale=(2.0, 1.0))
