"""Tiny seeded models and a tiny tokenizer for tests (no hub access): OLMoE, Mixtral, Qwen2-MoE, Qwen3-MoE,
and the dense Llama, Mistral, OLMo, OLMo2, Qwen2, Qwen3 and GPT-NeoX;
GPT-2 stands for an architecture the registry lacks."""

from __future__ import annotations

import string

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    Olmo2Config,
    Olmo2ForCausalLM,
    OlmoConfig,
    OlmoeConfig,
    OlmoeForCausalLM,
    OlmoForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

PAD, EOS, UNK = "<|pad|>", "<|endoftext|>", "<|unk|>"  # ids 0, 1, 2
TEXTS = [
    "the cat sat on the mat.",
    "a dog ran far away, then came back!",
    "one plus two is three; three plus four is seven.",
    "Question: what is 12 times 3? Answer: 36",
    "zebra",
]
# Shared small sizes; initializer_range 0.2 (not 0.02) so that routing is far from uniform.
_SIZES = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    initializer_range=0.2,
    tie_word_embeddings=False,
)


def tiny_tokenizer(texts: list[str] | None = None) -> PreTrainedTokenizerFast:
    """Character BPE (printable ASCII alphabet, <=128 tokens) trained on `texts` (default TEXTS); adds no BOS;
    pads right."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    alphabet = list(string.ascii_letters + string.digits + string.punctuation) + ["\u2581"]
    trainer = trainers.BpeTrainer(
        vocab_size=128, special_tokens=[PAD, EOS, UNK], initial_alphabet=alphabet, show_progress=False
    )
    tok.train_from_iterator(TEXTS if texts is None else texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=PAD, unk_token=UNK, model_max_length=256
    )


def _ids(tokenizer) -> dict:
    return dict(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _build(model_cls, config_cls, tokenizer, seed: int, settings: dict, overrides: dict):
    torch.manual_seed(seed)
    return model_cls(config_cls(**{**_SIZES, **_ids(tokenizer), **settings, **overrides})).eval()


def tiny_olmoe(tokenizer, seed: int = 0, **overrides) -> OlmoeForCausalLM:
    """Seeded OLMoE: hidden 32, 2 layers, 8 experts, top-2 (config fields overridable)."""
    return _build(OlmoeForCausalLM, OlmoeConfig, tokenizer, seed, dict(num_experts=8, num_experts_per_tok=2), overrides)


def tiny_mixtral(tokenizer, seed: int = 0, **overrides) -> MixtralForCausalLM:
    """Seeded Mixtral: hidden 32, 2 layers, 4 experts, top-2."""
    return _build(
        MixtralForCausalLM, MixtralConfig, tokenizer, seed, dict(num_local_experts=4, num_experts_per_tok=2), overrides
    )


def tiny_qwen2_moe(tokenizer, seed: int = 0, **overrides) -> Qwen2MoeForCausalLM:
    """Seeded Qwen2-MoE: 3 layers, layer 1 dense (mlp_only_layers=[1]), 6 routed experts top-2 plus a shared expert."""
    settings = dict(num_hidden_layers=3, mlp_only_layers=[1], num_experts=6, num_experts_per_tok=2)  # routing
    settings |= dict(moe_intermediate_size=32, shared_expert_intermediate_size=48)  # sizes
    return _build(Qwen2MoeForCausalLM, Qwen2MoeConfig, tokenizer, seed, settings, overrides)


def tiny_qwen3_moe(tokenizer, seed: int = 0, **overrides) -> Qwen3MoeForCausalLM:
    """Seeded Qwen3-MoE: 4 layers with decoder_sparse_step=2 (MoE layers 1 and 3), 4 experts top-2."""
    settings = dict(num_hidden_layers=4, decoder_sparse_step=2, num_experts=4, num_experts_per_tok=2)  # routing
    settings |= dict(moe_intermediate_size=32, head_dim=8)  # sizes
    return _build(Qwen3MoeForCausalLM, Qwen3MoeConfig, tokenizer, seed, settings, overrides)


def tiny_llama(tokenizer, seed: int = 0, **overrides) -> LlamaForCausalLM:
    """Seeded dense Llama: hidden 32, 2 layers, MLP of 64 neurons (no routers)."""
    return _build(LlamaForCausalLM, LlamaConfig, tokenizer, seed, {}, overrides)


def tiny_mistral(tokenizer, seed: int = 0, **overrides) -> MistralForCausalLM:
    """Seeded dense Mistral: hidden 32, 2 layers, MLP of 64 neurons."""
    return _build(MistralForCausalLM, MistralConfig, tokenizer, seed, {}, overrides)


def tiny_olmo(tokenizer, seed: int = 0, **overrides) -> OlmoForCausalLM:
    """Seeded dense OLMo (v1): hidden 32, 2 layers, MLP of 64 neurons."""
    return _build(OlmoForCausalLM, OlmoConfig, tokenizer, seed, {}, overrides)


def tiny_olmo2(tokenizer, seed: int = 0, **overrides) -> Olmo2ForCausalLM:
    """Seeded dense OLMo2: hidden 32, 2 layers, MLP of 64 neurons."""
    return _build(Olmo2ForCausalLM, Olmo2Config, tokenizer, seed, {}, overrides)


def tiny_qwen2(tokenizer, seed: int = 0, **overrides) -> Qwen2ForCausalLM:
    """Seeded dense Qwen2: hidden 32, 2 layers, MLP of 64 neurons."""
    return _build(Qwen2ForCausalLM, Qwen2Config, tokenizer, seed, {}, overrides)


def tiny_qwen3(tokenizer, seed: int = 0, **overrides) -> Qwen3ForCausalLM:
    """Seeded dense Qwen3: hidden 32, 2 layers, MLP of 64 neurons, head_dim 8."""
    return _build(Qwen3ForCausalLM, Qwen3Config, tokenizer, seed, dict(head_dim=8), overrides)


def tiny_gpt_neox(tokenizer, seed: int = 0, **overrides) -> GPTNeoXForCausalLM:
    """Seeded dense GPT-NeoX (Pythia's architecture): hidden 32, 2 layers, MLP of 64 neurons, no key/value grouping."""
    sizes = {k: v for k, v in _SIZES.items() if k != "num_key_value_heads"}
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(GPTNeoXConfig(**{**sizes, **_ids(tokenizer), **overrides})).eval()


def tiny_gpt2(tokenizer, seed: int = 0) -> GPT2LMHeadModel:
    """Seeded GPT-2 (hidden 32, 2 layers): a model type with no registry entry."""
    torch.manual_seed(seed)
    config = GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256, **_ids(tokenizer))
    return GPT2LMHeadModel(config).eval()


def capture_padded(model, tokenizer, texts=TEXTS, side="right", **kw):
    """`capture_routes` of `texts` with the tokenizer padding on `side` (restored to right afterwards)."""
    from grokmon.routing.capture import capture_routes

    tokenizer.padding_side = side
    try:
        return capture_routes(model, tokenizer, texts, progress=False, **kw)
    finally:
        tokenizer.padding_side = "right"
