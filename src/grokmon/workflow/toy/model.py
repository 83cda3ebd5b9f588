"""The toy's character-level tokenizer, tiny OLMoE configuration and its dense OLMo2 twin.

Tokens are single characters (a BPE model with no merges by default): numbers are digit sequences, which keeps
arithmetic learnable, and a text's tokens do not depend on what follows it, so lm-eval's context/continuation split
of ``prompt + " " + answer`` is exact. The alphabet is printable ASCII plus every character of the training texts.
Encoding prepends ``<|endoftext|>`` (bos == eos, as in OLMoE's packed documents) unless ``add_special_tokens=False``;
pretraining appends it again at the end of each text.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, processors, trainers
from transformers import Olmo2Config, OlmoeConfig, PretrainedConfig, PreTrainedTokenizerFast

from grokmon.routing.virtual_experts import set_virtual_experts

PAD, EOS, UNK = "<|pad|>", "<|endoftext|>", "<|unk|>"
SPECIAL_TOKENS = {"bos_token": EOS, "eos_token": EOS, "pad_token": PAD, "unk_token": UNK}


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int | None = None,
    *,
    padding_side: str = "right",
    model_max_length: int = 128,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on `texts`: characters only (vocab_size None) or BPE merges up to `vocab_size` tokens."""
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive int or None, got {vocab_size!r}")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if model_max_length < 2:
        raise ValueError(f"model_max_length must be at least 2, got {model_max_length!r}")
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size or 0,  # 0: the special tokens and the alphabet, no merges
        special_tokens=[PAD, EOS, UNK],
        initial_alphabet=list(string.printable),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{EOS} $A", special_tokens=[(EOS, tok.token_to_id(EOS))])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=model_max_length, padding_side=padding_side, **SPECIAL_TOKENS
    )


KINDS = ("moe", "dense")


def toy_model_config(tokenizer: PreTrainedTokenizerFast, kind: str = "moe", **sizes) -> PretrainedConfig:
    """The toy model's config: `tiny_olmoe_config(tokenizer, **sizes)` (kind "moe") or its twin `tiny_dense_config`."""
    if kind not in KINDS:
        raise ValueError(f"toy.model.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    return (tiny_olmoe_config if kind == "moe" else tiny_dense_config)(tokenizer, **sizes)


# OlmoeConfig fields that the dense twin takes over unchanged.
_DENSE_SHARED = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "max_position_embeddings",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "tie_word_embeddings",
)


def tiny_dense_config(tokenizer: PreTrainedTokenizerFast, **sizes) -> Olmo2Config:
    """Dense OLMo2 twin of ``tiny_olmoe_config(tokenizer, **sizes)`` (same arguments; top_k and aux_loss_coef have no
    effect): one MLP of num_experts * expert_size neurons per layer, so the MoE's parameters minus its routers
    (num_experts * hidden_size per layer), read as num_experts contiguous virtual experts of expert_size neurons each
    (stored in the config, see `grokmon.routing.virtual_experts`)."""
    moe = tiny_olmoe_config(tokenizer, **sizes)
    config = Olmo2Config(
        intermediate_size=moe.num_experts * moe.intermediate_size, **{k: getattr(moe, k) for k in _DENSE_SHARED}
    )
    set_virtual_experts(config, n_experts=moe.num_experts, partition="contiguous")
    return config


def tiny_olmoe_config(
    tokenizer: PreTrainedTokenizerFast,
    hidden_size: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    num_experts: int = 8,
    top_k: int = 2,
    expert_size: int = 64,
    max_length: int | None = None,
    aux_loss_coef: float = 0.001,
    tie_embeddings: bool = True,
) -> OlmoeConfig:
    """OlmoeConfig for `tokenizer`'s vocabulary; sizes in units (max_length: positions, default the tokenizer's).

    OLMoE's defaults otherwise (``norm_topk_prob=False``), except tied input/output embeddings by default: the toy
    study's recipe (demo world, seed 0: code held-out accuracy 0.98 tied against 0.51 untied).
    """
    for name, value in {
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "num_experts": num_experts,
        "expert_size": expert_size,
    }.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be a multiple of num_heads ({num_heads})")
    if not 1 <= top_k <= num_experts:
        raise ValueError(f"top_k must be in 1..num_experts ({num_experts}), got {top_k!r}")
    if aux_loss_coef < 0:
        raise ValueError(f"aux_loss_coef must be >= 0, got {aux_loss_coef!r}")
    return OlmoeConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=expert_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        num_experts=num_experts,
        num_experts_per_tok=top_k,
        max_position_embeddings=max_length or tokenizer.model_max_length,
        router_aux_loss_coef=aux_loss_coef,
        norm_topk_prob=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=tie_embeddings,
    )
