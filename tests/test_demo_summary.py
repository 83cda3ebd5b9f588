"""scripts/demo_summary.py's time table: wall seconds per rule from the benchmark files, the ablations' jobs marked,
and the estimated growth of `make demo` they cause (issue #13)."""

import sys

import yaml
from conftest import REPO

from grokmon.workflow.config import tuning_keys, validate_config

sys.path.insert(0, str(REPO / "scripts"))
import demo_summary

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
# Snakemake's benchmark columns; cpu_time (999) must not reach the table.
BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _write_benchmark(run_dir, path, wall_s):
    file = run_dir / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(BENCHMARK_HEADER + f"{wall_s}\t0:00:00\t1\t1\t1\t1\t0\t0\t50\t999\n")


def test_time_table_marks_the_ablations_and_estimates_the_growth(tmp_path):
    wall_s = {
        "benchmarks/verdicts.tsv": 3.0,
        "seed0/benchmarks/routes/0/math.tsv": 10.0,
        "seed0/benchmarks/routes/100/math.tsv": 12.0,
        "seed0/benchmarks/lora/0/sft-main.tsv": 20.0,
        "seed0/benchmarks/lora/0/sft-r64.tsv": 30.0,
        "seed0/benchmarks/evaluate/lora/0/commonsense.tsv": 5.0,
        "seed0/benchmarks/evaluate/lora_r64/0/commonsense.tsv": 7.0,
        "seed0/benchmarks/theory.tsv": 41.0,
        "seed0/benchmarks/threshold_sweep/epsilon.tsv": 4.0,
        "seed0/benchmarks/threshold_sweep/delta.tsv": 6.0,
    }
    for path, seconds in wall_s.items():
        _write_benchmark(tmp_path, path, seconds)
    assert demo_summary.time_table(tmp_path, {"lora_r64", "sft-r64"}).splitlines() == [
        "| rule | ablation (issue #13) | jobs | wall s (sum) |",
        "|---|---|---|---|",
        "| theory | yes | 1 | 41 |",
        "| lora | yes | 1 | 30 |",
        "| routes |  | 2 | 22 |",
        "| lora |  | 1 | 20 |",
        "| threshold_sweep | yes | 2 | 10 |",
        "| evaluate | yes | 1 | 7 |",
        "| evaluate |  | 1 | 5 |",
        "| verdicts |  | 1 | 3 |",
        "",
        # 41 + 30 + 10 + 7 = 88 s of ablation jobs; on 2 cores about half of that
        "Ablations and extra artifacts (the rows marked yes): 88 s wall in all; `make demo` on 2 cores grows by about "
        "44 s (an estimate: their wall / 2, as jobs run 2 at a time).",
    ]


def test_rank_ablation_ids_are_the_demo_rank_64_source_and_tuning():
    demo = yaml.safe_load((REPO / "config/config.yaml").read_text())
    # as main() reads it: the run's config.resolved.yaml (the validated config, written by rule resolved_config)
    resolved = yaml.safe_load(yaml.safe_dump(validate_config(demo, SCHEMA), sort_keys=False))
    ids = demo_summary.rank_ablation_ids(resolved)
    assert "lora_r64" in ids and len(ids) == 2  # rank 32 is lora.rank: the main adapters, no job of its own
    assert not ids & set(tuning_keys(resolved).values())
