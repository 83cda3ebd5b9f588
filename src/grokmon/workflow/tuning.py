"""Instruction tuning of one checkpoint: LoRA (peft; saves only the adapter) or full fine-tuning (saves the model).

The paper fixes rank 32, dropout 0.1, lr 5e-5, batch 4, 3 epochs, max length 2048 and q/k/v targets.
Its alpha, optimizer, scheduler, warmup, precision and prompt template are UNKNOWN; every one is a
field of `LoraSettings` (the shared recipe `TuningSettings` plus the adapter), the one home of the defaults.
Those follow the common peft + HF Trainer recipe: alpha = 2 * rank, AdamW without weight decay, linear decay,
no warmup, bf16 on CUDA / float32 on CPU, template "{prompt}".

An SFT pair is tokenized exactly as lm-evaluation-harness scores a benchmark answer (`_encode_pair`):
context = the template applied to the prompt (tokenizer's default special tokens), continuation =
the tokens of context + delimiter + response beyond the context's (the harness's target_delimiter,
" " by default; "" where the pretraining text has nothing between question and answer, as the toy's
"12+7=19"), then EOS. The loss covers the continuation only (loss_on="response") or every token ("all").
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from grokmon.files.atomic import atomic_dir
from grokmon.metrics.validation import resolve_settings
from grokmon.routing.devices import resolve_device, resolve_dtype
from grokmon.workflow import io, numerics

PROMPT_FIELD = "{prompt}"
IGNORE_INDEX = -100
TARGET_DELIMITER = " "
_OPTIMIZERS = {"adamw": numerics.adamw, "sgd": torch.optim.SGD}
PathLike = str | os.PathLike
Rows = Sequence[Mapping[str, str]]  # SFT pairs: {"prompt": ..., "response": ...} each


@dataclass(frozen=True)
class TuningSettings:
    """The tuning recipe that LoRA and full fine-tuning share: the one home of its defaults (config `lora:`)."""

    lr: float = 5e-5
    """Peak learning rate (paper: 5e-5)."""
    batch_size: int = 4
    """SFT pairs per optimizer step (paper: 4)."""
    epochs: int = 3
    """Passes over the SFT pairs (paper: 3)."""
    max_length: int = 2048
    """Tokens per pair at most, prompt + response + EOS (paper: 2048)."""
    prompt_template: str = PROMPT_FIELD
    """Text around the prompt; every `{prompt}` is replaced by it (the paper gives none)."""
    target_delimiter: str = TARGET_DELIMITER
    """Text between prompt and response, as lm-eval's target_delimiter."""
    loss_on: str = "response"
    """Tokens the loss covers: "response" (the continuation and EOS) or "all"."""
    optimizer: str = "adamw"
    """"adamw" or "sgd" (the paper gives none)."""
    weight_decay: float = 0.0
    """The optimizer's weight decay."""
    scheduler: str = "linear"
    """A transformers scheduler name: "linear", "cosine", "constant", ..."""
    warmup_ratio: float = 0.0
    """Fraction of the steps in [0, 1) spent warming up."""
    seed: int = 0
    """Seed of the initialisation (LoRA's A matrices, dropout) and of the pair order."""
    device: str | None = None
    """torch device; None: cuda if available, else cpu."""
    dtype: str = "auto"
    """Weights' dtype: "auto" (bf16 on CUDA, float32 on CPU), "float32", "bfloat16" or "float16"."""
    max_steps: int | None = None
    """Optimizer steps at most (None: epochs decide)."""
    progress: bool = True
    """Show a progress bar on stderr."""

    def __post_init__(self):
        for name in ("batch_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {self.optimizer!r}")


@dataclass(frozen=True)
class LoraSettings(TuningSettings):
    """The recipe plus the adapter (peft's LoraConfig): the one home of the LoRA defaults (config `lora:`)."""

    rank: int = 32
    """Rank r of the adapter (paper: 32)."""
    alpha: float | None = None
    """Scaling numerator lora_alpha (the adapter is scaled by alpha / r; the paper gives none); None: 2 * rank."""
    dropout: float = 0.1
    """Dropout on the adapter's input (paper: 0.1)."""
    target_modules: Sequence[str] = ("q_proj", "k_proj", "v_proj")
    """Modules that get an adapter (paper: the query, key and value projections)."""

    def __post_init__(self):
        super().__post_init__()
        if int(self.rank) < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")

    @property
    def lora_alpha(self) -> float:
        """alpha, or 2 * rank when it is None."""
        return 2 * self.rank if self.alpha is None else self.alpha


# Keys of the lora config section that only LoRA has; the rest is the recipe that full fine-tuning shares.
LORA_ONLY = tuple(f.name for f in fields(LoraSettings) if f.name not in {g.name for g in fields(TuningSettings)})


def split_template(template: str) -> list[str]:
    """Literal pieces of a prompt template around its `{prompt}` fields (at least one field required)."""
    if not isinstance(template, str) or PROMPT_FIELD not in template:
        raise ValueError(f"prompt_template must be a string containing {PROMPT_FIELD!r}, got {template!r}")
    return template.split(PROMPT_FIELD)


def render_prompt(template: str, prompt: str) -> str:
    """Apply a prompt template: every `{prompt}` replaced by `prompt`, all other text literal."""
    return prompt.join(split_template(template))


