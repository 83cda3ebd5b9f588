"""The nanoMoE config (config/nanomoe.yaml; paper App. E.6, Table 5, Figs. 14-15): its values, its DAG offline, and a
real zero-shot run through Table 1 and the verdicts on tiny stand-ins: a tiny OLMoE saved to 3 local checkpoint
directories, and local copies of ARC-Easy, ARC-Challenge, HellaSwag and OpenBookQA in their hub formats."""

import copy

import datasets as hf_datasets
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, run_snakemake
from helpers.configs import SCHEMA, assert_config_error
from helpers.dag import job_counts, planned_jobs
from helpers.formats import jsonl, parquet
from tiny_models import tiny_olmoe, tiny_tokenizer

from grokmon.workflow.config import validate_config
from grokmon.workflow.figures import tracked_groups
from grokmon.workflow.io import read_jsonl, read_tsv
from grokmon.workflow.lm_eval_tasks import NANOMOE_TASKS
from grokmon.workflow.tables import TABLE1_METRICS

NANOMOE = REPO / "config" / "nanomoe.yaml"
CONFIG = yaml.safe_load(NANOMOE.read_text())
PAPER_STEPS = list(range(5000, 50001, 5000))


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_datasets_cache"))


# ---------------- the config itself ----------------


def test_nanomoe_config_holds_the_papers_settings():
    c = validate_config(CONFIG, SCHEMA)
    assert c["checkpoints"]["source"] == "local" and c["checkpoints"]["steps"] == PAPER_STEPS
    assert "{step}" in c["checkpoints"]["path_pattern"]
    assert c["evaluation"]["tuning"] == ["none"]  # zero-shot (Table 5)
    assert {d: v["benchmark"]["task"] for d, v in c["domains"].items()} == NANOMOE_TASKS
    assert all(v["benchmark"]["data_files"] is None for v in c["domains"].values())  # lm-eval's own datasets
    data = [v["data"] for v in c["domains"].values()]
    assert all(d == data[0] for d in data) and "sft" not in data[0]  # one analysed sample set, nothing to tune on
    assert data[0]["train"]["format"] == "json" and data[0]["train"]["data_files"].endswith(".jsonl")
    assert c["memorization"]["delta"] == 0.05 and c["pathways"]["cut"] == 0.7
    assert c["correlation"]["checkpoints"] == "last" and c["correlation"]["last_k"] == 5  # Table 5's n
    assert c["figures"] == {
        "distance_groups": [30000, 45000],
        "consistency_groups": [30000, 35000],
        "layers_group": None,
    }


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["evaluation"].update(tuning=["lora"]), ["'domains.arc_easy.data.sft'", "['lora']"]),
        (lambda c: c["figures"].update(distance_groups=[30000, 31000]), ["'figures.distance_groups'", "[31000]"]),
        (
            lambda c: c["domains"]["hellaswag"]["benchmark"].update(task="hellaswag_de"),
            ["'domains.hellaswag.benchmark.task'"],
        ),
    ],
)
def test_nanomoe_semantic_checks_name_the_key(edit, expected):
    assert_config_error(CONFIG, edit, expected)


def test_figures_draw_the_chosen_groups_that_exist():
    groups = pd.DataFrame(
        {
            "group": ["Pretrain@30000", "Pretrain@35000", "Pretrain@5000", "all"],
            "t_star": [30000, 35000, 5000, -1],
            "n": [4, 9, 50, 63],
            "step": [50000] * 4,
        }
    )
    steps = pd.Series(PAPER_STEPS).to_numpy()
    assert tracked_groups(groups, steps, chosen=[30000, 45000]) == [30000]  # no Pretrain@45000 group
    assert tracked_groups(groups, steps) == [5000, 35000]  # by size


# ---------------- the DAG, offline ----------------


def test_dry_run_evaluates_every_checkpoint_and_task_without_tuning(tmp_path):
    for step in PAPER_STEPS:
        (tmp_path / CONFIG["checkpoints"]["path_pattern"].format(step=step)).mkdir(parents=True)
    counts = job_counts(planned_jobs(tmp_path, NANOMOE))
    n_steps, n_tasks = len(PAPER_STEPS), len(NANOMOE_TASKS)
    expected = (
        {r: n_steps for r in ("local_checkpoint", "router_matrices")}
        | {r: n_steps * n_tasks for r in ("routes", "evaluate", "pathways")}  # evaluate: checkpoint x task
        | {r: n_tasks for r in ("paper_data", "benchmark_task", "memorization", "generalization", "matching", "series")}
    )
    assert {r: counts.get(r) for r in expected} == expected
    assert counts["table1"] == counts["verdicts"] == 1
    assert {"lora", "full_tune", "contamination", "fetch_checkpoint", "preflight", "toy_world"}.isdisjoint(counts)


