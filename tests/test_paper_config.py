"""The paper's config (config/olmoe.yaml): its values, its full DAG offline, and the hub path run for real
offline: a tiny OLMoE in a local HF cache under the revision names, paper data from fixture files of the
real formats, the Min-K%++ filter feeding generalization, and eviction after use."""

import copy
import re
from pathlib import Path

import datasets as hf_datasets
import numpy as np
import pytest
import yaml
from conftest import REPO, run_snakemake
from helpers.configs import SCHEMA, assert_config_error
from helpers.dag import job_counts, planned_jobs
from helpers.hub_cache import HUB_REPO, place_in_hub_cache, tiny_cache
from helpers.paper_config import GPU_RULES, HUMANEVAL, NO_FIGURE_GROUPS, OLMOE, PAPER, domains
from huggingface_hub import scan_cache_dir
from transformers import AutoModelForCausalLM, AutoTokenizer

from grokmon.workflow.checkpoints import branch_name, read_revisions
from grokmon.workflow.config import UNSAFE_TASKS, lora_ranks, tuning_keys, validate_config
from grokmon.workflow.contamination import min_k_plus_plus
from grokmon.workflow.io import read_json, read_jsonl, read_tsv, write_jsonl
from grokmon.workflow.lm_eval_tasks import NANOMOE_TASKS, PAPER_TASKS, task_yaml

PAPER_STEPS = [5000, 125000, 245000, 370000, 490000, 615000, 735000, 855000, 980000, 1100000]
# Rules with one job per checkpoint, per (checkpoint, domain) and per domain in the paper's DAG.
PER_STEP = {"fetch_checkpoint", "router_matrices", "evict_checkpoint"}
PER_STEP_DOMAIN = {"routes", "evaluate", "pathways"}
# commonsense and domain_specific tune on the same SFT data (alpaca-cleaned): one adapter for both
N_TUNINGS = 3
# Table 4 (ablations.lora_ranks): rank 64 beside the main rank 32 on commonsense, one more tuning and accuracy
# source (lora_r64), so one more lora and evaluate job per checkpoint and one more generalization and series job.
RANK_DOMAINS = ["commonsense"]
PER_RANK_DOMAIN = {"generalization", "series"}
PER_DOMAIN = {
    "paper_data",
    "benchmark_task",
    "contamination",
    "memorization",
    "generalization",
    "collect_pathways",
    "matching",
    "series",
    "fig2",
}


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_datasets_cache"))


# ---------------- the config itself ----------------


def test_olmoe_config_holds_the_papers_settings():
    c = validate_config(PAPER, SCHEMA)
    assert c["checkpoints"]["repo"] == HUB_REPO and c["checkpoints"]["steps"] == PAPER_STEPS
    revisions = read_revisions(REPO / c["checkpoints"]["revisions"])
    assert revisions == {s: branch_name(s) for s in PAPER_STEPS}
    assert revisions[1100000] == "step1100000-tokens4613B"
    assert c["dtype"] == "bfloat16" and c["checkpoints"]["evict_after_use"] is True
    assert {
        k: c["lora"][k] for k in ("rank", "dropout", "lr", "batch_size", "epochs", "max_length", "target_modules")
    } == {
        "rank": 32,
        "dropout": 0.1,
        "lr": 5e-5,
        "batch_size": 4,
        "epochs": 3,
        "max_length": 2048,
        "target_modules": ["q_proj", "k_proj", "v_proj"],
    }
    assert c["memorization"] == {
        "epsilon": "auto",
        "epsilon_step": 0.1,
        "target_fraction": [0.2, 0.25],
        "delta": 0.05,
        "loss_span": "sequence",
        "include_final": False,
    }
    assert c["pathways"]["cut"] == 0.7 and c["generalization"] == {
        "min_accuracy": 0.8,
        "max_errors": 1,
        "include_final": False,
    }
    assert (
        c["correlation"]["checkpoints"] == "last" and c["correlation"]["last_k"] == 5
    )  # the n the paper's values imply
    assert c["contamination"]["enabled"] and c["contamination"]["fraction"] == 0.1
    assert {d: v["benchmark"]["task"] for d, v in c["domains"].items()} == PAPER_TASKS
    sources = {d: {s: v["data"][s]["dataset"] for s in ("train", "validation", "sft")} for d, v in c["domains"].items()}
    assert sources == {  # paper Table 2 and App. B
        "math": {
            "train": "open-web-math/open-web-math",
            "validation": "qwedsacf/competition_math",
            "sft": "meta-math/MetaMathQA",
        },
        "code": {
            "train": "bigcode/starcoderdata",
            "validation": "newfacade/LeetCodeDataset",
            "sft": "HuggingFaceH4/CodeAlpaca_20K",
        },
        "commonsense": {
            "train": "emozilla/dolma-v1_7-books",
            "validation": "kowndinya23/flan2021-commonsense",
            "sft": "yahma/alpaca-cleaned",
        },
        "domain_specific": {
            "train": "blester125/mediawiki-dolma",
            "validation": "chemNLP/chemistry-bookshelves-merged",
            "sft": "yahma/alpaca-cleaned",
        },
    }
    for domain in c["domains"].values():
        assert domain["data"]["train"]["n"] == domain["data"]["validation"]["n"] == 10000
        assert domain["data"]["train"]["split"] == "train"  # defaults of paper_data.schema.yaml filled in
    assert c["domains"]["domain_specific"]["data"]["train"]["keyword"] == {
        "field": "text",
        "contains": "Organic Chemistry",
        "ignore_case": False,
    }


