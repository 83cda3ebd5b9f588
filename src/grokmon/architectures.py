"""Registry of MoE architectures: where each transformers `model_type` keeps its routers and how to read them."""

from __future__ import annotations

import importlib
import operator
from dataclasses import dataclass

import torch


class UnsupportedArchitectureError(ValueError):
    """The model is dense or its `model_type` has no entry in `REGISTRY`."""


@dataclass(frozen=True)
class RouterSpec:
    """Where the routers of one architecture live: `layers` and `router` are attribute paths, `router_class` a dotted class."""

    model_type: str
    router_class: str
    layers: str = "model.layers"
    router: str = "mlp.gate"
    logits_index: int = 0

    def routers(self, model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
        """(model layer index, router module) of every MoE layer, in layer order; dense layers are skipped."""
        module_name, class_name = self.router_class.rsplit(".", 1)
        cls = getattr(importlib.import_module(module_name), class_name)
        layers = operator.attrgetter(self.layers)(model)
        found = []
        for i, layer in enumerate(layers):
            try:
                router = operator.attrgetter(self.router)(layer)
            except AttributeError:
                continue
            if isinstance(router, cls):
                found.append((i, router))
        return found

    def logits(self, output) -> torch.Tensor:
        """Raw router logits [tokens, n_experts] (model dtype) from the router module's forward output."""
        return output[self.logits_index]

    def weight(self, module: torch.nn.Module) -> torch.Tensor:
        """Router matrix [n_experts, hidden]: row k is expert k's embedding."""
        return module.weight


_MODELS = "transformers.models"
REGISTRY: dict[str, RouterSpec] = {
    spec.model_type: spec
    for spec in (
        RouterSpec("olmoe", f"{_MODELS}.olmoe.modeling_olmoe.OlmoeTopKRouter"),
        RouterSpec("mixtral", f"{_MODELS}.mixtral.modeling_mixtral.MixtralTopKRouter"),
        # The shared expert (`mlp.shared_expert`, `mlp.shared_expert_gate`) is not routed: only `mlp.gate` counts.
        RouterSpec("qwen2_moe", f"{_MODELS}.qwen2_moe.modeling_qwen2_moe.Qwen2MoeTopKRouter"),
        RouterSpec("qwen3_moe", f"{_MODELS}.qwen3_moe.modeling_qwen3_moe.Qwen3MoeTopKRouter"),
    )
}


def get_router_spec(model_or_config) -> RouterSpec:
    """The registry entry for a model or config (by `config.model_type`); unknown types raise UnsupportedArchitectureError."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type not in REGISTRY:
        raise UnsupportedArchitectureError(
            f"model_or_config: model_type {model_type!r} is not a supported MoE architecture; "
            f"supported model types: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[model_type]


def moe_routers(model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """(layer index, router) of every MoE layer of `model`; a model with none raises UnsupportedArchitectureError."""
    routers = get_router_spec(model).routers(model)
    if not routers:
        raise UnsupportedArchitectureError(
            f"model: {model.config.model_type!r} model has no MoE layer (all layers are dense)"
        )
    return routers