# ---------------- a real zero-shot run on tiny stand-ins ----------------

STEPS = [30000, 35000, 45000]
TRAIN = [
    {"id": f"owt-{i}", "text": f"Story {i}: the cat sat on the mat, then a dog ran far away {i % 3} times."}
    for i in range(12)
]
VALIDATION = [{"id": f"owt-v{i}", "text": f"one plus {i} is {i + 1}; the dog came back."} for i in range(4)]


def _arc(prefix: str, n: int) -> list[dict]:
    """ai2_arc rows: ARC has 3-5 choices, labelled A-D (or 1-4)."""
    return [
        {
            "id": f"{prefix}_{i}",
            "question": f"Which thing {i} is hot?",
            "choices": {"text": ["fire", "ice", "snow", "rain"][: 3 + i % 2], "label": list("ABCD")[: 3 + i % 2]},
            "answerKey": "ABC"[i % 3],
        }
        for i in range(n)
    ]


HELLASWAG = [
    {
        "ind": 10 + i,
        "activity_label": "Cooking",
        "ctx_a": f"A man cuts onion {i}.",
        "ctx_b": "he",
        "ctx": f"A man cuts onion {i}. he",
        "endings": ["cries.", "sings [title] loudly.", "sleeps.", "runs."],
        "source_id": f"activitynet~v_{i}",
        "split": "val",
        "split_type": "indomain",
        "label": str(i % 4),
    }
    for i in range(4)
]
OPENBOOKQA = [
    {
        "id": f"{7 + i}-{i}",
        "question_stem": f"The sun {i} is",
        "answerKey": "ABCD"[i],
        "choices": {"text": ["hot", "cold", "wet", "blue"], "label": list("ABCD")},
    }
    for i in range(4)
]


def _benchmarks(d) -> dict:
    """Local copies in the hub formats: the split lm-eval evaluates, and `train` (its few-shot split)."""
    return {
        "arc_easy": {
            "format": "parquet",
            "data_files": {
                "train": parquet(d / "ae_train.parquet", _arc("ae", 1)),
                "test": parquet(d / "ae_test.parquet", _arc("ae", 4)),
            },
        },
        "arc_challenge": {
            "format": "parquet",
            "data_files": {
                "train": parquet(d / "ac_train.parquet", _arc("ac", 1)),
                "test": parquet(d / "ac_test.parquet", _arc("ac", 5)),
            },
        },
        "hellaswag": {
            "format": "json",
            "data_files": {
                "train": jsonl(d / "hs_train.jsonl", HELLASWAG[:1]),
                "validation": jsonl(d / "hs_val.jsonl", HELLASWAG),
            },
        },
        "openbookqa": {
            "format": "parquet",
            "data_files": {
                "train": parquet(d / "ob_train.parquet", OPENBOOKQA[:1]),
                "test": parquet(d / "ob_test.parquet", OPENBOOKQA),
            },
        },
    }


def _checkpoints(d) -> None:
    """One tiny OLMoE "pretraining run": the weights converge to the last checkpoint's (noise 0.02, 0.002, 0), so that
    some samples' losses settle (within delta) from 30k on and the others from 35k on."""
    tok, final = tiny_tokenizer(), tiny_olmoe(tiny_tokenizer(), seed=0)
    generator = torch.Generator().manual_seed(1)
    for step, noise in zip(STEPS, (0.02, 0.002, 0.0)):
        model = tiny_olmoe(tok, seed=0)
        with torch.no_grad():
            for p, q in zip(model.parameters(), final.parameters()):
                p.copy_(q + noise * torch.randn(q.shape, generator=generator))
        model.save_pretrained(d / f"step{step}")
        tok.save_pretrained(d / f"step{step}")


def on_the_real_run(test):
    """Mark `test` slow (a real zero-shot run through Table 1 and the verdicts: 73 jobs, ~9 CPU minutes) and paper
    (opt-in: make test-paper)."""
    return pytest.mark.slow(pytest.mark.paper(test))


@pytest.fixture(scope="module")
def nanomoe_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("nanomoe")
    _checkpoints(root / "ckpt")
    config = copy.deepcopy(CONFIG)
    data = config["domains"]["arc_easy"]["data"]  # shared by the four domains (a YAML anchor)
    data["train"]["data_files"] = jsonl(root / "data" / "owt_commonsense.jsonl", TRAIN)
    data["validation"]["data_files"] = jsonl(root / "data" / "owt_validation.jsonl", VALIDATION)
    for task, files in _benchmarks(root / "data").items():
        config["domains"][task]["benchmark"].update(files)
    config |= {
        "device": "cpu",
        "dtype": "float32",
        "checkpoints": {"source": "local", "steps": STEPS, "path_pattern": str(root / "ckpt" / "step{step}")},
        "routes": {"batch_size": 16, "max_length": 64},
        # every loss is below epsilon: t* is decided by delta alone
        "memorization": {**config["memorization"], "epsilon": 10.0},
        "evaluation": {**config["evaluation"], "batch_size": 16},
        "matching": {"min_group_size": 1},
        "pathways": {**config["pathways"], "max_pairs": 200, "min_group_size": 2},
    }
    path = root / "nanomoe.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [
        "results/nanomoe/seed0/correlation/table1.tsv",
        "results/nanomoe/verdicts/claims.tsv",
        "results/nanomoe/seed0/figures/fig4_distance.png",
    ]
    run_snakemake(root, "--cores", "2", *targets, configfile=path)
    return root / "results" / "nanomoe"