def encode_pair(
    tokenizer,
    prompt: str,
    response: str,
    *,
    prompt_template: str = TuningSettings.prompt_template,
    loss_on: str = TuningSettings.loss_on,
    max_length: int = TuningSettings.max_length,
    target_delimiter: str = TuningSettings.target_delimiter,
) -> tuple[list[int], list[int]]:
    """Ids [L] and labels [L] (IGNORE_INDEX = no loss) of template(prompt) + delimiter + response + EOS;
    L <= max_length."""
    if loss_on not in ("response", "all"):
        raise ValueError(f"loss_on must be 'response' or 'all', got {loss_on!r}")
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2, got {max_length}")
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos_token")
    context = render_prompt(prompt_template, prompt)
    stripped = context.rstrip()  # as lm-eval's _encode_pair: trailing whitespace moves to the continuation
    context_ids = tokenizer(stripped)["input_ids"]
    whole = tokenizer(context + target_delimiter + response)["input_ids"]
    answer = whole[len(context_ids) :] + [tokenizer.eos_token_id]
    ids = (context_ids + answer)[:max_length]
    labels = ids if loss_on == "all" else [IGNORE_INDEX] * len(context_ids) + answer
    return ids, labels[:max_length]


def collate(examples: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad (ids, labels) pairs into input_ids, attention_mask, labels (int64 [B, T]; pads: IGNORE_INDEX)."""
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (x, y) in enumerate(examples):
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token NLL (nats) over labelled positions: logits [B, T, V] at t predict labels [B, T] at t+1."""
    target = labels[:, 1:].reshape(-1)
    nll = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), target, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return nll / (target != IGNORE_INDEX).sum().clamp(min=1)


def train_lora(
    base_path: PathLike, sft_rows: Rows, out_dir: PathLike, settings: LoraSettings | None = None, **overrides
) -> dict:
    """LoRA-tune the HF model dir `base_path` on {"prompt","response"} rows; adapter + train_stats.json -> `out_dir`.

    `settings`: a `LoraSettings`, or its fields as keywords (`train_lora(base, rows, out, rank=8, lr=1e-3)`).
    Returns the stats: steps, examples, first/last loss and the per-step losses (nats/token), seconds,
    trainable params, rank and alpha.
    """
    from peft import LoraConfig, get_peft_model

    s = resolve_settings(LoraSettings, settings, **overrides)
    lora = LoraConfig(
        r=s.rank,
        lora_alpha=s.lora_alpha,
        lora_dropout=s.dropout,
        target_modules=list(s.target_modules),
        task_type="CAUSAL_LM",
    )
    model, _, stats = _tune(base_path, sft_rows, lambda base: get_peft_model(base, lora), s)
    stats |= {"rank": s.rank, "alpha": lora.lora_alpha}
    _save(out_dir, stats, model)
    return stats


def train_full(
    base_path: PathLike, sft_rows: Rows, out_dir: PathLike, settings: TuningSettings | None = None, **overrides
) -> dict:
    """Fine-tune every parameter of the HF model dir `base_path` with the LoRA recipe; model + tokenizer -> `out_dir`.

    The accuracy source `full`: same data, template, loss, optimizer and schedule as `train_lora`, no adapter;
    `settings`: a `TuningSettings` or its fields as keywords. Returns the same stats as `train_lora` (without rank
    and alpha).
    """
    model, tokenizer, stats = _tune(
        base_path, sft_rows, lambda base: base, resolve_settings(TuningSettings, settings, **overrides)
    )
    _save(out_dir, stats, model, tokenizer)
    return stats


def _tune(base_path, sft_rows, wrap, s: TuningSettings) -> tuple:
    """The shared training loop: `wrap(base model)` is trained with the recipe `s` -> (model, tokenizer, stats);
    at most `s.max_steps` optimizer steps."""
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler

    if not sft_rows:
        raise ValueError("sft_rows is empty")
    device = resolve_device("auto" if s.device is None else s.device)
    dtype_name = resolve_dtype(s.dtype, device)
    start = time.perf_counter()

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    pair = {k: getattr(s, k) for k in ("prompt_template", "loss_on", "max_length", "target_delimiter")}
    try:
        examples = [encode_pair(tokenizer, row["prompt"], row["response"], **pair) for row in sft_rows]
    except KeyError as err:
        raise ValueError(f"sft_rows: every row needs 'prompt' and 'response' (missing {err})") from None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    torch.manual_seed(s.seed)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, dtype_name))
    model = wrap(base).to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _OPTIMIZERS[s.optimizer](params, lr=s.lr, weight_decay=s.weight_decay)
    per_epoch = math.ceil(len(examples) / s.batch_size)
    total = per_epoch * s.epochs if s.max_steps is None else min(s.max_steps, per_epoch * s.epochs)
    sched = get_scheduler(s.scheduler, opt, num_warmup_steps=int(s.warmup_ratio * total), num_training_steps=total)

    order = torch.Generator().manual_seed(s.seed)
    losses: list[float] = []
    bar = tqdm(total=total, desc="tune", file=sys.stderr, disable=not s.progress)
    while len(losses) < total:
        perm = torch.randperm(len(examples), generator=order).tolist()
        for i in range(0, len(perm), s.batch_size):
            if len(losses) == total:
                break
            batch = collate([examples[j] for j in perm[i : i + s.batch_size]], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = causal_lm_loss(logits, batch["labels"])
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()

    stats = {
        "steps": len(losses),
        "examples": len(examples),
        "epochs": len(losses) / per_epoch,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "trainable_params": sum(p.numel() for p in params),
        "dtype": dtype_name,
        "device": device,
    }
    return model, tokenizer, stats


def _save(out_dir: str | os.PathLike, stats: dict, *parts) -> None:
    """`save_pretrained` of every part (a peft model saves its adapter only) and train_stats.json into a temp dir
    beside `out_dir`, then swap it into place."""
    with atomic_dir(Path(out_dir)) as tmp:
        for part in parts:
            part.save_pretrained(tmp)
        io.write_json(tmp / "train_stats.json", stats)
