"""One forward pass per batch -> per-sample mean NLL, token count and mean full-softmax routing weights."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from grokmon import io
from grokmon.architectures import get_router_spec, moe_routers
from grokmon.devices import resolve_device, resolve_dtype

# Most logits elements turned into float32 log-probabilities at once by the NLL (2**24 floats = 64 MiB).
_NLL_CHUNK_ELEMENTS = 2**24


@dataclass
class RouteCapture:
    """Per-sample outputs of `capture_routes`, in input order: nll float32[n] (nats/token), n_tokens int64[n],
    routing float32[n, n_moe_layers, n_experts] (rows sum to 1), layers int64[n_moe_layers] (model layer indices)."""

    nll: np.ndarray
    n_tokens: np.ndarray
    routing: np.ndarray
    layers: np.ndarray

    def __post_init__(self) -> None:
        self.nll = np.asarray(self.nll, dtype=np.float32)
        self.n_tokens = np.asarray(self.n_tokens, dtype=np.int64)
        self.routing = np.asarray(self.routing, dtype=np.float32)
        self.layers = np.asarray(self.layers, dtype=np.int64)
        n = len(self.nll)
        if self.nll.ndim != 1 or self.n_tokens.shape != (n,):
            raise ValueError(f"nll/n_tokens: expected two [n] arrays, got {self.nll.shape} and {self.n_tokens.shape}")
        if self.routing.ndim != 3 or self.routing.shape[:2] != (n, len(self.layers)):
            raise ValueError(f"routing: expected [{n}, {len(self.layers)}, n_experts], got {self.routing.shape}")

    def __len__(self) -> int:
        return len(self.nll)

    def save(self, path: str | os.PathLike) -> None:
        """Write the four arrays to an .npz (keys nll, n_tokens, routing, layers) atomically."""
        io.save_npz(path, nll=self.nll, n_tokens=self.n_tokens, routing=self.routing, layers=self.layers)

    @classmethod
    def load(cls, path: str | os.PathLike) -> RouteCapture:
        """Read an .npz written by `save`."""
        z = io.load_npz(path)
        return cls(nll=z["nll"], n_tokens=z["n_tokens"], routing=z["routing"], layers=z["layers"])

    @classmethod
    def concat(cls, parts: Sequence[RouteCapture]) -> RouteCapture:
        """Join captures of the same model along the sample axis, in the given order."""
        if not parts:
            raise ValueError("parts: need at least one RouteCapture")
        if any(not np.array_equal(p.layers, parts[0].layers) for p in parts):
            raise ValueError("parts: captures come from different MoE layers")
        return cls(
            nll=np.concatenate([p.nll for p in parts]),
            n_tokens=np.concatenate([p.n_tokens for p in parts]),
            routing=np.concatenate([p.routing for p in parts]),
            layers=parts[0].layers,
        )


def capture_routes(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int = 512,
    device=None,
    progress: bool = True,
    add_eos: bool = False,
) -> RouteCapture:
    """Capture all `texts` at once (see `iter_capture`): nll float32[n], n_tokens int64[n], routing float32[n, L, E]."""
    texts = list(texts)
    parts = iter_capture(
        model,
        tokenizer,
        texts,
        shard_size=len(texts),
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        progress=progress,
        add_eos=add_eos,
    )
    return RouteCapture.concat(list(parts))


def iter_capture(
    model,
    tokenizer,
    texts: Iterable[str],
    *,
    shard_size: int = 1024,
    batch_size: int = 8,
    max_length: int = 512,
    device=None,
    progress: bool = True,
    add_eos: bool = False,
) -> Iterator[RouteCapture]:
    """Yield one RouteCapture per run of `shard_size` consecutive texts (input order); memory is flat in len(texts).

    Each text is tokenized (special tokens as the tokenizer adds them, plus EOS if `add_eos`), truncated to
    `max_length` tokens, and run through `model` (eval mode, inference mode) in length-sorted batches padded on
    `tokenizer.padding_side`. nll is the mean next-token NLL over positions 1..len-1 (NaN for a 1-token text);
    routing is, per MoE layer, the mean over the text's tokens of the softmax over all experts of the router logits.
    `device` (default: the model's) moves the model there. Bad arguments raise at the call, not at the first shard.
    """
    if hasattr(texts, "__len__") and len(texts) == 0:
        raise ValueError("texts: empty")
    for name, value in (("shard_size", shard_size), ("batch_size", batch_size), ("max_length", max_length)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    hooks = _RoutingMeans(get_router_spec(model), moe_routers(model))
    if device is not None:
        model.to(device)
    return _iter_shards(model, tokenizer, texts, hooks, shard_size, batch_size, max_length, add_eos, progress)


def _iter_shards(model, tokenizer, texts, hooks, shard_size, batch_size, max_length, add_eos, progress):
    """The generator behind `iter_capture` (arguments already checked)."""
    device = next(model.parameters()).device
    total = len(texts) if hasattr(texts, "__len__") else None
    source = iter(texts)
    with tqdm(total=total, disable=not progress, file=sys.stderr, unit="sample", desc="capture") as bar:
        n_shards = 0
        while shard := list(itertools.islice(source, shard_size)):
            n_shards += 1
            ids = _encode(tokenizer, shard, max_length=max_length, add_eos=add_eos)
            yield _capture_shard(model, hooks, ids, tokenizer, batch_size, device, bar)
        if n_shards == 0:
            raise ValueError("texts: empty")


def router_weights(model) -> np.ndarray:
    """Router matrices float32[n_moe_layers, n_experts, hidden] of the MoE layers, in layer order."""
    spec = get_router_spec(model)
    return np.stack([spec.weight(m).detach().float().cpu().numpy() for _, m in moe_routers(model)])


def load_model(path_or_id: str | os.PathLike, revision: str | None = None, device=None, dtype="auto"):
    """(model in eval mode, tokenizer with a pad token) from a local dir or hub id; dtype "auto": bf16 on CUDA, fp32 on CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(resolve_device(device))
    if isinstance(dtype, str):
        dtype = getattr(torch, resolve_dtype(dtype, device.type))
    model = AutoModelForCausalLM.from_pretrained(path_or_id, revision=revision, dtype=dtype, device_map=str(device))
    tokenizer = AutoTokenizer.from_pretrained(path_or_id, revision=revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


class _RoutingMeans:
    """Forward hooks on the routers: per batch, the per-sample mean full-softmax routing over real tokens."""

    def __init__(self, spec, routers: list[tuple[int, torch.nn.Module]]):
        self.spec = spec
        self.routers = routers
        self.layers = np.array([i for i, _ in routers], dtype=np.int64)
        self.n_experts = spec.weight(routers[0][1]).shape[0]
        self.sums: list[torch.Tensor | None] = [None] * len(routers)

    def start(self, mask: torch.Tensor) -> None:
        """Set the bool [batch, tokens] mask of real tokens for the next forward pass."""
        self.shape = mask.shape
        self.pad = ~mask[..., None]
        self.n = mask.sum(dim=1)[:, None, None]

    def __enter__(self) -> _RoutingMeans:
        self.handles = [m.register_forward_hook(self._hook(slot)) for slot, (_, m) in enumerate(self.routers)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()

    def _hook(self, slot: int):
        def hook(module, args, output) -> None:
            probs = torch.softmax(self.spec.logits(output).float(), dim=-1).view(*self.shape, -1)
            # masked_fill, not a product with the mask: padded positions may hold NaN logits
            self.sums[slot] = probs.masked_fill_(self.pad, 0.0).sum(dim=1)

        return hook

    def means(self) -> torch.Tensor:
        """Mean routing float32[batch, n_moe_layers, n_experts] of the last forward pass."""
        if any(s is None for s in self.sums):
            raise RuntimeError("a router did not run during the forward pass")
        means = torch.stack(self.sums, dim=1) / self.n
        self.sums = [None] * len(self.routers)
        return means


def _encode(tokenizer, texts: list[str], *, max_length: int, add_eos: bool) -> list[list[int]]:
    """Token ids per text (special tokens as the tokenizer adds them, then EOS if asked), at most max_length each."""
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    if add_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("add_eos: the tokenizer has no EOS token")
        ids = [(x + [tokenizer.eos_token_id])[:max_length] for x in ids]
    empty = [i for i, x in enumerate(ids) if not x]
    if empty:
        raise ValueError(f"texts: {len(empty)} text(s) have no tokens, e.g. position {empty[0]} of its shard")
    return ids


def _capture_shard(
    model, hooks: _RoutingMeans, ids: list[list[int]], tokenizer, batch_size, device, bar
) -> RouteCapture:
    """Run one shard in length-sorted batches; outputs go back to input order."""
    n = len(ids)
    n_tokens = np.array([len(x) for x in ids], dtype=np.int64)
    nll = np.empty(n, dtype=np.float32)
    routing = np.empty((n, len(hooks.layers), hooks.n_experts), dtype=np.float32)
    order = np.argsort(-n_tokens, kind="stable")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0  # padding is masked: any id works
    was_training = model.training
    model.eval()
    try:
        with hooks, torch.inference_mode():
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                input_ids, mask = _pad([ids[i] for i in rows], pad_id, tokenizer.padding_side, device)
                position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)  # left padding: real tokens start at 0
                hooks.start(mask)
                logits = model(
                    input_ids=input_ids, attention_mask=mask.long(), position_ids=position_ids, use_cache=False
                ).logits
                routing[rows] = hooks.means().cpu().numpy()
                nll[rows] = _sample_nll(logits, input_ids, mask).cpu().numpy()
                bar.update(len(rows))
    finally:
        model.train(was_training)
    return RouteCapture(nll=nll, n_tokens=n_tokens, routing=routing, layers=hooks.layers)


def _pad(rows: list[list[int]], pad_id: int, side: str, device) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids int64[b, t] and bool mask [b, t] with padding on `side` ("left" or "right")."""
    if side not in ("left", "right"):
        raise ValueError(f"tokenizer.padding_side: expected 'left' or 'right', got {side!r}")
    width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for b, r in enumerate(rows):
        cols = slice(width - len(r), width) if side == "left" else slice(0, len(r))
        input_ids[b, cols] = r
        mask[b, cols] = True
    return torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)


def _sample_nll(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token NLL float32[b] (nats) over each row's real predicted tokens; float32 math in row chunks."""
    b, t, v = logits.shape
    valid = mask[:, 1:] & mask[:, :-1]
    # ignored targets (-100) contribute exactly 0, even where padded logits are NaN
    targets = input_ids[:, 1:].masked_fill(~valid, -100)
    rows_per_chunk = max(1, _NLL_CHUNK_ELEMENTS // max(1, (t - 1) * v))
    sums = []
    for r in range(0, b, rows_per_chunk):
        chunk, target = logits[r : r + rows_per_chunk, :-1], targets[r : r + rows_per_chunk]
        ce = F.cross_entropy(chunk.reshape(-1, v).float(), target.reshape(-1), ignore_index=-100, reduction="none")
        sums.append(ce.view(target.shape).sum(dim=1))
    return torch.cat(sums) / valid.sum(dim=1)