@on_the_real_run
def test_benchmark_items_in_lm_evals_doc_order(nanomoe_run):
    data = nanomoe_run / "seed0" / "data"
    for prefix, task, n in (("ae", "arc_easy", 4), ("ac", "arc_challenge", 5)):
        assert read_jsonl(data / task / "benchmark.jsonl") == [
            {
                "id": r["id"],
                "question": r["question"],
                "choices": r["choices"]["text"],
                "label": r["choices"]["label"].index(r["answerKey"]),
            }
            for r in _arc(prefix, n)
        ]
    hellaswag = read_jsonl(data / "hellaswag" / "benchmark.jsonl")  # lm-eval's prompt and cleaned endings
    assert hellaswag == [
        {
            "id": 10 + i,
            "question": f"Cooking: A man cuts onion {i}. He",
            "choices": ["cries.", "sings. loudly.", "sleeps.", "runs."],
            "label": i % 4,
        }
        for i in range(4)
    ]
    assert read_jsonl(data / "openbookqa" / "benchmark.jsonl") == [
        {"id": r["id"], "question": r["question_stem"], "choices": r["choices"]["text"], "label": i}
        for i, r in enumerate(OPENBOOKQA)
    ]
    for task in NANOMOE_TASKS:  # the four share the analysed samples; nothing to tune on
        assert sorted(read_jsonl(data / task / "train.jsonl"), key=lambda r: r["id"]) == sorted(
            TRAIN, key=lambda r: r["id"]
        )
        assert read_jsonl(data / task / "sft.jsonl") == []


@on_the_real_run
def test_zero_shot_records_per_item_checkpoint_and_task(nanomoe_run):
    seed = nanomoe_run / "seed0"
    assert not (seed / "lora").exists() and not (seed / "eval" / "lora").exists()
    for task in NANOMOE_TASKS:
        items = read_jsonl(seed / "data" / task / "benchmark.jsonl")
        for step in STEPS:
            records = read_jsonl(seed / "eval" / "none" / str(step) / f"{task}.jsonl")
            assert [r["doc_id"] for r in records] == list(range(len(items)))
            assert [r["target"] for r in records] == [i["label"] for i in items]  # lm-eval's gold index
            assert all(r["correct"] == int(r["response"] == r["target"]) for r in records)
            if task != "hellaswag":  # HellaSwag docs have no `id` (its id_field is `ind`)
                assert [r["id"] for r in records] == [i["id"] for i in items]
        accuracy = read_tsv(seed / "generalization" / "none" / task / "accuracy.tsv")
        assert accuracy["step"].tolist() == STEPS
    # one analysed sample set: the same memorization steps under every task
    t_stars = [read_tsv(seed / "memorization" / task / "t_star.tsv")["t_star"].tolist() for task in NANOMOE_TASKS]
    assert all(t == t_stars[0] for t in t_stars)
    sizes = pd.Series(t_stars[0]).value_counts()
    assert sizes.get(30000, 0) >= 2 and sizes.get(35000, 0) >= 2  # the groups of Figs. 14-15 (none at T)


@on_the_real_run
def test_table5_layout_and_verdicts(nanomoe_run):
    table = read_tsv(nanomoe_run / "seed0" / "correlation" / "table1.tsv")
    assert set(table["accuracy_source"]) == {"none"}
    assert table["domain"].drop_duplicates().tolist() == list(NANOMOE_TASKS)  # Table 5's columns
    for task in NANOMOE_TASKS:
        rows = table[table["domain"] == task]
        assert rows["metric"].tolist() == list(TABLE1_METRICS.values())
        assert set(rows["from_step"]) == {STEPS[0]}  # last 5 of 3 checkpoints: all of them
    assert (table[table["column"].isin(["train_loss", "distance", "consistency"])]["n"] == len(STEPS)).all()
    claims = read_tsv(nanomoe_run / "verdicts" / "claims.tsv")
    assert set(claims["accuracy_source"]) == {"none"} and set(NANOMOE_TASKS) <= set(claims["domain"])
    assert (nanomoe_run / "seed0" / "figures" / "fig4_distance.png").stat().st_size > 1000
