"""benchmarks/bench_gpu_paper.py runs at tiny size on CPU (so it cannot rot) and its GPU-hour arithmetic is right."""

import math
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_gpu_paper as bench


def test_tiny_run_measures_every_stage(capsys):
    m = bench.main(
        ["--size", "tiny", "--device", "cpu", "--seq", "32", "--batch", "2", "--gen-batch", "2", "--gen-tokens", "4"]
    )
    assert m.capture_tokens_per_s > 0 and m.lora_step_s > 0 and m.generate_tokens_per_s > 0
    assert m.capture_over_forward > 0.5  # capture does a forward pass and more
    assert math.isnan(m.lora_peak_gib)  # peak memory is a CUDA reading
    out = capsys.readouterr().out
    assert "| route capture |" in out and "| LoRA step (batch 4 x 32, r 32, q/k/v) |" in out


def test_gpu_hours_of_the_paper_config():
    m = bench.Measured(
        capture_tokens_per_s=1e6,
        capture_over_forward=1.0,
        lora_step_s=1.0,
        lora_peak_gib=0.0,
        generate_tokens_per_s=1000.0,
    )
    hours = bench.paper_gpu_hours(m, seq=2048)
    # 10 checkpoints; 4 domains x (10k train + 10k validation) x 2048 tokens at 1e6 tokens/s
    assert hours["routes"] == pytest.approx(10 * 80_000 * 2048 / 1e6 / 3600)
    # 10 checkpoints x 3 distinct tunings (commonsense and domain_specific share alpaca-cleaned: one adapter)
    # x 3 epochs x 10k pairs / batch 4 = 7,500 steps a run, one second a step: 30 runs, 225k steps, 62.5 h
    assert hours["lora"] == pytest.approx(10 * 3 * 7500 / 3600) == pytest.approx(62.5)
    assert hours["evaluate (generation)"] == pytest.approx(10 * (7500 * 1024 + 164 * 512) / 1000 / 3600)