def test_schema_lists_exactly_the_paper_tasks_and_unsafe_ones_are_marked():
    schema = yaml.safe_load(SCHEMA.read_text())
    tasks = sorted({*PAPER_TASKS.values(), *NANOMOE_TASKS.values()})  # OLMoE's Table 1 and nanoMoE's Table 5
    assert sorted(schema["$defs"]["benchmark"]["properties"]["task"]["enum"]) == tasks
    unsafe = {t for t in tasks if re.search(r"^unsafe_code: true$", task_yaml(t).read_text(), re.M)}
    assert unsafe == set(UNSAFE_TASKS) == {"grokmon_humaneval_plus"}


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda c: c["evaluation"].update(confirm_run_unsafe_code=False),
            ["'domains.code.benchmark.task'", "'evaluation.confirm_run_unsafe_code: true'"],
        ),
        (
            lambda c: c["domains"]["math"]["data"].update(test={"dataset": "x"}),
            ["'domains.math.data.test' is not used"],
        ),
        (lambda c: c["contamination"].update(step=7), ["'contamination.step' = 7"]),
        (
            lambda c: c["checkpoints"].update(source="local", path_pattern="ckpt/{step}"),
            ["'checkpoints.evict_after_use'"],
        ),
        (
            lambda c: c["checkpoints"].update(source="local", path_pattern="ckpt/x", evict_after_use=False),
            ["'checkpoints.path_pattern' must contain {step}"],
        ),
        (lambda c: c["domains"]["code"].pop("benchmark"), ["'domains.code.benchmark'"]),
        (
            lambda c: c["domains"]["code"]["benchmark"].update(task="humaneval"),
            ["'domains.code.benchmark.task'", "'grokmon_humaneval_plus'"],
        ),
        (
            lambda c: c["domains"]["math"]["data"]["train"].update(txt_field="t"),
            ["domains.math.data.train", "txt_field"],
        ),
        (lambda c: c["resources"].update(lroa={"mem_mb": 1}), ["'resources'", "'lroa'"]),
        (lambda c: c["checkpoints"].update(evict_after_use=False), ["'checkpoints.max_cached' needs"]),
    ],
)
def test_paper_semantic_checks_name_the_key(edit, expected):
    assert_config_error(PAPER, edit, expected)


# ---------------- the full DAG, offline ----------------


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory):
    """Jobs of `snakemake -n --configfile config/olmoe.yaml` (offline), from its DAG."""
    return planned_jobs(tmp_path_factory.mktemp("olmoe_dry"), OLMOE)


