"""One forward pass per batch -> per-sample mean NLL (whole text, and optionally its answer span), token count and
mean full-softmax routing weights."""

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

from grokmon.files import atomic
from grokmon.routing.architectures import REGISTRY, DenseSpec, get_router_spec, moe_routers
from grokmon.routing.devices import resolve_device, resolve_dtype
from grokmon.routing.virtual_experts import set_virtual_experts

# Most logits elements turned into float32 log-probabilities at once by the NLL (2**24 floats = 64 MiB).
_NLL_CHUNK_ELEMENTS = 2**24


@dataclass
class RouteCapture:
    """Per-sample outputs of `capture_routes`, in input order: nll float32[n] (nats/token), n_tokens int64[n],
    routing float32[n, n_moe_layers, n_experts] (rows sum to 1), layers int64[n_moe_layers] (model layer indices), and
    answer_nll float32[n] (nats/token over the answer tokens, see `iter_capture`) or None when not captured."""

    nll: np.ndarray
    n_tokens: np.ndarray
    routing: np.ndarray
    layers: np.ndarray
    answer_nll: np.ndarray | None = None

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
        if self.answer_nll is not None:
            self.answer_nll = np.asarray(self.answer_nll, dtype=np.float32)
            if self.answer_nll.shape != (n,):
                raise ValueError(f"answer_nll: expected [{n}], got {self.answer_nll.shape}")

    def __len__(self) -> int:
        return len(self.nll)

    def save(self, path: str | os.PathLike) -> None:
        """Write the arrays to an .npz (keys nll, n_tokens, routing, layers, and answer_nll if captured) atomically."""
        extra = {} if self.answer_nll is None else {"answer_nll": self.answer_nll}
        atomic.save_npz(path, nll=self.nll, n_tokens=self.n_tokens, routing=self.routing, layers=self.layers, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> RouteCapture:
        """Read an .npz written by `save`."""
        z = atomic.load_npz(path)
        return cls(
            nll=z["nll"],
            n_tokens=z["n_tokens"],
            routing=z["routing"],
            layers=z["layers"],
            answer_nll=z.get("answer_nll"),
        )

    @classmethod
    def concat(cls, parts: Sequence[RouteCapture]) -> RouteCapture:
        """Join captures of the same model along the sample axis, in the given order."""
        if not parts:
            raise ValueError("parts: need at least one RouteCapture")
        if any(not np.array_equal(p.layers, parts[0].layers) for p in parts):
            raise ValueError("parts: captures come from different MoE layers")
        with_answer = {p.answer_nll is not None for p in parts}
        if len(with_answer) > 1:
            raise ValueError("parts: some captures have answer_nll and some do not")
        return cls(
            nll=np.concatenate([p.nll for p in parts]),
            n_tokens=np.concatenate([p.n_tokens for p in parts]),
            routing=np.concatenate([p.routing for p in parts]),
            layers=parts[0].layers,
            answer_nll=np.concatenate([p.answer_nll for p in parts]) if with_answer == {True} else None,
        )


def capture_routes(model, tokenizer, texts: Sequence[str], **options) -> RouteCapture:
    """Capture all `texts` at once, as one shard of `iter_capture` (`options`: its keywords but shard_size): nll
    float32[n], n_tokens int64[n], routing float32[n, L, E], and answer_nll float32[n] when `answer_chars` is given."""
    texts = list(texts)
    return RouteCapture.concat(list(iter_capture(model, tokenizer, texts, shard_size=len(texts), **options)))


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
    answer_chars: Sequence[int] | None = None,
    include_special_tokens: bool = False,
) -> Iterator[RouteCapture]:
    """Yield one RouteCapture per run of `shard_size` consecutive texts (input order); memory is flat in len(texts).

    Each text is tokenized (special tokens as the tokenizer adds them, plus EOS if `add_eos`), truncated to
    `max_length` tokens, and run through `model` (eval mode, inference mode) in length-sorted batches padded on
    `tokenizer.padding_side`. nll is the mean next-token NLL over positions 1..len-1 (NaN for a 1-token text);
    routing is, per MoE layer, the mean over the text's own tokens of the softmax over all experts of the router
    logits: special tokens that the tokenizer adds (BOS, EOS) and the EOS of `add_eos` are left out, as is padding,
    unless `include_special_tokens` (config `routes.include_special_tokens`); a text with no token of its own raises.
    `device` (default: the model's) moves the model there. Bad arguments raise at the call, not at the first shard.

    `answer_chars` (one character offset into each text, where its answer starts; needs a fast tokenizer for the
    offset mapping) adds answer_nll: the mean next-token NLL, from the same forward pass, over the targets from the
    text's first answer token to its end (an EOS from `add_eos` included). The first answer token is the first token
    whose character span ends after the answer offset, so a token straddling the boundary (e.g. " 36" of "Answer: 36")
    counts as answer. answer_char 0 gives answer_nll == nll (the first token is never a target). answer_nll is NaN
    where the text has no answer token within `max_length` tokens (answer truncated away or empty).
    """
    if hasattr(texts, "__len__") and len(texts) == 0:
        raise ValueError("texts: empty")
    for name, value in (("shard_size", shard_size), ("batch_size", batch_size), ("max_length", max_length)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if answer_chars is not None:
        answer_chars = list(answer_chars)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("answer_chars: needs a fast tokenizer (offset mapping); got a slow one")
        if hasattr(texts, "__len__") and len(answer_chars) != len(texts):
            raise ValueError(f"answer_chars: expected one per text ({len(texts)}), got {len(answer_chars)}")
        bad = [c for c in answer_chars if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0]
        if bad:
            raise ValueError(f"answer_chars: expected ints >= 0, got {bad[0]!r}")
    hooks = _RoutingMeans(get_router_spec(model), moe_routers(model))
    if device is not None:
        model.to(device)
    encode = {"max_length": max_length, "add_eos": add_eos, "include_special_tokens": include_special_tokens}
    return _iter_shards(model, tokenizer, texts, answer_chars, hooks, shard_size, batch_size, encode, progress)


def _iter_shards(model, tokenizer, texts, answer_chars, hooks, shard_size, batch_size, encode, progress):
    """The generator behind `iter_capture` (arguments already checked)."""
    device = next(model.parameters()).device
    total = len(texts) if hasattr(texts, "__len__") else None
    source = zip(texts, answer_chars, strict=True) if answer_chars is not None else ((t, None) for t in texts)
    with tqdm(total=total, disable=not progress, file=sys.stderr, unit="sample", desc="capture") as bar:
        n_shards = 0
        while shard := list(itertools.islice(source, shard_size)):
            n_shards += 1
            chars = None if answer_chars is None else [c for _, c in shard]
            ids, starts, special = _encode(tokenizer, [t for t, _ in shard], answer_chars=chars, **encode)
            yield _capture_shard(model, hooks, ids, starts, special, tokenizer, batch_size, device, bar)
        if n_shards == 0:
            raise ValueError("texts: empty")


def router_weights(model) -> np.ndarray:
    """Router matrices float32[n_moe_layers, n_experts, hidden] of the MoE layers, in layer order."""
    spec = get_router_spec(model)
    return np.stack([spec.weight(m).detach().float().cpu().numpy() for _, m in moe_routers(model)])


def load_model(
    path_or_id: str | os.PathLike, revision: str | None = None, device=None, dtype="auto", virtual_experts=None
):
    """(model in eval mode, tokenizer with a pad token) from a local dir or hub id; dtype "auto": bf16 on CUDA,
    fp32 on CPU. `virtual_experts`: a dict of `VirtualExperts` settings applied to a dense registry model
    (ignored for MoE)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(resolve_device(device))
    if isinstance(dtype, str):
        dtype = getattr(torch, resolve_dtype(dtype, device.type))
    model = AutoModelForCausalLM.from_pretrained(path_or_id, revision=revision, dtype=dtype, device_map=str(device))
    if virtual_experts is not None and isinstance(REGISTRY.get(model.config.model_type), DenseSpec):
        set_virtual_experts(model.config, **virtual_experts)
    tokenizer = AutoTokenizer.from_pretrained(path_or_id, revision=revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


class _RoutingMeans:
    """Forward hooks on the routers: per batch, the per-sample mean full-softmax routing over real tokens (a dense
    model's virtual routing weights, see `grokmon.routing.virtual_experts`)."""

    def __init__(self, spec, routers: list[tuple[int, torch.nn.Module]]):
        self.spec = spec
        self.routers = routers
        self.layers = np.array([i for i, _ in routers], dtype=np.int64)
        self.n_experts = spec.weight(routers[0][1]).shape[0]
        self.sums: list[torch.Tensor | None] = [None] * len(routers)

    def start(self, mask: torch.Tensor) -> None:
        """Set the bool [batch, tokens] mask of the tokens to average (each row's own tokens)
        in the next forward pass."""
        self.shape = mask.shape
        self.pad = ~mask[..., None]
        self.n = mask.sum(dim=1)[:, None, None]

    def __enter__(self) -> _RoutingMeans:
        self.handles = [
            self.spec.hooked(m).register_forward_hook(self._hook(slot)) for slot, (_, m) in enumerate(self.routers)
        ]
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()

    def _hook(self, slot: int):
        def hook(module, args, output) -> None:
            probs = self.spec.token_weights(args, output).view(*self.shape, -1)
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


def _encode(
    tokenizer,
    texts: list[str],
    *,
    max_length: int,
    add_eos: bool,
    answer_chars: list[int] | None,
    include_special_tokens: bool,
):
    """(ids, starts, special): token ids per text (special tokens as the tokenizer adds them, then EOS if asked), at
    most max_length each; with `answer_chars` the index of each text's first answer token (max_length if none), else
    None; unless `include_special_tokens`, a 0/1 list per text marking its special tokens (left out of the routing
    mean), else None."""
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=answer_chars is not None,
        return_special_tokens_mask=not include_special_tokens,
    )
    ids, starts, special = enc["input_ids"], None, None
    if answer_chars is not None:
        # special tokens have the empty span (0, 0), so they never start the answer
        starts = [
            next((i for i, (_, end) in enumerate(offsets) if end > char), max_length)
            for offsets, char in zip(enc["offset_mapping"], answer_chars)
        ]
    if not include_special_tokens:
        special = enc["special_tokens_mask"]
    if add_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("add_eos: the tokenizer has no EOS token")
        ids = [(x + [tokenizer.eos_token_id])[:max_length] for x in ids]
        special = None if special is None else [(m + [1])[:max_length] for m in special]
    empty = [i for i, x in enumerate(ids) if not x]
    if empty:
        raise ValueError(f"texts: {len(empty)} text(s) have no tokens, e.g. position {empty[0]} of its shard")
    if special is not None:
        bare = [i for i, m in enumerate(special) if all(m)]
        if bare:
            raise ValueError(
                f"texts: {len(bare)} text(s) have only special tokens (nothing of their own to average routing over), "
                f"e.g. position {bare[0]} of its shard; routes.include_special_tokens: true averages over them too"
            )
    return ids, starts, special


def _capture_shard(
    model,
    hooks: _RoutingMeans,
    ids: list[list[int]],
    starts: list[int] | None,
    special: list[list[int]] | None,
    tokenizer,
    batch_size,
    device,
    bar,
) -> RouteCapture:
    """Run one shard in length-sorted batches; outputs go back to input order. `starts`: first answer token per text;
    `special`: per text, 1 at the tokens left out of the routing mean (None: average over every real token)."""
    n = len(ids)
    n_tokens = np.array([len(x) for x in ids], dtype=np.int64)
    nll = np.empty(n, dtype=np.float32)
    answer_nll = None if starts is None else np.empty(n, dtype=np.float32)
    starts = None if starts is None else np.asarray(starts, dtype=np.int64)
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
                if special is None:
                    hooks.start(mask)
                else:  # padded as special: only the text's own tokens count
                    hooks.start(_pad([special[i] for i in rows], 1, tokenizer.padding_side, device)[0] == 0)
                logits = model(
                    input_ids=input_ids, attention_mask=mask.long(), position_ids=position_ids, use_cache=False
                ).logits
                routing[rows] = hooks.means().cpu().numpy()
                # position_ids is each real token's index in its own text: the answer is from index starts[row] on
                spans = (
                    [] if starts is None else [position_ids >= torch.as_tensor(starts[rows], device=device)[:, None]]
                )
                means = [m.cpu().numpy() for m in _sample_nll(logits, input_ids, mask, spans)]
                nll[rows] = means[0]
                if answer_nll is not None:
                    answer_nll[rows] = means[1]
                bar.update(len(rows))
    finally:
        model.train(was_training)
    return RouteCapture(nll=nll, n_tokens=n_tokens, routing=routing, layers=hooks.layers, answer_nll=answer_nll)


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


def _sample_nll(
    logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor, spans: Sequence[torch.Tensor] = ()
) -> list[torch.Tensor]:
    """Mean next-token NLL float32[b] (nats) over each row's real predicted tokens, then one more per bool [b, t] mask
    in `spans` over the real predicted tokens (targets) it marks (NaN where it marks none);
    float32 math in row chunks."""
    b, t, v = logits.shape
    valid = mask[:, 1:] & mask[:, :-1]
    # ignored targets (-100) contribute exactly 0, even where padded logits are NaN
    targets = input_ids[:, 1:].masked_fill(~valid, -100)
    rows_per_chunk = max(1, _NLL_CHUNK_ELEMENTS // max(1, (t - 1) * v))
    token_nll = []
    for r in range(0, b, rows_per_chunk):
        chunk, target = logits[r : r + rows_per_chunk, :-1], targets[r : r + rows_per_chunk]
        ce = F.cross_entropy(chunk.reshape(-1, v).float(), target.reshape(-1), ignore_index=-100, reduction="none")
        token_nll.append(ce.view(target.shape))
    token_nll = torch.cat(token_nll)  # [b, t - 1], 0 at ignored targets
    picks = [valid] + [valid & span[:, 1:] for span in spans]
    return [token_nll.masked_fill(~pick, 0.0).sum(dim=1) / pick.sum(dim=1) for pick in picks]
