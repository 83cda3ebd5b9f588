"""Benchmark: mean pairwise pathway edit distance on OLMoE-shaped random routing vs a per-pair Levenshtein loop.

Also prints the speed-up of each worker count over the first one, on the same pairs (target: 2 workers >= 1.8x
faster than 1 at 2,000 samples, the same mean; needs 2 idle cores).
Run on demand: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pathways.py [--n 2000] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import time

import Levenshtein
import numpy as np

from grokmon.metrics.pathways import mean_pairwise_distance, pathway_strings, sample_pairs


def main() -> None:
    """Print pairs/second of `mean_pairwise_distance` (all pairs) and of a baseline loop, their ratio, and the
    speed-up of each worker count over the first."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="samples")
    parser.add_argument("--alpha", type=float, default=0.3, help="Dirichlet concentration (0.3: ~525-char strings)")
    parser.add_argument("--baseline-pairs", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    # OLMoE shape: 16 layers, 64 experts
    routing = rng.dirichlet(np.full(64, args.alpha), size=(args.n, 16)).astype(np.float32)
    t0 = time.perf_counter()
    strings = pathway_strings(routing)
    t_strings = time.perf_counter() - t0
    n_pairs = args.n * (args.n - 1) // 2
    print(
        f"n={args.n} pairs={n_pairs:,} mean string length={np.mean([len(s) for s in strings]):.0f} chars "
        f"(strings built in {t_strings:.2f} s)"
    )

    i, j = sample_pairs(args.n, args.baseline_pairs, seed=1)
    t0 = time.perf_counter()
    for a, b in zip(i.tolist(), j.tolist()):
        Levenshtein.distance(strings[a], strings[b])
    base_rate = len(i) / (time.perf_counter() - t0)
    print(
        f"baseline loop of Levenshtein.distance over {len(i):,} pairs: {base_rate:,.0f} pairs/s "
        f"(all pairs extrapolated: {n_pairs / base_rate:.1f} s)"
    )

    runs = [("paper", None, w) for w in args.workers] + [("experts", None, 1), ("paper", 100_000, 1)]
    by_workers = {}
    for mode, max_pairs, workers in runs:
        t0 = time.perf_counter()
        mean = mean_pairwise_distance(routing, mode=mode, max_pairs=max_pairs, workers=workers)
        seconds = time.perf_counter() - t0
        pairs = n_pairs if max_pairs is None else max_pairs
        print(
            f"mean_pairwise_distance mode={mode} max_pairs={max_pairs} workers={workers}: mean={mean:.2f} "
            f"{seconds:.1f} s, {pairs / seconds:,.0f} pairs/s, ratio vs baseline {pairs / seconds / base_rate:.2f}x"
        )
        if (mode, max_pairs) == ("paper", None):
            by_workers.setdefault(workers, (seconds, mean))
    (first, (base_seconds, base_mean)), *others = by_workers.items()
    for workers, (seconds, mean) in others:
        print(
            f"workers={workers} vs workers={first}: {base_seconds / seconds:.2f}x faster (target for 2 vs 1: >= 1.8), "
            f"same mean: {mean == base_mean}"
        )


if __name__ == "__main__":
    main()