def test_paper_dag_has_every_job_per_checkpoint_and_domain(paper_dry_run):
    counts = job_counts(paper_dry_run)
    n_steps, n_domains = len(PAPER_STEPS), len(PAPER["domains"])
    n_ranked = len(RANK_DOMAINS)  # (domain, rank) pairs of the ablation beyond the main rank
    expected = (
        {r: n_steps for r in PER_STEP}
        | {r: n_steps * n_domains for r in PER_STEP_DOMAIN}
        | {r: n_domains for r in PER_DOMAIN}
        | {"resolved_config": 1, "table1": 1, "table4": 1, "all": 1}
        | {"lora": n_steps * (N_TUNINGS + n_ranked), "evaluate": n_steps * (n_domains + n_ranked)}
        | {r: n_domains + n_ranked for r in PER_RANK_DOMAIN}
    )
    assert {r: counts.get(r) for r in expected} == expected
    assert {"toy_world", "toy_pretrain", "local_checkpoint"}.isdisjoint(counts)
    routes = {
        (m.group(1), m.group(2))
        for job in paper_dry_run
        for m in [re.search(r"routes/(\d+)/(\w+)/train\.npz", " ".join(job.output))]
        if m
    }
    assert routes == {(str(s), d) for s in PAPER_STEPS for d in PAPER["domains"]}


def _adapters(paper_dry_run) -> dict[tuple[str, str, str], str]:
    """(source, step, domain) -> the adapter its evaluate job reads."""
    adapters = {}
    for job in paper_dry_run:
        if job.rule == "evaluate":
            records = job.output[0]  # results/olmoe/seed0/eval/{source}/{step}/{domain}.jsonl
            adapter = [f for f in job.input if "/lora/" in f]
            adapters[tuple(records.removesuffix(".jsonl").split("/")[-3:])] = adapter[0]
    return adapters


def test_domains_tuned_alike_share_one_adapter(paper_dry_run):
    adapters = {key: a for key, a in _adapters(paper_dry_run).items() if key[0] == "lora"}
    assert len(adapters) == 40 and len(set(adapters.values())) == 30
    for step in PAPER_STEPS:
        shared = adapters["lora", str(step), "commonsense"]
        assert shared == adapters["lora", str(step), "domain_specific"] and shared.startswith(
            f"results/olmoe/seed0/lora/{step}/sft-"
        )
        assert len({adapters["lora", str(step), d] for d in ("math", "code", "commonsense")}) == 3


def test_table4_tunes_commonsense_at_rank_64_beside_the_main_adapters(paper_dry_run):
    assert PAPER["ablations"]["lora_ranks"] == {"ranks": [32, 64], "domains": RANK_DOMAINS, "scale_alpha": True}
    config = validate_config(PAPER, SCHEMA)
    (main, r64), adapters = lora_ranks(config), _adapters(paper_dry_run)
    assert main.source == "lora" and r64.recipe == {"rank": 64, "alpha": 128}
    ranked = {key: a for key, a in adapters.items() if key[0] == "lora_r64"}
    assert ranked == {
        ("lora_r64", str(s), "commonsense"): f"results/olmoe/seed0/lora/{s}/{r64.tunings['commonsense']}"
        for s in PAPER_STEPS
    }
    assert set(ranked.values()).isdisjoint(a for key, a in adapters.items() if key[0] == "lora")
    table4 = [job.input for job in paper_dry_run if job.rule == "table4"]
    assert table4 == [
        [f"results/olmoe/seed0/correlation/{source}/commonsense.series.tsv" for source in ("lora", "lora_r64")]
    ]


def _planned_with_sources(tmp_path, sources, ranks=None):
    """Rule -> job count of the paper's dry run with evaluation.tuning = `sources` (and ablations.lora_ranks.ranks)."""
    config = copy.deepcopy(PAPER)
    config["evaluation"]["tuning"] = sources
    if ranks is not None:
        config["ablations"]["lora_ranks"]["ranks"] = ranks
    path = tmp_path / f"{'_'.join(sources)}_{ranks}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return job_counts(planned_jobs(tmp_path, path))


