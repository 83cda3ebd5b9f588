"""config/olmoe.yaml on local stand-ins (tiny OLMoEs in a local HF cache under 3 of the paper's branches, the stand-in
domains of helpers.paper_config, small sizes): the config writer and the checks of its results, shared by the end-to-end
run (test_paper_end_to_end.py) and its SLURM twin (test_slurm_paper.py)."""

import copy
from pathlib import Path

import yaml

from grokmon.workflow.checkpoints import branch_name
from grokmon.workflow.io import read_json, read_jsonl, read_tsv
from helpers.hub_cache import tiny_cache
from helpers.paper_config import NO_FIGURE_GROUPS, PAPER, domains

STEPS = [5000, 125000, 245000]  # the stand-in checkpoints: 3 of the paper's branches
RESULTS = "results/paper/seed0"  # the stand-in run's results, relative to its working directory


def stand_in_config(root) -> dict:
    """config/olmoe.yaml with local stand-ins for its checkpoints and data, and small sizes; nothing else changed."""
    cache, _ = tiny_cache(root, STEPS)
    tsv = root / "revisions.tsv"
    tsv.write_text("step\trevision\n" + "".join(f"{s}\t{branch_name(s)}\n" for s in STEPS))
    config = copy.deepcopy(PAPER)
    config.update(run="paper", device="cpu", dtype="float32", domains=domains(root / "data"))
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
