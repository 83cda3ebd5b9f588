"""config/olmoe.yaml end to end on stand-ins: the same keys, rules and lm-eval tasks, with only sources and sizes
changed (a tiny OLMoE in a local HF cache under 3 of the paper's branches, tiny local copies of every Table 2 / SFT /
benchmark dataset in its real format, contamination and eviction on), through Table 1, the verdicts and the report."""

import copy

import pytest
import yaml
from conftest import run_snakemake
from test_checkpoints import _place_in_hub_cache
from test_paper_config import HUB_REPO, PAPER, _domains
from tiny_models import tiny_olmoe, tiny_tokenizer

from grokmon.checkpoints import branch_name
from grokmon.io import read_json, read_jsonl, read_tsv

STEPS = [5000, 125000, 245000]
RESULTS = "results/paper/seed0"


def stand_in_config(root) -> dict:
    """config/olmoe.yaml with local stand-ins for its checkpoints and data, and small sizes; nothing else changed."""
    cache, tok = root / "cache", tiny_tokenizer()
    for seed, step in enumerate(STEPS):
        model_dir = root / f"model{step}"
        tiny_olmoe(tok, seed=seed).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        _place_in_hub_cache(cache, HUB_REPO, branch_name(step), model_dir)
    tsv = root / "revisions.tsv"
    tsv.write_text("step\trevision\n" + "".join(f"{s}\t{branch_name(s)}\n" for s in STEPS))
    config = copy.deepcopy(PAPER)
    config.update(run="paper", device="cpu", dtype="float32", domains=_domains(root / "data"))
    config["checkpoints"].update(steps=STEPS, revisions=str(tsv), cache_dir=str(cache), max_cached=2)
    config["routes"].update(batch_size=4, max_length=64)
    config["lora"].update(max_length=64, batch_size=2, epochs=1)
    config["evaluation"].update(batch_size=4)
    config["contamination"].update(batch_size=2, max_length=64)
    short = {"generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 8, "do_sample": False}}
    for domain in ("math", "code"):
        config["domains"][domain]["benchmark"]["overrides"] = short
    return config


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """The whole paper DAG and its report, run for real on the stand-ins."""
    root = tmp_path_factory.mktemp("paper_e2e")
    path = root / "paper.yaml"
    path.write_text(yaml.safe_dump(stand_in_config(root)))
    run_snakemake(root, "--cores", "2", configfile=path)
    run_snakemake(root, "--cores", "1", "--report", str(root / "report.html"), configfile=path)
    return root


@pytest.mark.slow  # every rule of the paper DAG on tiny stand-ins
def test_every_benchmark_item_has_a_record_at_every_checkpoint(paper_run):
    for domain, n_items in {"math": 2, "code": 2, "commonsense": 3, "domain_specific": 3}.items():
        for step in STEPS:
            records = read_jsonl(paper_run / RESULTS / f"eval/{step}/{domain}.jsonl")
            assert sorted(r["doc_id"] for r in records) == list(range(n_items)), (domain, step)
            assert all(r["correct"] in (0, 1) for r in records)


@pytest.mark.slow
def test_generalization_matching_table1_verdicts_and_report(paper_run):
    results = paper_run / RESULTS
    for domain in PAPER["domains"]:
        t_sharp = read_tsv(results / f"generalization/{domain}/t_sharp.tsv")
        assert set(t_sharp["t_sharp"]) <= {-1, *STEPS}
        matching = read_tsv(results / f"matching/{domain}.tsv")
        assert set(matching.columns) >= {"train_step", "test_step", "delay"}
    table1 = read_tsv(results / "correlation/table1.tsv")
    assert set(table1["domain"]) == set(PAPER["domains"])
    claims = read_tsv(paper_run / "results/paper/verdicts/claims.tsv")
    assert set(claims["domain"]) == set(PAPER["domains"])
    assert read_json(paper_run / "results/paper/preflight.json")["problems"] == []
    evicted = [read_json(results / f"checkpoints/{s}/evicted.json")["revision"] for s in STEPS]
    assert evicted == [branch_name(s) for s in STEPS]
    report = (paper_run / "report.html").read_text()
    for section in ("Table 1", "Does the paper"):
        assert section in report