def test_zero_shot_source_adds_evaluations_and_no_tuning(paper_dry_run, tmp_path):
    assert PAPER["evaluation"]["tuning"] == ["lora"]
    lora = job_counts(paper_dry_run)
    both = _planned_with_sources(tmp_path, ["lora", "none"])
    n_steps, n_domains, n_ranked = len(PAPER_STEPS), len(PAPER["domains"]), len(RANK_DOMAINS)
    assert both["evaluate"] == lora["evaluate"] + 40 == (2 * n_domains + n_ranked) * n_steps  # + Table 4's rank 64
    assert both["lora"] == lora["lora"] and "full_tune" not in both
    assert (
        both["generalization"] == both["series"] == 2 * n_domains + n_ranked and both["table1"] == both["table4"] == 1
    )
    assert both["matching"] == 2 * n_domains  # the rank ablation's sources are only correlated (Table 4)
    assert both["routes"] == lora["routes"] and both["pathways"] == lora["pathways"]  # accuracy-free: once
    # the rank ablation off, so that no source tunes with LoRA
    none = _planned_with_sources(tmp_path, ["none"], ranks=[])
    assert "lora" not in none and "full_tune" not in none and none["evaluate"] == n_steps * n_domains
    full = _planned_with_sources(tmp_path, ["full"], ranks=[])
    assert "lora" not in full and full["evaluate"] == n_steps * n_domains and full["full_tune"] == n_steps * N_TUNINGS
    # Table 4 without the lora source: its rank 32 column still tunes commonsense with the main recipe
    ranks_only = _planned_with_sources(tmp_path, ["none"])
    assert ranks_only["lora"] == ranks_only["evaluate"] - n_steps * n_domains == 2 * n_ranked * n_steps


def test_gpu_resources_on_exactly_the_gpu_rules_with_the_configs_memory(paper_dry_run):
    gpu = {job.rule for job in paper_dry_run if job.resources.get("gpu") == 1}
    assert gpu == GPU_RULES
    for job in paper_dry_run:
        if job.rule in PAPER["resources"]:
            mem, runtime = PAPER["resources"][job.rule]["mem_mb"], PAPER["resources"][job.rule]["runtime"]
            assert (job.resources["mem_mb"], job.resources["runtime"]) == (mem, runtime), job.rule


def test_eviction_waits_for_every_job_that_reads_the_checkpoint(paper_dry_run):
    evict_inputs = {job.wildcards["step"]: set(job.input) for job in paper_dry_run if job.rule == "evict_checkpoint"}
    readers = 0
    for job in paper_dry_run:
        pointers = [f for f in job.input if f.endswith("/checkpoint.json")]
        if job.rule == "evict_checkpoint" or not pointers:
            continue
        readers += 1
        for pointer in pointers:
            step = pointer.split("/")[-2]
            assert set(job.output) <= evict_inputs[step], (job.rule, step)
    n_steps, n_domains = len(PAPER_STEPS), len(PAPER["domains"])
    # routes and evaluate per domain, lora per tuning, router_matrices, Table 4's rank 64 lora and evaluate;
    # contamination at T
    assert readers == n_steps * (2 * n_domains + N_TUNINGS + 1 + 2 * len(RANK_DOMAINS)) + n_domains


def test_fetch_waits_for_an_eviction_to_keep_at_most_max_cached(paper_dry_run):
    window = PAPER["checkpoints"]["max_cached"]
    waits = {int(job.wildcards["step"]): job.input for job in paper_dry_run if job.rule == "fetch_checkpoint"}
    assert window == 3 and waits == {  # and every fetch waits for the preflight
        s: [f"results/olmoe/seed0/checkpoints/{PAPER_STEPS[i - window]}/evicted.json"] * (i >= window)
        + ["results/olmoe/preflight.json"]
        for i, s in enumerate(PAPER_STEPS)
    }


# ---------------- the hub path, offline, on tiny files ----------------

STEPS = [5000, 125000]


