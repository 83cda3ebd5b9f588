"""Route-capture benchmark on a tiny OLMoE (CPU, 1 thread).

Prints (1) capture CPU time / plain forward CPU time on the same length-sorted padded batches (target <= 1.10;
CPU time, not wall time, because the machine is shared; repetitions interleaved, best of each) and
(2) peak traced Python memory and RSS growth while streaming 1k and then 10k samples in shards written to disk
(target: flat in the number of samples). Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_capture.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_models import tiny_olmoe, tiny_tokenizer

from grokmon.routing.capture import capture_routes, iter_capture

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "dog",
    "ran",
    "far",
    "away",
    "then",
    "came",
    "back",
    "one",
    "plus",
    "two",
    "is",
    "three",
    "four",
    "seven",
    "what",
    "times",
]
BATCH, MAX_LEN, SHARD, REPEATS = 8, 128, 1000, 5


def make_texts(n: int, seed: int = 0) -> list[str]:
    """n random sentences of 5..40 words."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(5, 41))) for _ in range(n)]


def plain_forward_seconds(model, tok, texts: list[str]) -> tuple[float, float]:
    """CPU seconds of (tokenizing + padding, model(...) alone) over the batches capture_routes builds."""
    t = time.process_time()
    ids = tok(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
    order = np.argsort(-np.array([len(x) for x in ids]), kind="stable")
    batches = []
    for s in range(0, len(ids), BATCH):
        enc = tok.pad({"input_ids": [ids[i] for i in order[s : s + BATCH]]}, return_tensors="pt")
        batches.append((enc.input_ids, enc.attention_mask, (enc.attention_mask.cumsum(1) - 1).clamp(min=0)))
    prep = time.process_time() - t
    t = time.process_time()
    with torch.inference_mode():
        for input_ids, mask, pos in batches:
            model(input_ids=input_ids, attention_mask=mask, position_ids=pos, use_cache=False)
    return prep, time.process_time() - t


def capture_seconds(model, tok, texts: list[str]) -> float:
    """CPU seconds of capture_routes end to end (tokenization, padding, hooks, NLL included)."""
    t = time.process_time()
    capture_routes(model, tok, texts, batch_size=BATCH, max_length=MAX_LEN, progress=False)
    return time.process_time() - t


def stream_to_disk(model, tok, n: int, out: Path) -> tuple[float, float, float, float]:
    """Stream n samples in shards of SHARD to .npz files: traced peak and retained MiB, RSS growth MiB, wall seconds."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t = time.perf_counter()
    texts = (s for k in range(0, n, SHARD) for s in make_texts(min(SHARD, n - k), seed=k))
    for i, shard in enumerate(iter_capture(model, tok, texts, shard_size=SHARD, batch_size=BATCH, progress=False)):
        shard.save(out / f"shard{i:03d}.npz")
    seconds = time.perf_counter() - t
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0  # KiB on Linux; ru_maxrss is a running max
    return peak / 2**20, retained / 2**20, rss / 2**10, seconds


def main() -> None:
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    model = tiny_olmoe(tok, hidden_size=64, intermediate_size=128)
    texts = make_texts(400)
    capture_seconds(model, tok, texts[:16])  # warm-up
    runs = np.array(
        [(*plain_forward_seconds(model, tok, texts), capture_seconds(model, tok, texts)) for _ in range(REPEATS)]
    )
    prep, plain, capt = runs.min(axis=0)
    ratios = runs[:, 2] / runs[:, 1]
    n_layers, n_experts = model.config.num_hidden_layers, model.config.num_experts
    print(
        f"model: tiny OLMoE hidden 64, {n_layers} layers, {n_experts} experts, vocab {len(tok)}; "
        f"batch {BATCH}, 1 thread"
    )
    print(
        f"{len(texts)} samples, CPU time, best of {REPEATS}: plain forward {plain:.3f} s, capture {capt:.3f} s, "
        f"ratio {capt / plain:.3f} (target <= 1.10); per-repeat ratios {np.round(ratios, 3).tolist()}"
    )
    print(f"  tokenizing + padding alone {prep:.3f} s; capture / (tokenize + forward) {capt / (prep + plain):.3f}")
    with tempfile.TemporaryDirectory() as d:
        for n in (1_000, 10_000):
            out = Path(d) / str(n)
            out.mkdir()
            peak, retained, rss, seconds = stream_to_disk(model, tok, n, out)
            outputs = n * n_layers * n_experts * 4 / 2**20
            print(
                f"stream {n:>6} samples (shards of {SHARD}): traced peak {peak:.2f} MiB, retained {retained:.3f} MiB, "
                f"max-RSS growth {rss:.1f} MiB, "
                f"{seconds:.1f} s ({n / seconds:.0f} samples/s); all routing outputs would be {outputs:.2f} MiB"
            )


if __name__ == "__main__":
    main()
