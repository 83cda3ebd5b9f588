"""Min-K%++ membership scores (Zhang et al. 2024) of test texts under a causal LM, and the top-fraction drop."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


@torch.no_grad()
def min_k_plus_plus(
    model,
    tokenizer,
    texts: Sequence[str],
    k: float = 0.2,
    batch_size: int = 8,
    max_length: int = 2048,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Min-K%++ score per text, float32[n]: mean of the lowest max(1, int(k * T)) token scores (higher = more "seen").

    Token score at position t (predicting x_t from x_<t; T = number of tokens after the first):
    (log p(x_t) - mu_t) / sigma_t with mu_t = E_{z~p}[log p(z)] and sigma_t^2 = E_{z~p}[(log p(z) - mu_t)^2]
    (= E[log p^2] - mu^2, computed in the stable two-pass form) under the model's next-token distribution p.
    Texts are truncated to `max_length` tokens and right-padded; memory grows as batch_size * length * vocab.
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2, got {max_length!r}")
    encoded = [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]
    short = [i for i, ids in enumerate(encoded) if len(ids) < 2]
    if short:
        raise ValueError(f"texts {short} have fewer than 2 tokens (nothing to score)")
    scores = np.empty(len(encoded), dtype=np.float32)
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.zeros(len(batch), width, dtype=torch.long)
        attention = torch.zeros(len(batch), width, dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
        token_scores = _token_scores(logits[:, :-1].float(), input_ids[:, 1:].to(device))
        for row, ids in enumerate(batch):
            valid = token_scores[row, : len(ids) - 1]
            lowest = torch.sort(valid).values[: max(1, int(k * valid.numel()))]
            scores[start + row] = lowest.mean().item()
    return scores


def _token_scores(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-token Min-K%++ scores [B, T] from next-token logits [B, T, V] and the actual next tokens [B, T]."""
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    mu = (p * log_p).sum(-1)
    sigma = (p * (log_p - mu.unsqueeze(-1)).square()).sum(-1).sqrt().clamp_min(torch.finfo(logits.dtype).tiny)
    return (log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - mu) / sigma


def drop_top_fraction(scores: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Bool mask [n] keeping all but the floor(fraction * n) highest scores (ties: the earlier item is dropped).

    The paper drops the top 10% of Min-K%++ scores from each test set as likely contaminated.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    keep = np.ones(scores.size, dtype=bool)
    keep[np.argsort(-scores, kind="stable")[: math.floor(fraction * scores.size + 1e-9)]] = False
    return keep
