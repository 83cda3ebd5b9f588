"""config/olmoe.yaml end to end on stand-ins: the same keys, rules and lm-eval tasks, with only sources and sizes
changed (a tiny OLMoE in a local HF cache under 3 of the paper's branches, tiny local copies of every Table 2 / SFT /
benchmark dataset in its real format, contamination and eviction on), through Table 1, the verdicts and the report."""

import copy
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_snakemake
from safetensors.torch import load_file
from test_checkpoints import _place_in_hub_cache
from test_paper_config import HUB_REPO, NO_FIGURE_GROUPS, PAPER, SCHEMA, _domains, _tiny_cache

from grokmon.checkpoints import branch_name, read_checkpoint_pointer
from grokmon.config import tuning_keys, validate_config
from grokmon.evaluation import evaluate
from grokmon.io import read_json, read_jsonl, read_tsv
from grokmon.tuning import train_lora

STEPS = [5000, 125000, 245000]
RESULTS = "results/paper/seed0"


def stand_in_config(root) -> dict:
    """config/olmoe.yaml with local stand-ins for its checkpoints and data, and small sizes; nothing else changed."""
    cache, _ = _tiny_cache(root, STEPS)
    tsv = root / "revisions.tsv"
    tsv.write_text("step\trevision\n" + "".join(f"{s}\t{branch_name(s)}\n" for s in STEPS))
    config = copy.deepcopy(PAPER)
    config.update(run="paper", device="cpu", dtype="float32", domains=_domains(root / "data"))
    config["checkpoints"].update(steps=STEPS, revisions=str(tsv), cache_dir=str(cache), max_cached=2)
    config["figures"] = NO_FIGURE_GROUPS  # the paper's groups (t* up to 615k) are not among these steps
    config["routes"].update(batch_size=4, max_length=64)
    config["lora"].update(max_length=64, batch_size=2, epochs=1)
    config["evaluation"].update(batch_size=4)
    config["contamination"].update(batch_size=2, max_length=64)
    config["resources"] = {
        rule: {"mem_mb": 2000, "runtime": 30} for rule in config["resources"]
    }  # a laptop's, not a GPU node's
    short = {"generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 8, "do_sample": False}}
    for domain in ("math", "code"):
        config["domains"][domain]["benchmark"]["overrides"] = short
    return config


def write_stand_in_config(root) -> Path:
    """stand_in_config(root) written to root/paper.yaml, for `snakemake --configfile`."""
    path = root / "paper.yaml"
    path.write_text(yaml.safe_dump(stand_in_config(root)))
    return path


def check_records(root) -> None:
    """Every benchmark item of the four tasks has a 0/1 record at every checkpoint."""
    for domain, n_items in {"math": 2, "code": 2, "commonsense": 3, "domain_specific": 3}.items():
        for step in STEPS:
            records = read_jsonl(root / RESULTS / f"eval/lora/{step}/{domain}.jsonl")
            assert sorted(r["doc_id"] for r in records) == list(range(n_items)), (domain, step)
            assert all(r["correct"] in (0, 1) for r in records)


def check_results(root, report: Path) -> None:
    """t# and groups, matching, Table 1, the verdicts, the preflight, eviction and the report's sections."""
    results = root / RESULTS
    for domain in PAPER["domains"]:
        t_sharp = read_tsv(results / f"generalization/lora/{domain}/t_sharp.tsv")
        assert set(t_sharp["t_sharp"]) <= {-1, *STEPS}
        matching = read_tsv(results / f"matching/lora/{domain}.tsv")
        assert set(matching.columns) >= {"train_step", "test_step", "delay"}
    table1 = read_tsv(results / "correlation/table1.tsv")
    assert set(table1["domain"]) == set(PAPER["domains"])
    assert set(table1["accuracy_source"]) == {"lora"}
    table4 = read_tsv(results / "correlation/table4.tsv")  # Table 4: rank 32 (Table 1's lora rows) vs 64, commonsense
    assert set(table4["domain"]) == {"commonsense"} and {"pearson_r32", "spearman_r64", "from_step_r64"} <= set(
        table4.columns
    )
    claims = read_tsv(root / "results/paper/verdicts/claims.tsv")
    assert set(claims["domain"]) == set(PAPER["domains"]) and set(claims["number"]) == {0, 1, 2, 3, 4, 5}
    assert read_json(root / "results/paper/preflight.json")["problems"] == []
    evicted = [read_json(results / f"checkpoints/{s}/evicted.json")["revision"] for s in STEPS]
    assert evicted == [branch_name(s) for s in STEPS]
    text = report.read_text()
    for section in ("Table 1", "Table 4", "Does the paper"):
        assert section in text


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """The whole paper DAG and its report, run for real on the stand-ins."""
    root = tmp_path_factory.mktemp("paper_e2e")
    path = write_stand_in_config(root)
    run_snakemake(root, "--cores", "2", configfile=path)
    run_snakemake(root, "--cores", "1", "--report", str(root / "report.html"), configfile=path)
    return root, validate_config(yaml.safe_load(path.read_text()), SCHEMA)


@pytest.mark.paper  # every rule of the paper DAG on tiny stand-ins: about 15 CPU-minutes (make test-paper)
def test_every_benchmark_item_has_a_record_at_every_checkpoint(paper_run):
    root, _ = paper_run
    check_records(root)


@pytest.mark.paper
def test_generalization_matching_table1_verdicts_and_report(paper_run):
    root, _ = paper_run
    check_results(root, root / "report.html")


@pytest.mark.paper
def test_a_shared_adapter_equals_separate_training(paper_run, tmp_path):
    """commonsense and domain_specific tune on the same SFT data: the one shared adapter is the adapter that training
    on domain_specific's own copy of the pairs gives, so its evaluation records are those of separate training."""
    root, config = paper_run
    results, step = root / RESULTS, STEPS[-1]
    tuning = tuning_keys(config)
    assert tuning["commonsense"] == tuning["domain_specific"] != tuning["math"]
    # the run evicted the revision after use: put it back in the cache (same commit, same snapshot path, README)
    _place_in_hub_cache(root / "cache", HUB_REPO, branch_name(step), root / f"model{step}")
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