def _hub_config(d: Path, cache: Path, revisions: dict, **checkpoints) -> Path:
    """A small hub config like olmoe.yaml: the tiny cache, the given revisions, local data files."""
    tsv = d / "revisions.tsv"
    tsv.write_text("step\trevision\n" + "".join(f"{s}\t{r}\n" for s, r in revisions.items()))
    config = {
        **copy.deepcopy(PAPER),
        "run": "hub",
        "device": "cpu",
        "dtype": "float32",
        "domains": domains(d / "data"),
        "figures": NO_FIGURE_GROUPS,  # the paper's groups (t* 125k-615k) are not among these steps
        "checkpoints": {
            "source": "hub",
            "repo": HUB_REPO,
            "steps": list(revisions),
            "revisions": str(tsv),
            "cache_dir": str(cache),
            "evict_after_use": True,
            **checkpoints,
        },
        "contamination": {"enabled": True, "fraction": 0.5, "batch_size": 2, "max_length": 64},
    }
    path = d / "hub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# The tests on hub_run: real jobs (paper_data, fetch, Min-K%++, eviction), about a minute.
ON_HUB_RUN = pytest.mark.slow


@pytest.fixture(scope="module")
def hub_run(tmp_path_factory):
    """The hub config's pointers, data of the four domains and one contamination table, made by the real rules."""
    root = tmp_path_factory.mktemp("hub")
    cache, revisions = tiny_cache(root, STEPS)
    config = _hub_config(root, cache, revisions)
    results = root / "results" / "hub" / "seed0"
    targets = [f"results/hub/seed0/checkpoints/{s}/checkpoint.json" for s in STEPS]
    targets += [f"results/hub/seed0/data/{d}/benchmark.jsonl" for d in PAPER["domains"]]
    targets += ["results/hub/seed0/contamination/commonsense.tsv"]
    run_snakemake(root, "--cores", "2", "--notemp", *targets, configfile=config)
    return root, cache, config, results


@ON_HUB_RUN
def test_fetch_points_at_the_cached_snapshot_of_each_revision(hub_run):
    _, cache, _, results = hub_run
    repo_dir = cache / "models--allenai--OLMoE-1B-7B-0924"
    for step in STEPS:
        pointer = read_json(results / f"checkpoints/{step}/checkpoint.json")
        commit = (repo_dir / "refs" / branch_name(step)).read_text()
        assert pointer == {"step": step, "revision": branch_name(step), "path": str(repo_dir / "snapshots" / commit)}


@ON_HUB_RUN
def test_missing_revision_fails_naming_it(hub_run, tmp_path):
    _, cache, _, _ = hub_run
    config = _hub_config(tmp_path, cache, {5000: branch_name(5000), 245000: "step245000-tokens1027B"})
    proc = run_snakemake(
        tmp_path, "--cores", "1", "results/hub/seed0/checkpoints/245000/checkpoint.json", configfile=config, check=False
    )
    assert proc.returncode != 0
    log = (tmp_path / "results/hub/logs/preflight.log").read_text()
    assert "checkpoints.revisions: revision 'step245000-tokens1027B' of 'allenai/OLMoE-1B-7B-0924' not found" in log
    assert not (
        tmp_path / "results/hub/seed0/logs/fetch_checkpoint"
    ).exists()  # the preflight stops it before any fetch
    (tmp_path / "revisions.tsv").write_text("step\trevision\n5000\tstep5000-tokens20B\n")  # 245000 not listed
    proc = run_snakemake(tmp_path, "-n", configfile=config, check=False)
    assert proc.returncode != 0 and "has no revision for step(s) [245000]" in proc.stdout + proc.stderr


