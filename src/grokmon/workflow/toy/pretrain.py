"""Pretrain a tiny OLMoE (or its dense twin) from scratch on a list of texts,
saving HF checkpoint dirs at chosen steps."""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForCausalLM, OlmoeConfig, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from grokmon.files.atomic import atomic_dir, atomic_path
from grokmon.workflow import io, numerics

LOG_COLUMNS = ("step", "lr", "loss", "aux_loss")


def pretrain(
    corpus: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    config: PretrainedConfig,
    *,
    out_dir: str | os.PathLike,
    steps: int,
    save_steps: Iterable[int],
    batch_size: int = 64,
    lr: float = 2e-3,
    warmup: int = 100,
    min_lr_ratio: float = 0.1,
    weight_decay: float = 0.1,
    router_weight_decay: float = 0.0,
    clip: float = 1.0,
    seed: int = 0,
    log_path: str | os.PathLike | None = None,
    callback: Callable[[int, PreTrainedModel], None] | None = None,
    progress: bool = True,
    resume_from: str | os.PathLike | None = None,
    stop_at: int | None = None,
    state_path: str | os.PathLike | None = None,
) -> PreTrainedModel:
    """Train a fresh model on `corpus` for `steps` AdamW steps; save `out_dir/{step}/` at each of `save_steps`.

    Each text is ``tokenizer(text)`` (bos first) plus eos; the loss is the mean NLL (nats) over every predicted token
    plus, for an OLMoE `config`, ``config.router_aux_loss_coef`` times the load-balancing loss (aux_loss 0 for a dense
    one). Batches of `batch_size` texts are drawn
    epoch by epoch from a seeded permutation. `lr` warms up linearly over `warmup` steps, then follows a cosine down
    to ``lr * min_lr_ratio`` at `steps`. `callback(step, model)` runs after every optimizer step; training draws no
    random numbers after initialisation, so a callback that leaves the weights alone cannot change it. The log
    (`LOG_COLUMNS`, loss = language-model loss without aux) of the steps this call trains is written to `log_path`.

    In segments: a call trains only up to step `stop_at` (default `steps`) and, with `state_path`, saves the whole
    training state there; a call with `resume_from` (such a state, same arguments) goes on from the step after it.
    Segments 1..a, a..b, ..., ..steps give bit for bit the weights, log rows and callback calls of one call.
    """
    save_steps = sorted(set(save_steps))
    stop_at = steps if stop_at is None else stop_at
    _check_args(corpus, steps, save_steps, batch_size, warmup, min_lr_ratio, lr, stop_at)
    settings = {"steps": steps, "batch_size": batch_size, "lr": lr, "warmup": warmup, "min_lr_ratio": min_lr_ratio}
    settings |= {"weight_decay": weight_decay, "router_weight_decay": router_weight_decay, "clip": clip, "seed": seed}
    settings |= {"corpus_size": len(corpus)}
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.train()
    moe = isinstance(config, OlmoeConfig)
    aux_coef = config.router_aux_loss_coef if moe else 0.0
    ids = _encode(corpus, tokenizer, config)
    optimizer = numerics.adamw(_param_groups(model, weight_decay, router_weight_decay), lr=lr, betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps, warmup, min_lr_ratio))
    batches = _BatchOrder(len(corpus), batch_size, np.random.default_rng(seed))
    done = 0 if resume_from is None else _load_state(resume_from, settings, model, optimizer, schedule, batches)
    if not done < stop_at:
        raise ValueError(f"stop_at ({stop_at}) must come after the resumed state's step ({done})")
    log, every, start = [], max(1, steps // 20), time.perf_counter()
    for step in range(done + 1, stop_at + 1):
        input_ids, attention_mask, labels = _collate(ids, next(batches), tokenizer.pad_token_id)
        optimizer.zero_grad(set_to_none=True)
        extra = {"output_router_logits": True} if moe else {}
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **extra)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        step_lr = schedule.get_last_lr()[0]
        optimizer.step()
        schedule.step()
        aux = out.aux_loss.item() if moe else 0.0
        log.append((step, step_lr, out.loss.item() - aux_coef * aux, aux))
        if callback is not None:
            callback(step, model)
            model.train()
        if step in save_steps:
            save_checkpoint(model, tokenizer, Path(out_dir) / str(step))
        if progress and (step % every == 0 or step == steps):
            elapsed = time.perf_counter() - start
            print(
                f"pretrain step {step}/{steps} loss {log[-1][2]:.4f} aux {aux:.4f} lr {step_lr:.2e} {elapsed:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    if state_path is not None:
        _save_state(state_path, stop_at, settings, model, optimizer, schedule, batches)
    if log_path is not None:
        io.write_tsv(log_path, pd.DataFrame(log, columns=list(LOG_COLUMNS)))
    return model


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str | os.PathLike) -> None:
    """Save model + tokenizer as a HF dir at `path` atomically (temp dir beside it, then rename; replaces `path`)."""
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def _check_args(corpus, steps, save_steps, batch_size, warmup, min_lr_ratio, lr, stop_at) -> None:
    if len(corpus) == 0:
        raise ValueError("corpus is empty")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps!r}")
    if not 1 <= stop_at <= steps:
        raise ValueError(f"stop_at must lie in 1..steps ({steps}), got {stop_at!r}")
    if save_steps and not 1 <= save_steps[0] <= save_steps[-1] <= steps:
        raise ValueError(f"save_steps must lie in 1..steps ({steps}), got {save_steps}")
    if not 1 <= batch_size <= len(corpus):
        raise ValueError(f"batch_size must be in 1..len(corpus) ({len(corpus)}), got {batch_size!r}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup!r}")
    if not 0 <= min_lr_ratio <= 1:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio!r}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr!r}")


