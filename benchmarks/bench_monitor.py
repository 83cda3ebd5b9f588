"""Benchmark: PathwayMonitor overhead as a fraction of training time, tiny OLMoE (toy recipe),
with vs without the monitor.

Run on demand: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_monitor.py [--steps 300] [--every 100] [--probe 64]
Each arm (without / with the monitor) runs `--repeats` times, alternating; the fastest run of each arm is compared,
in wall time and in this process's CPU time (one thread: CPU time is the work done, far less disturbed than wall time
when other jobs share the cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from grokmon.monitor.pathway_monitor import PathwayMonitor
from grokmon.workflow.toy import TEST_SIZES, build_world, pretrain, tiny_olmoe_config, train_tokenizer


def main() -> None:
    """Print seconds of training without and with the monitor, the wall-time overhead and the monitor's own share."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=100, help="monitor interval (the PathwayMonitor default)")
    parser.add_argument("--probe", type=int, default=64, help="probe texts (the documented default probe size)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(1)
    corpus = [text for domain in build_world(0, TEST_SIZES).values() for text in domain.corpus]
    tokenizer = train_tokenizer(corpus)
    config = tiny_olmoe_config(tokenizer)  # the toy recipe: hidden 64, 4 layers, 8 experts top-2
    probe = corpus[:: len(corpus) // args.probe][: args.probe]
    print(
        f"corpus {len(corpus)} texts, probe {len(probe)} texts, {args.steps} steps of batch {args.batch_size}, "
        f"every {args.every}"
    )

    times, cpu = {"without": [], "with": []}, {"without": [], "with": []}
    measured = []
    for _ in range(args.repeats):
        for arm in times:
            monitor = PathwayMonitor(probe, tokenizer, every=args.every) if arm == "with" else None
            with tempfile.TemporaryDirectory() as out:
                start, start_cpu = time.perf_counter(), time.process_time()
                pretrain(
                    corpus,
                    tokenizer,
                    config,
                    out_dir=out,
                    steps=args.steps,
                    save_steps=[],
                    batch_size=args.batch_size,
                    callback=monitor,
                    progress=False,
                )
                times[arm].append(time.perf_counter() - start)
                cpu[arm].append(time.process_time() - start_cpu)
            if monitor is not None:
                measured.append(sum(row["seconds"] for row in monitor.history))
                last = monitor.history[-1]
            print(f"  {arm:>7} monitor: {times[arm][-1]:.2f} s wall, {cpu[arm][-1]:.2f} s CPU", flush=True)

    base, monitored = min(times["without"]), min(times["with"])
    calls = args.steps // args.every
    print(f"training without monitor: {base:.2f} s ({1000 * base / args.steps:.1f} ms/step); with: {monitored:.2f} s")
    print(f"wall-time overhead: {100 * (monitored - base) / base:+.2f} % (noisy on a shared machine)")
    base_cpu, monitored_cpu = min(cpu["without"]), min(cpu["with"])
    print(
        f"CPU-time overhead: {100 * (monitored_cpu - base_cpu) / base_cpu:+.2f} % "
        f"({base_cpu:.2f} s vs {monitored_cpu:.2f} s)"
    )
    print(
        f"monitor's own time: {min(measured):.3f} s for {calls} measurements "
        f"({1000 * min(measured) / calls:.0f} ms each) = {100 * min(measured) / base:.2f} % of training"
    )
    print("last row:", {k: round(v, 4) for k, v in last.items()})


if __name__ == "__main__":
    main()