@ON_HUB_RUN
def test_paper_data_from_local_files_of_the_real_formats(hub_run):
    _, _, _, results = hub_run
    data = results / "data"

    def rows(domain, name):
        return read_jsonl(data / domain / f"{name}.jsonl")

    math_train = rows("math", "train")  # n = 3 of 4, id = url
    assert len(math_train) == 3 and all(r["text"] == f"Lemma {r['id'].split('/')[-1]}." for r in math_train)
    assert sorted(rows("code", "train"), key=lambda r: r["id"]) == [
        {"id": f"sc-{i}", "text": f"x = {i}\n"} for i in range(3)
    ]
    assert rows("math", "validation") == [{"id": "0", "text": "Compute $2+2$.\n\n$\\boxed{4}$"}]
    assert rows("math", "sft") == [{"prompt": "1+1?", "response": "The answer is: 2"}]
    assert rows("code", "validation") == [{"id": "1", "text": "Solve two sum.\n\nUse a dict."}]
    assert sorted(r["text"] for r in rows("commonsense", "train")) == ["CHAPTER I.\nword word", "Is fire hot?\n\nyes"]
    assert rows("commonsense", "validation") == [
        {"id": "1", "text": "Is ice cold?\n\nyes"}
    ]  # the train text is dropped
    assert sorted(rows("commonsense", "sft"), key=lambda p: p["response"]) == [
        {"prompt": "Name a color.", "response": "Blue"},
        {"prompt": "Translate to French.\n\ncat", "response": "chat"},
    ]
    assert sorted(r["id"] for r in rows("domain_specific", "train")) == ["0-11", "0-14"]
    assert rows("domain_specific", "validation") == [{"id": "41", "text": "Atoms are small."}]
    # benchmark rows: row i is lm-eval's doc_id i
    assert rows("math", "benchmark") == [
        {"id": 0, "question": "What is $1+1$?", "answer": "2"},
        {"id": 2, "question": "Solve $2x=6$.", "answer": "3"},
    ]
    assert rows("code", "benchmark") == [
        {"id": h["task_id"], "question": h["prompt"], "answer": f"{h['test']}\ncheck({h['entry_point']})"}
        for h in HUMANEVAL
    ]
    assert rows("commonsense", "benchmark") == [
        {"id": f"q{i}", "question": f"Where is the cat {i}?", "choices": list("ABCDE"), "label": i} for i in range(3)
    ]
    assert rows("domain_specific", "benchmark") == [
        {"id": i, "question": f"Which gas {i}?", "choices": list("ABCD"), "label": i} for i in range(3)
    ]


@ON_HUB_RUN
def test_contamination_drops_the_top_scores_under_the_last_checkpoint(hub_run):
    _, _, _, results = hub_run
    table = read_tsv(results / "contamination/commonsense.tsv")
    assert table["doc_id"].tolist() == [0, 1, 2] and table["id"].tolist() == ["q0", "q1", "q2"]
    model_dir = read_json(results / f"checkpoints/{STEPS[-1]}/checkpoint.json")["path"]
    model, tok = AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)
    scores = min_k_plus_plus(model, tok, [f"Where is the cat {i}?" for i in range(3)], k=0.2, max_length=64)
    np.testing.assert_allclose(table["score"], scores, rtol=1e-5)
    assert table["keep"].tolist() == [int(i != np.argmax(scores)) for i in range(3)]  # floor(0.5 * 3) = 1 dropped


def _fake_model_outputs(workdir: Path, config: Path, step: int, eval_correct: dict) -> list[str]:
    """Stand-ins for every artifact made from checkpoint `step` (routes, adapters, evaluations), as targets."""
    made, resolved = [], validate_config(yaml.safe_load(config.read_text()), SCHEMA)
    ranked = [(r.source, d, t) for r in lora_ranks(resolved) if r.recipe for d, t in r.tunings.items()]  # Table 4
    for tuning in sorted(set(tuning_keys(resolved).values()) | {t for _, _, t in ranked}):
        made.append(f"results/hub/seed0/lora/{step}/{tuning}")
        (workdir / made[-1]).mkdir(parents=True)
    for source, domain, _ in ranked:
        made.append(f"results/hub/seed0/eval/{source}/{step}/{domain}.jsonl")
        write_jsonl(workdir / made[-1], [{"doc_id": i, "correct": 1} for i in range(3)])
    for domain in PAPER["domains"]:
        for split in ("train", "validation", "test"):
            made.append(f"results/hub/seed0/routes/{step}/{domain}/{split}.npz")
        made.append(f"results/hub/seed0/eval/lora/{step}/{domain}.jsonl")
        correct = eval_correct.get(domain, [1])
        write_jsonl(workdir / made[-1], [{"doc_id": i, "correct": c} for i, c in enumerate(correct)])
        (workdir / f"results/hub/seed0/eval/tasks/{domain}").mkdir(parents=True, exist_ok=True)
        (workdir / f"results/hub/seed0/eval/tasks/{domain}/{domain}_benchmark.yaml").touch()
    made.append(f"results/hub/seed0/routes/{step}/routers.npz")
    for path in made:
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).touch()
    return made


