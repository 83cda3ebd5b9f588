"""Registry of architectures: where each transformers `model_type` keeps its routers (MoE) or its MLPs (dense, read as
virtual experts, see `grokmon.routing.virtual_experts`), and how to turn them into per-token routing weights."""

from __future__ import annotations

import importlib
import operator
from dataclasses import dataclass, replace

import torch

from grokmon.routing.virtual_experts import VirtualExperts


class UnsupportedArchitectureError(ValueError):
    """The model's `model_type` has no entry in `REGISTRY`, or it has no MoE layer."""


@dataclass(frozen=True)
class RouterSpec:
    """Where the routers of one architecture live: `layers` and `router` are attribute paths,
    `router_class` a dotted class."""

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

    def hooked(self, router: torch.nn.Module) -> torch.nn.Module:
        """The module whose forward hook sees the routing: the router itself."""
        return router

    def token_weights(self, args: tuple, output) -> torch.Tensor:
        """Routing weights float32[tokens, n_experts] from the hooked module's forward: softmax over all experts."""
        return torch.softmax(self.logits(output).float(), dim=-1)


@dataclass(frozen=True)
class DenseSpec:
    """Where the MLPs of a dense architecture live (attribute paths: `layers` in the model, `mlp` in a layer,
    `input_proj`/`output_proj` in the MLP), read as `experts` (virtual experts, set per model by `get_router_spec`)."""

    model_type: str
    layers: str = "model.layers"
    mlp: str = "mlp"
    input_proj: str = "gate_proj"
    output_proj: str = "down_proj"
    experts: VirtualExperts = VirtualExperts()

    def routers(self, model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
        """(model layer index, MLP module) of every layer, in layer order: each dense MLP is one virtual MoE layer."""
        layers = operator.attrgetter(self.layers)(model)
        return [(i, operator.attrgetter(self.mlp)(layer)) for i, layer in enumerate(layers)]

    def weight(self, mlp: torch.nn.Module) -> torch.Tensor:
        """Virtual expert embeddings float32[K, hidden]: mean input-projection row of each neuron group."""
        return self.experts.embeddings(operator.attrgetter(self.input_proj)(mlp).weight)

    def hooked(self, mlp: torch.nn.Module) -> torch.nn.Module:
        """The output projection, whose input is the MLP's intermediate activations."""
        return operator.attrgetter(self.output_proj)(mlp)

    def token_weights(self, args: tuple, output) -> torch.Tensor:
        """Virtual routing weights float32[tokens, K] from the output projection's input (the activations)."""
        return self.experts.token_weights(args[0])


_MODELS = "transformers.models"
REGISTRY: dict[str, RouterSpec] = {
    spec.model_type: spec
    for spec in (
        RouterSpec("olmoe", f"{_MODELS}.olmoe.modeling_olmoe.OlmoeTopKRouter"),
        RouterSpec("mixtral", f"{_MODELS}.mixtral.modeling_mixtral.MixtralTopKRouter"),
        # The shared expert (`mlp.shared_expert`, `mlp.shared_expert_gate`) is not routed: only `mlp.gate` counts.
        RouterSpec("qwen2_moe", f"{_MODELS}.qwen2_moe.modeling_qwen2_moe.Qwen2MoeTopKRouter"),
        RouterSpec("qwen3_moe", f"{_MODELS}.qwen3_moe.modeling_qwen3_moe.Qwen3MoeTopKRouter"),
        # Dense, gated MLPs: down_proj(act(gate_proj(x)) * up_proj(x)).
        DenseSpec("llama"),
        DenseSpec("mistral"),
        DenseSpec("olmo"),
        DenseSpec("olmo2"),
        DenseSpec("qwen2"),
        DenseSpec("qwen3"),
        # Dense GPT-NeoX (Pythia): dense_4h_to_h(act(dense_h_to_4h(x))).
        DenseSpec("gpt_neox", layers="gpt_neox.layers", input_proj="dense_h_to_4h", output_proj="dense_4h_to_h"),
    )
}


def get_router_spec(model_or_config) -> RouterSpec | DenseSpec:
    """The registry entry for a model or config (by `config.model_type`), a dense one with the config's virtual-expert
    settings (`VirtualExperts.from_config`); unknown types raise UnsupportedArchitectureError."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type not in REGISTRY:
        raise UnsupportedArchitectureError(
            f"model_or_config: model_type {model_type!r} is not a supported architecture; "
            f"supported model types: {', '.join(sorted(REGISTRY))}"
        )
    spec = REGISTRY[model_type]
    return replace(spec, experts=VirtualExperts.from_config(config)) if isinstance(spec, DenseSpec) else spec


def moe_routers(model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """(layer index, router) of every MoE layer of `model` (every MLP of a dense model); a model with none raises
    UnsupportedArchitectureError."""
    routers = get_router_spec(model).routers(model)
    if not routers:
        raise UnsupportedArchitectureError(
            f"model: {model.config.model_type!r} model has no MoE layer (all layers are dense)"
        )
    return routers
