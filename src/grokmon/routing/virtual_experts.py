"""Virtual experts of a dense MLP: a fixed partition of its intermediate neurons into K groups that stand in for the
routed experts of an MoE layer (the paper's "virtual pathways", docs/dense.md).

A token's virtual routing weight for group k is the share of the layer's activation mass in group k: the sum of
|a_j| over the group's neurons j over the sum over all neurons, where a is the input of the MLP's output projection
(act(gate(x)) * up(x) for gated MLPs, act(W_in x) otherwise). The K weights sum to 1, like a router softmax. A group's
expert embedding is the mean of its neurons' input-projection rows (gate_proj for gated MLPs), the analogue of a
router row. The partition depends only on (intermediate size, K, rule, seed), so it is the same at every checkpoint.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import asdict, dataclass

import numpy as np
import torch

PARTITIONS = ("contiguous", "random")
# The attribute of a model's transformers config (saved in its config.json) that holds the settings dict.
CONFIG_KEY = "virtual_experts"


@dataclass(frozen=True)
class VirtualExperts:
    """K = `n_experts` groups of a dense MLP's neurons; `partition`: "contiguous" (neurons 0..I-1 cut into K blocks in
    index order, sizes differing by at most 1) or "random" (a permutation seeded by `seed`, then cut the same way)."""

    n_experts: int = 64
    partition: str = "contiguous"
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.n_experts, bool) or not isinstance(self.n_experts, numbers.Integral) or self.n_experts < 2:
            raise ValueError(f"virtual_experts.n_experts: expected an int >= 2, got {self.n_experts!r}")
        if self.partition not in PARTITIONS:
            raise ValueError(
                f"virtual_experts.partition: expected one of {', '.join(PARTITIONS)}, got {self.partition!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise ValueError(f"virtual_experts.seed: expected an int, got {self.seed!r}")

    @classmethod
    def from_settings(cls, settings: dict | None) -> VirtualExperts:
        """From a dict with any of the keys n_experts, partition, seed (defaults where absent)."""
        settings = settings or {}
        unknown = set(settings) - {"n_experts", "partition", "seed"}
        if unknown:
            raise ValueError(f"virtual_experts: unknown key(s) {sorted(unknown)}; allowed: n_experts, partition, seed")
        return cls(**settings)

    @classmethod
    def from_config(cls, config) -> VirtualExperts:
        """The settings stored on a transformers config under `CONFIG_KEY` (a dict), defaults where absent."""
        return cls.from_settings(getattr(config, CONFIG_KEY, None))

    def groups(self, n_neurons: int) -> np.ndarray:
        """Group id int64[n_neurons] of each intermediate neuron (0..K-1)."""
        return self._cached_groups(n_neurons).copy()

    def _cached_groups(self, n_neurons: int) -> np.ndarray:
        return _groups(n_neurons, self.n_experts, self.partition, self.seed)

    def token_weights(self, activations: torch.Tensor) -> torch.Tensor:
        """Virtual routing weights float32[tokens, K] (rows sum to 1; uniform where a token's mass is 0) from the
        MLP's intermediate activations [..., n_neurons]."""
        mass = activations.reshape(-1, activations.shape[-1]).float().abs()
        groups = torch.tensor(self._cached_groups(mass.shape[-1]), device=mass.device)
        grouped = torch.zeros(mass.shape[0], self.n_experts, device=mass.device).index_add_(1, groups, mass)
        total = grouped.sum(dim=1, keepdim=True)
        return torch.where(total > 0, grouped / total, 1.0 / self.n_experts)

    def embeddings(self, input_rows: torch.Tensor) -> torch.Tensor:
        """Expert embeddings float32[K, hidden]: the mean input-projection row [n_neurons, hidden] of each group."""
        rows = input_rows.detach().float()
        index = self._cached_groups(rows.shape[0])
        groups = torch.tensor(index, device=rows.device)
        sums = torch.zeros(self.n_experts, rows.shape[1], device=rows.device).index_add_(0, groups, rows)
        counts = torch.tensor(np.bincount(index, minlength=self.n_experts), device=rows.device)
        return sums / counts[:, None]


def set_virtual_experts(config, **settings) -> VirtualExperts:
    """Store virtual-expert settings (keys of `VirtualExperts`; unset keys keep the config's value, else the default)
    on a transformers `config`, where capture reads them and `save_pretrained` writes them; returns the result."""
    experts = VirtualExperts.from_settings({**(getattr(config, CONFIG_KEY, None) or {}), **settings})
    setattr(config, CONFIG_KEY, asdict(experts))
    return experts


@functools.lru_cache(maxsize=32)
def _groups(n_neurons: int, n_experts: int, partition: str, seed: int) -> np.ndarray:
    if n_experts > n_neurons:
        raise ValueError(
            f"virtual_experts.n_experts: {n_experts} groups need at least as many MLP neurons, got {n_neurons}"
        )
    order = np.arange(n_neurons) if partition == "contiguous" else np.random.default_rng(seed).permutation(n_neurons)
    groups = np.empty(n_neurons, dtype=np.int64)
    for k, block in enumerate(np.array_split(order, n_experts)):
        groups[block] = k
    groups.flags.writeable = False
    return groups