@ON_HUB_RUN
def test_eviction_after_use_and_the_filter_feeding_generalization(hub_run):
    root, cache, config, results = hub_run
    # every model artifact of both checkpoints exists and is marked up to date (no model runs here)
    keep = read_tsv(results / "contamination/commonsense.tsv")["keep"].tolist()
    made = []
    for step, correct in zip(STEPS, ([1, 0, 1], [1, 1, 1])):
        made += _fake_model_outputs(root, config, step, {"commonsense": correct})
    run_snakemake(root, "--cores", "1", "--touch", *made, configfile=config)
    model_dir = Path(read_json(results / "checkpoints/5000/checkpoint.json")["path"])
    run_snakemake(
        root,
        "--cores",
        "1",
        "results/hub/seed0/checkpoints/5000/evicted.json",
        "results/hub/seed0/generalization/lora/commonsense/t_sharp.tsv",
        configfile=config,
    )
    evicted = read_json(results / "checkpoints/5000/evicted.json")
    assert evicted["revision"] == "step5000-tokens20B" and evicted["bytes_freed"] > 10_000
    refs = {ref for repo in scan_cache_dir(cache).repos for r in repo.revisions for ref in r.refs}
    assert refs == {"step125000-tokens524B"} and not model_dir.exists()
    # generalization left out the item that Min-K%++ dropped
    t_sharp = read_tsv(results / "generalization/lora/commonsense/t_sharp.tsv")
    assert t_sharp["doc_id"].tolist() == [i for i in range(3) if keep[i]]
    # the pointer stays: nothing to redo, and a job that must rerun does not refetch (nor rerun the others)
    assert planned_jobs(root, config, "results/hub/seed0/checkpoints/5000/evicted.json") == []
    rerun = planned_jobs(root, config, "results/hub/seed0/eval/lora/5000/math.jsonl", forcerun=["lora"])
    assert job_counts(rerun) == {"lora": 1, "evaluate": 1}  # 2 jobs in all
    # ... once the revision is in the cache again (same commit, same snapshot path), as before eviction
    place_in_hub_cache(cache, HUB_REPO, branch_name(5000), root / "model5000")
    assert model_dir.is_dir() and (model_dir / "model.safetensors").is_file()


@pytest.mark.slow  # two real jobs
def test_local_source_points_at_model_directories(tmp_path):
    (tmp_path / "ckpt" / "100").mkdir(parents=True)
    (tmp_path / "ckpt" / "100" / "config.json").write_text("{}")
    (tmp_path / "ckpt" / "200").mkdir()  # no config.json: not a model directory
    config = {
        **copy.deepcopy(PAPER),
        "run": "local",
        "checkpoints": {"source": "local", "steps": [100, 200], "path_pattern": "ckpt/{step}"},
        "figures": NO_FIGURE_GROUPS,
    }
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = [f"results/local/seed0/checkpoints/{s}/checkpoint.json" for s in (100, 200)]
    proc = run_snakemake(tmp_path, "--cores", "1", "--keep-going", *targets, configfile=path, check=False)
    assert proc.returncode != 0
    assert read_json(tmp_path / targets[0]) == {
        "step": 100,
        "revision": "local",
        "path": str(tmp_path / "ckpt" / "100"),
    }
    log = (tmp_path / "results/local/seed0/logs/local_checkpoint/200.log").read_text()
    assert f"checkpoints.path_pattern: {tmp_path / 'ckpt' / '200'} (step 200) has no config.json" in log
