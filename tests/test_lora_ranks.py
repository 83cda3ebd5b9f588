"""The LoRA-rank ablation (paper Table 4, config ablations.lora_ranks): each rank other than lora.rank is its own
tuning and accuracy source, and the demo's dry run plans exactly its extra jobs."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from helpers.dag import Job, job_counts, planned_jobs

from grokmon.workflow.config import lora_ranks, tuning_keys, validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEMO = yaml.safe_load((REPO / "config/config.yaml").read_text())


def demo_with(**lora_ranks_section) -> dict:
    config = copy.deepcopy(DEMO)
    config["ablations"]["lora_ranks"].update(lora_ranks_section)
    return config


def test_each_other_rank_is_its_own_tuning_and_source():
    config = validate_config(DEMO, SCHEMA)
    main = tuning_keys(config)
    assert config["lora"]["rank"] == 32 and DEMO["ablations"]["lora_ranks"]["ranks"] == [32, 64]
    r32, r64 = lora_ranks(config)
    assert (r32.rank, r32.source, r32.recipe, r32.tunings) == (32, "lora", {}, {"commonsense": main["commonsense"]})
    assert (r64.rank, r64.source, r64.recipe) == (64, "lora_r64", {"rank": 64, "alpha": 128})  # alpha / r stays 2
    assert list(r64.tunings) == ["commonsense"] and r64.tunings["commonsense"] not in main.values()
    fixed = lora_ranks(validate_config(demo_with(scale_alpha=False), SCHEMA))[1]
    assert fixed.recipe == {"rank": 64, "alpha": 64} and fixed.tunings["commonsense"] != r64.tunings["commonsense"]
    every = lora_ranks(validate_config(demo_with(domains=None), SCHEMA))[1]
    assert list(every.tunings) == list(DEMO["domains"]) and every.tunings["commonsense"] == r64.tunings["commonsense"]


def test_the_ablation_is_off_by_default():
    config = validate_config({k: DEMO[k] for k in ("run", "checkpoints", "toy", "domains")}, SCHEMA)
    assert config["ablations"] == {"lora_ranks": {"ranks": [], "domains": None, "scale_alpha": True}}
    assert lora_ranks(config) == []


def _dry_run(tmp_path, config) -> list[Job]:
    path = tmp_path / "ranks.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return planned_jobs(tmp_path, path)


@pytest.mark.slow  # three dry runs of the demo, about 15 s each
def test_demo_dry_run_plans_exactly_the_extra_ranks_jobs(tmp_path):
    steps = DEMO["checkpoints"]["steps"]
    ranks = _dry_run(tmp_path, DEMO)
    off = job_counts(_dry_run(tmp_path, demo_with(ranks=[])))
    main_only = job_counts(_dry_run(tmp_path, demo_with(ranks=[32])))
    extra = {rule: n - off.get(rule, 0) for rule, n in job_counts(ranks).items() if n != off.get(rule, 0)}
    # rank 64 on commonsense: one lora and one evaluate job per checkpoint, then its t#, series and Table 4
    assert extra == {"lora": len(steps), "evaluate": len(steps), "generalization": 1, "series": 1, "table4": 1}
    assert main_only == {**off, "table4": 1}  # the main rank reuses the main adapters
    r64 = lora_ranks(validate_config(DEMO, SCHEMA))[1].tunings["commonsense"]
    tuned = sorted(
        (int(job.wildcards["step"]), job.wildcards["tuning"])
        for job in ranks
        if job.rule == "lora" and job.wildcards["tuning"] == r64
    )
    assert tuned == [(s, r64) for s in steps]
    evaluated = sorted(
        (int(job.wildcards["step"]), job.wildcards["domain"])
        for job in ranks
        if job.rule == "evaluate" and job.wildcards["source"] == "lora_r64"
    )
    assert evaluated == [(s, "commonsense") for s in steps]
    adapters = {
        re.search(r"lora/\d+/(sft-\w+)", " ".join(job.input)).group(1)
        for job in ranks
        if job.rule == "evaluate" and job.wildcards["source"] == "lora_r64"
    }
    assert adapters == {r64}
    table4 = next(" ".join(job.input) for job in ranks if job.rule == "table4")
    assert (
        "correlation/lora/commonsense.series.tsv" in table4 and "correlation/lora_r64/commonsense.series.tsv" in table4
    )