def _encode(corpus: Sequence[str], tokenizer, config: PretrainedConfig) -> list[list[int]]:
    ids = [row + [tokenizer.eos_token_id] for row in tokenizer(list(corpus))["input_ids"]]
    longest = max(len(row) for row in ids)
    if longest > config.max_position_embeddings:
        raise ValueError(
            f"corpus has a text of {longest} tokens, above max_position_embeddings ({config.max_position_embeddings})"
        )
    return ids


def _param_groups(model: PreTrainedModel, weight_decay: float, router_weight_decay: float) -> list[dict]:
    groups = {"decay": [], "router": [], "none": []}
    for name, p in model.named_parameters():
        key = "router" if name.endswith("mlp.gate.weight") else "decay" if p.ndim >= 2 else "none"
        groups[key].append(p)
    decay = {"decay": weight_decay, "router": router_weight_decay, "none": 0.0}
    return [{"params": ps, "weight_decay": decay[k]} for k, ps in groups.items() if ps]


def _lr_factor(step: int, steps: int, warmup: int, min_lr_ratio: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)  # scheduler step s sets the lr of step s + 1
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _BatchOrder:
    """Batches of `batch_size` row indices of `n` rows, epoch by epoch from permutations drawn from `rng`;
    `state()` and `restore()` carry it across segments exactly."""

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator):
        self.n, self.batch_size, self.rng = n, batch_size, rng
        self.buffer = np.empty(0, dtype=np.int64)  # the rest of the current permutation

    def __next__(self) -> np.ndarray:
        """The next batch: (batch_size,) int64 row indices."""
        while len(self.buffer) < self.batch_size:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.n)])
        batch, self.buffer = self.buffer[: self.batch_size], self.buffer[self.batch_size :]
        return batch

    def state(self) -> dict:
        """The generator's bit_generator state and the leftover buffer (a tensor, for torch.save)."""
        return {"bit_generator": self.rng.bit_generator.state, "buffer": torch.from_numpy(self.buffer.copy())}

    def restore(self, state: dict) -> None:
        """Continue from a `state()`."""
        self.rng.bit_generator.state = state["bit_generator"]
        self.buffer = state["buffer"].numpy().copy()


def _save_state(path, step, settings, model, optimizer, schedule, batches: _BatchOrder) -> None:
    """Training state after `step`, atomically: weights, AdamW, scheduler, batch order, torch RNG, `settings`."""
    state = {"step": step, "settings": settings, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
    state |= {"schedule": schedule.state_dict(), "batches": batches.state(), "torch_rng": torch.get_rng_state()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_state(path, settings, model, optimizer, schedule, batches: _BatchOrder) -> int:
    """Load a `_save_state` file into the fresh training objects; returns its step."""
    state = torch.load(path, weights_only=True)
    if state["settings"] != settings:
        raise ValueError(f"resume_from: {path} was trained with {state['settings']}, not {settings}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    batches.restore(state["batches"])
    torch.set_rng_state(state["torch_rng"])
    return state["step"]


def _collate(ids: list[list[int]], rows: np.ndarray, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids[i]) for i in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):
        input_ids[r, : len(ids[i])] = torch.tensor(ids[i])
        attention_mask[r, : len(ids[i])] = 1
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return input_ids, attention_mask, labels
