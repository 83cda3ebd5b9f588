"""The paper's theory experiment (App. C.4, Fig. 8): a one-layer MoE with a frozen random router, its routing
kernel Theta(x, x') = sum_j g_j(x) g_j(x') K_j(x, x') and effective dimension, against pathway edit distance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from grokmon.metrics import correlation, pathways

KERNELS = ("ntk", "empirical")


@dataclass(frozen=True)
class TheorySettings:
    """Settings of the synthetic experiment (config section `theory`); paper values where App. C.4 gives them."""

    experts: int = 16  # paper: 16 experts
    dim: int = 100  # paper: 100-dimensional inputs
    samples: int = 200  # paper: 200 samples
    clusters: int = 4  # Gaussian clusters the samples come from, centres ~ N(0, I) (paper: UNKNOWN)
    cluster_std: float = 0.5  # within-cluster std per coordinate (paper: UNKNOWN)
    seeds: int = 40  # independent draws of data, router and experts (paper: "many seeds")
    router_scale: tuple[float, float] = (0.25, 4.0)  # router logit scale, log-uniform per seed (paper: UNKNOWN)
    kernel: str = "ntk"  # ntk: analytic two-layer ReLU NTK, shared | empirical: each expert's NTK at its N(0, I) init
    width: int = 256  # hidden width of each expert (kernel "empirical" only)
    ridge: float = (
        1e-4  # lambda of d_eff = Tr(H (H + lambda I)^-1), H = Gram / n (paper: UNKNOWN; d_eff / n in 0.4-1.0)
    )
    cut: float = 0.7  # cumulative-weight cut of the pathways (paper Sec. 4.1)

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"theory.kernel: expected one of {KERNELS}, got {self.kernel!r}")
        low, high = self.router_scale
        if not 0 < low <= high:
            raise ValueError(f"theory.router_scale: need 0 < low <= high, got {list(self.router_scale)!r}")
        for name in ("experts", "dim", "clusters", "seeds", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"theory.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.samples < 2:
            raise ValueError(f"theory.samples must be >= 2 (pairs), got {self.samples!r}")
        if not (self.ridge > 0 and self.cluster_std >= 0):
            raise ValueError(
                f"theory.ridge must be > 0 and theory.cluster_std >= 0, got {self.ridge!r}, {self.cluster_std!r}"
            )


def effective_dimension(gram: np.ndarray, ridge: float) -> float:
    """d_eff = Tr(H (H + ridge I)^-1) = sum_i mu_i / (mu_i + ridge) over the eigenvalues mu of a PSD H float[n, n]."""
    gram = np.asarray(gram, dtype=np.float64)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1] or gram.size == 0:
        raise ValueError(f"gram must be a non-empty square matrix, got shape {gram.shape}")
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0, got {ridge!r}")
    mu = np.clip(np.linalg.eigvalsh((gram + gram.T) / 2), 0.0, None)
    return float(np.sum(mu / (mu + ridge)))


def routing_kernel(gates: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Theta float[n, n] = sum_j g_j(x) g_j(x') K_j(x, x') from gates float[n, E] and per-expert Grams float[E, n, n]
    (or one Gram float[n, n] that every expert shares)."""
    gates, kernels = np.asarray(gates, dtype=np.float64), np.asarray(kernels, dtype=np.float64)
    if gates.ndim != 2:
        raise ValueError(f"gates must be [n, E], got shape {gates.shape}")
    n, n_experts = gates.shape
    if kernels.shape == (n, n):
        return (gates @ gates.T) * kernels
    if kernels.shape != (n_experts, n, n):
        raise ValueError(f"kernels must be [E, n, n] = [{n_experts}, {n}, {n}] or [n, n], got shape {kernels.shape}")
    return np.einsum("ie,ke,eik->ik", gates, gates, kernels)


def relu_ntk(x: np.ndarray) -> np.ndarray:
    """Analytic NTK float[n, n] of a two-layer ReLU net f(x) = sum_r a_r relu(w_r . x / sqrt(d)) / sqrt(m), m -> inf,
    N(0, 1) init, both layers trained, on inputs x float[n, d]."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1) / np.sqrt(x.shape[1])
    dots = x @ x.T / x.shape[1]
    outer = np.outer(norms, norms)
    cos = np.clip(np.divide(dots, outer, out=np.zeros_like(dots), where=outer > 0), -1.0, 1.0)
    theta = np.arccos(cos)
    return dots * (np.pi - theta) / (2 * np.pi) + outer * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)


def empirical_ntk(x: np.ndarray, w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Finite-width NTK float[n, n] of f(x) = sum_r a_r relu(w_r . x / sqrt(d)) / sqrt(m) at weights w float[m, d],
    a float[m], on inputs x float[n, d] (the gradient Gram over both layers)."""
    x = np.asarray(x, dtype=np.float64)
    m, d = w.shape
    z = x @ w.T / np.sqrt(d)
    active = (z > 0) * a
    return (np.maximum(z, 0) @ np.maximum(z, 0).T + (x @ x.T / d) * (active @ active.T)) / m


def seed_draw(settings: TheorySettings, seed: int) -> dict:
    """One seed: its router scale, mean pairwise pathway distance (edits and 0..1) and d_eff (and d_eff / n)."""
    rng = np.random.default_rng(seed)
    s = settings
    centres = rng.standard_normal((s.clusters, s.dim))
    x = centres[rng.integers(s.clusters, size=s.samples)] + s.cluster_std * rng.standard_normal((s.samples, s.dim))
    scale = float(np.exp(rng.uniform(np.log(s.router_scale[0]), np.log(s.router_scale[1]))))
    logits = scale * x @ rng.standard_normal((s.experts, s.dim)).T / np.sqrt(s.dim)
    gates = np.exp(logits - logits.max(axis=1, keepdims=True))
    gates /= gates.sum(axis=1, keepdims=True)
    if s.kernel == "ntk":
        kernels = relu_ntk(x)
    else:
        kernels = np.stack(
            [
                empirical_ntk(x, rng.standard_normal((s.width, s.dim)), rng.standard_normal(s.width))
                for _ in range(s.experts)
            ]
        )
    d_eff = effective_dimension(routing_kernel(gates, kernels) / s.samples, s.ridge)
    routing = gates[:, None, :]  # one MoE layer: routing [n, 1, E]
    return {
        "seed": seed,
        "router_scale": scale,
        "distance": pathways.mean_pairwise_distance(routing, cut=s.cut, normalize=True),
        "distance_edits": pathways.mean_pairwise_distance(routing, cut=s.cut),
        "path_experts": float(np.mean([len(e[0]) for e in pathways.select_experts(routing, s.cut)])),
        "d_eff": d_eff,
        "d_eff_normalized": d_eff / s.samples,
    }


def theory_experiment(settings: TheorySettings, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """(one row per seed seed*1000 + k, k < settings.seeds; correlation of distance with d_eff_normalized over them)."""
    table = pd.DataFrame([seed_draw(settings, seed * 1000 + k) for k in range(settings.seeds)])
    return table, correlation.correlate(table["distance"].to_numpy(), table["d_eff_normalized"].to_numpy())
