"""config/olmoe.yaml end to end on stand-ins: the same keys, rules and lm-eval tasks, with only sources and sizes
changed (a tiny OLMoE in a local HF cache under 3 of the paper's branches, tiny local copies of every Table 2 / SFT /
benchmark dataset in its real format, contamination and eviction on), through Table 1, the verdicts and the report."""

import pytest
import torch
import yaml
from conftest import run_snakemake
from helpers.configs import SCHEMA
from helpers.hub_cache import HUB_REPO, place_in_hub_cache
from helpers.stand_in import RESULTS, STEPS, check_records, check_results, write_stand_in_config
from safetensors.torch import load_file

from grokmon.workflow.checkpoints import branch_name, read_checkpoint_pointer
from grokmon.workflow.config import tuning_keys, validate_config
from grokmon.workflow.evaluation import evaluate
from grokmon.workflow.io import read_jsonl
from grokmon.workflow.tuning import train_lora


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """The whole paper DAG and its report, run for real on the stand-ins."""
    root = tmp_path_factory.mktemp("paper_e2e")
    path = write_stand_in_config(root)
    run_snakemake(root, "--cores", "2", configfile=path)
    run_snakemake(root, "--cores", "1", "--report", str(root / "report.html"), configfile=path)
    return root, validate_config(yaml.safe_load(path.read_text()), SCHEMA)


@pytest.mark.slow  # every rule of the paper DAG on tiny stand-ins: about 2.5 CPU-minutes with the job server
def test_every_benchmark_item_has_a_record_at_every_checkpoint(paper_run):
    root, _ = paper_run
    check_records(root)


@pytest.mark.slow
def test_generalization_matching_table1_verdicts_and_report(paper_run):
    root, _ = paper_run
    check_results(root, root / "report.html")


@pytest.mark.slow
def test_a_shared_adapter_equals_separate_training(paper_run, tmp_path):
    """commonsense and domain_specific tune on the same SFT data: the one shared adapter is the adapter that training
    on domain_specific's own copy of the pairs gives, so its evaluation records are those of separate training."""
    root, config = paper_run
    results, step = root / RESULTS, STEPS[-1]
    tuning = tuning_keys(config)
    assert tuning["commonsense"] == tuning["domain_specific"] != tuning["math"]
    # the run evicted the revision after use: put it back in the cache (same commit, same snapshot path, README)
    place_in_hub_cache(root / "cache", HUB_REPO, branch_name(step), root / f"model{step}")
    checkpoint = read_checkpoint_pointer(results / f"checkpoints/{step}/checkpoint.json")["path"]
    recipe = {k: v for k, v in config["lora"].items()}
    separate = tmp_path / "domain_specific_adapter"
    train_lora(
        checkpoint,
        read_jsonl(results / "data/domain_specific/sft.jsonl"),
        separate,
        seed=0,
        device="cpu",
        dtype="float32",
        target_delimiter=config["domains"]["domain_specific"]["target_delimiter"],
        **recipe,
    )
    shared = results / f"lora/{step}/{tuning['domain_specific']}"
    a, b = load_file(shared / "adapter_model.safetensors"), load_file(separate / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    task = results / "eval/tasks/domain_specific/domain_specific_benchmark.yaml"
    records = evaluate(
        checkpoint,
        [task.stem],
        adapter_path=str(separate),
        include_path=str(task.parent),
        device="cpu",
        dtype="float32",
        batch_size=4,
        limit=None,
        confirm_run_unsafe_code=True,
        seed=0,
    )
    assert records[task.stem] == read_jsonl(results / f"eval/lora/{step}/domain_specific.jsonl")
