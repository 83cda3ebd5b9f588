"""End to end: the real workflow on the smallest config, checked by the content of its artifacts."""

import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_CONFIG, run_snakemake, snakemake_cmd
from helpers.dag import job_counts, planned_jobs
from helpers.record import assert_matches_record

from grokmon.claims.verdicts import CORRELATION_CLAIMS, VerdictSettings, claim_verdicts
from grokmon.files.atomic import load_npz
from grokmon.workflow.config import lora_ranks, validate_config
from grokmon.workflow.io import read_json, read_jsonl

pytestmark = pytest.mark.slow
CONFIG = yaml.safe_load(TEST_CONFIG.read_text())
STEPS = CONFIG["checkpoints"]["steps"]
DOMAINS = list(CONFIG["domains"])
SOURCES = CONFIG["evaluation"]["tuning"]
RANKS = CONFIG["ablations"]["lora_ranks"]  # Table 4: ranks 4 (the main lora.rank) and 8 on commonsense
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def run_results(workdir):
    """Artifacts of the whole run (over all seeds)."""
    return workdir / "results" / CONFIG["run"]


def results(workdir, seed=0):
    """Artifacts of one seed's replicate."""
    return run_results(workdir) / f"seed{seed}"


def test_artifacts_match_the_recorded_digests(workflow_run):
    # first, before other tests rerun jobs; the SLURM test checks its run against the same record
    assert_matches_record(run_results(workflow_run))


def test_loss_matrix_has_one_row_per_checkpoint_and_falls(workflow_run):
    for domain in DOMAINS:
        z = load_npz(results(workflow_run) / f"memorization/{domain}/loss.npz")
        assert z["loss"].shape == (len(STEPS), CONFIG["toy"]["world"]["train"])
        assert z["steps"].tolist() == STEPS
        assert z["loss"][-1].mean() < z["loss"][0].mean()


def test_routing_weights_sum_to_one(workflow_run):
    for split in ("train", "validation", "test"):
        z = load_npz(results(workflow_run) / f"routes/{STEPS[-1]}/math/{split}.npz")
        assert z["routing"].shape[1:] == (CONFIG["toy"]["model"]["num_layers"], CONFIG["toy"]["model"]["num_experts"])
        np.testing.assert_allclose(z["routing"].sum(-1), 1.0, atol=1e-4)
        assert np.all(np.isfinite(z["nll"])) and np.all(z["n_tokens"] > 0)


def test_memorization_groups_are_not_empty(workflow_run):
    for domain in DOMAINS:
        t_star = pd.read_csv(results(workflow_run) / f"memorization/{domain}/t_star.tsv", sep="\t")
        memorized = t_star[t_star["t_star"] >= 0]
        assert len(memorized) > 0, domain
        assert set(memorized["t_star"]) <= set(STEPS)


def test_accuracies_lie_in_unit_interval(workflow_run):
    assert SOURCES == ["lora", "none"]
    for source in SOURCES:
        for domain in DOMAINS:
            acc = pd.read_csv(results(workflow_run) / f"generalization/{source}/{domain}/accuracy.tsv", sep="\t")
            assert acc["step"].tolist() == STEPS
            assert acc["accuracy"].between(0, 1).all()
            records = read_jsonl(results(workflow_run) / f"eval/{source}/{STEPS[-1]}/{domain}.jsonl")
            assert len(records) == CONFIG["toy"]["world"]["benchmark"]
            assert {r["correct"] for r in records} <= {0, 1}


def test_zero_shot_source_evaluates_the_checkpoint_without_an_adapter(workflow_run):
    res = results(workflow_run)
    records = {s: [read_jsonl(res / f"eval/{s}/{step}/{d}.jsonl") for step in STEPS for d in DOMAINS] for s in SOURCES}
    assert [[r["doc_id"] for r in x] for x in records["lora"]] == [[r["doc_id"] for r in x] for x in records["none"]]
    responses = {s: [r["response"] for x in records[s] for r in x] for s in SOURCES}
    assert responses["lora"] != responses["none"]  # the adapters change some answers


def test_matching_is_a_valid_assignment(workflow_run):
    for domain, source in ((d, s) for d in DOMAINS for s in SOURCES):
        table = pd.read_csv(results(workflow_run) / f"matching/{source}/{domain}.tsv", sep="\t")
        assert table["train_step"].is_unique and table["test_step"].is_unique
        assert set(table["train_step"]) | set(table["test_step"]) <= set(STEPS)
        assert (table["delay"] == table["test_step"] - table["train_step"]).all()
        assert table["similarity"].between(-1, 1).all()


def test_figures_are_non_empty_pngs(workflow_run):
    pngs = sorted((results(workflow_run) / "figures").rglob("*.png"))
    # fig1, fig3, fig4-6, fig8, fig9, fig12, fig13, two threshold sweeps, table3, monitor; per accuracy source
    # fig2 per domain and fig7
    assert len(pngs) == 13 + len(SOURCES) * (len(DOMAINS) + 1)
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png.name


def test_table1_has_finite_values(workflow_run):
    """Every correlation is finite unless its series is constant (then it is undefined: NaN, never a number)."""
    table = pd.read_csv(results(workflow_run) / "correlation/table1.tsv", sep="\t")
    assert set(table["domain"]) == set(DOMAINS) and table["accuracy_source"].unique().tolist() == SOURCES
    assert {"Pathway distance", "Pathway consistency", "Training loss", "Validation loss"} <= set(table["metric"])
    assert len(table) == len(SOURCES) * len(table.query("accuracy_source == 'lora'"))
    for _, row in table.iterrows():
        name = f"correlation/{row['accuracy_source']}/{row['domain']}.series.tsv"
        series = pd.read_csv(results(workflow_run) / name, sep="\t")
        used = series[series["step"] >= row["from_step"]]
        varies = used[row["column"]].nunique() > 1 and used["accuracy"].nunique() > 1
        assert np.isfinite([row["pearson"], row["spearman"]]).all() == varies, (row["domain"], row["column"])
        if varies:
            assert abs(row["pearson"]) <= 1 + 1e-9 and abs(row["spearman"]) <= 1 + 1e-9
    assert np.isfinite(table["pearson"]).mean() > 0.75


def test_table4_has_each_ranks_table1_side_by_side(workflow_run):
    res = results(workflow_run)
    table = pd.read_csv(res / "correlation/table4.tsv", sep="\t")
    table1 = pd.read_csv(res / "correlation/table1.tsv", sep="\t").query(
        "accuracy_source == 'lora' and domain == 'commonsense'"
    )
    assert RANKS == {"ranks": [4, 8], "domains": ["commonsense"]} and CONFIG["lora"]["rank"] == 4
    assert table["metric"].tolist() == table1["metric"].tolist() and set(table["domain"]) == {"commonsense"}
    # rank 4 is the main lora source: its columns are Table 1's lora rows
    np.testing.assert_array_equal(table["pearson_r4"], table1["pearson"])
    np.testing.assert_array_equal(table["from_step_r4"], table1["from_step"])
    # rank 8: its own adapters (rank 8, alpha 16: alpha / r as the run's 8 / 4), evaluations and series
    r8 = lora_ranks(validate_config(CONFIG, SCHEMA))[1]
    stats = read_json(res / f"lora/{STEPS[-1]}/{r8.tunings['commonsense']}/train_stats.json")
    assert (r8.source, stats["rank"], stats["alpha"]) == ("lora_r8", 8, 16)
    series = pd.read_csv(res / "correlation/lora_r8/commonsense.series.tsv", sep="\t")
    assert series["step"].tolist() == STEPS and series["accuracy"].between(0, 1).all()
    assert np.isfinite(table["pearson_r8"]).mean() > 0.5 and set(table["n_r8"]) <= set(range(len(STEPS) + 1))


def test_resolved_config_is_saved_with_defaults(workflow_run):
    resolved = yaml.safe_load((run_results(workflow_run) / "config.resolved.yaml").read_text())
    assert resolved["lora"]["lr"] == CONFIG["lora"]["lr"]
    assert resolved["generalization"] == {"min_accuracy": 0.8, "max_errors": 1, "include_final": False}


def test_every_rule_wrote_its_log_header(workflow_run):
    logs = list(run_results(workflow_run).rglob("*.log"))
    assert logs
    for log in logs:
        assert re.search(r"^grokmon job: rule=\w+ slurm_job_id=\S+ cuda_visible_devices=\S+", log.read_text(), re.M), (
            log
        )


def changed_config(tmp_path, section, key, value):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config[section][key] = value
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_up_to_date_run_plans_nothing(workflow_run):
    assert job_counts(planned_jobs(workflow_run, TEST_CONFIG)) == {}


def test_lora_learning_rate_change_reruns_only_tuning_and_after(workflow_run, tmp_path):
    jobs = job_counts(planned_jobs(workflow_run, changed_config(tmp_path, "lora", "lr", 0.001)))
    ranked = len(STEPS) * len(RANKS["domains"])  # Table 4's rank 8 shares the recipe's lr
    assert jobs["lora"] == jobs["evaluate"] == len(STEPS) * len(DOMAINS) + ranked and "table4" in jobs
    assert {"toy_world", "toy_pretrain", "routes", "router_matrices", "memorization", "pathways"}.isdisjoint(jobs)


def test_epsilon_change_reruns_only_memorization_and_after(workflow_run, tmp_path):
    jobs = job_counts(planned_jobs(workflow_run, changed_config(tmp_path, "memorization", "epsilon", 9.0)))
    assert jobs["memorization"] == len(DOMAINS) and "table1" in jobs
    assert {"toy_world", "toy_pretrain", "routes", "lora", "evaluate", "generalization"}.isdisjoint(jobs)


def test_killed_job_leaves_no_partial_artifact_and_rerun_matches(workflow_run):
    step, domain = STEPS[-1], DOMAINS[0]
    res = results(workflow_run)
    records = res / f"eval/lora/{step}/{domain}.jsonl"
    target = str(records.relative_to(workflow_run))
    # the adapter that the records' evaluation reads (named after its training set), and its job's log
    (lora,) = [job for job in planned_jobs(workflow_run, TEST_CONFIG, target, forcerun=["lora"]) if job.rule == "lora"]
    adapter = workflow_run / lora.output[0]
    adapter_files = ("adapter_model.safetensors", "adapter_config.json")
    before = [(adapter / name).read_bytes() for name in adapter_files], read_jsonl(records)
    log = res / "logs" / f"{adapter.relative_to(res)}.log"
    log.unlink()  # the session's run wrote it: the job's header in it must be this run's
    proc = subprocess.Popen(
        snakemake_cmd(workflow_run, "--cores", "1", "--forcerun", "lora", "--", target),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and "grokmon job" in log.read_text()):
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended ({proc.returncode}) before its lora job was killed"
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not adapter.exists() or all((adapter / name).exists() for name in adapter_files)
    # The killed snakemake left its lock; the adapter is missing or incomplete, so the rerun trains it again, and the
    # evaluation after it (an up-to-date output whose input is only missing would not rerun: Snakemake's rule).
    run_snakemake(workflow_run, "--unlock")
    rerun = run_snakemake(workflow_run, "--cores", "1", "--rerun-incomplete", "--", lora.output[0], target)
    assert "Nothing to be done" not in rerun.stdout + rerun.stderr
    assert ([(adapter / name).read_bytes() for name in adapter_files], read_jsonl(records)) == before


def test_a_job_server_child_writes_the_same_bytes_as_a_job_in_its_own_process(workflow_run):
    step, domain = STEPS[-1], DOMAINS[0]
    res = results(workflow_run)
    outputs = [res / f"routes/{step}/{domain}/{split}.npz" for split in ("train", "validation", "test")]
    outputs.append(res / f"eval/none/{step}/{domain}.jsonl")
    logs = [res / f"logs/routes/{step}/{domain}.log", res / f"logs/evaluate/none/{step}/{domain}.log"]
    assert all("process=job_server_child" in log.read_text() for log in logs)  # the session's run used the server
    before = [path.read_bytes() for path in outputs]
    targets = [str(outputs[0].relative_to(workflow_run)), str(outputs[-1].relative_to(workflow_run))]
    run_snakemake(
        workflow_run, "--cores", "1", "--forcerun", "routes", "evaluate", "--config", "job_server=False", "--", *targets
    )
    assert all("process=own" in log.read_text() for log in logs)
    assert [path.read_bytes() for path in outputs] == before


def test_bad_config_fails_before_any_job_naming_the_key(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["lora"]["rnak"] = 8
    config["checkpoints"]["source"] = "cloud"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = run_snakemake(tmp_path, "-n", configfile=path, check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "'rnak'" in message and "lora" in message
    assert "checkpoints.source" in message and "'toy', 'hub', 'local'" in message
    assert not (tmp_path / "results").exists()


def test_verdict_table_covers_every_claim_and_domain(workflow_run):
    table = pd.read_csv(run_results(workflow_run) / "verdicts/claims.tsv", sep="\t")
    assert set(table["domain"]) == set(DOMAINS) and table["accuracy_source"].unique().tolist() == SOURCES
    assert len(table) == len(SOURCES) * len(table.query("accuracy_source == 'none'"))
    assert set(table["number"]) == {0, 1, 2, 3, 4, 5}  # 0: the grokking precondition
    assert set(table["verdict"]) <= {"holds", "does not hold", "explained by a control", "undecided"}
    assert (table["n_seeds"] == 1).all()
    assert (table["claim"] == "generalization_lags").sum() == len(SOURCES) * len(DOMAINS)
    assert (run_results(workflow_run) / "verdicts/claims.md").read_text().count("|") > 20


def test_more_seeds_plan_only_the_new_replicates_and_the_pooled_verdicts(workflow_run, tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["seeds"] = [0, 1, 2]
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    planned = planned_jobs(workflow_run, path)
    assert {seed for job in planned for seed in re.findall(r"results/test/(seed\d+)/", " ".join(job.output))} == {
        "seed1",
        "seed2",
    }
    jobs = job_counts(planned)
    assert (
        jobs["toy_pretrain"] == 2 * len(STEPS)
        and jobs["routes"] == 2 * len(STEPS) * len(DOMAINS)
        and jobs["verdicts"] == 1
    )


def test_verdicts_pool_the_seeds(workflow_run, tmp_path):
    """The verdicts rule on two seeds' tables (seed 1: seed 0's accuracy reversed)
    gives n_seeds 2 and the per-seed mean r."""
    tables = {}
    lag = [f"matching/{s}/{d}.tsv" for s in SOURCES for d in DOMAINS] + [
        f"memorization/{d}/t_star.tsv" for d in DOMAINS
    ]
    lag += [f"generalization/{s}/{d}/t_sharp.tsv" for s in SOURCES for d in DOMAINS]  # the precondition row's inputs
    series_names = [f"correlation/{s}/{d}.series.tsv" for s in SOURCES for d in DOMAINS]
    for name in [f"pathways/{d}.groups.tsv" for d in DOMAINS] + series_names + lag:
        table = pd.read_csv(results(workflow_run) / name, sep="\t")
        flipped = table.assign(accuracy=table["accuracy"].to_numpy()[::-1]) if name.endswith("series.tsv") else table
        for seed, t in ((0, table), (1, flipped)):
            (results(tmp_path, seed) / name).parent.mkdir(parents=True, exist_ok=True)
            t.to_csv(results(tmp_path, seed) / name, sep="\t", index=False)
            tables[seed, name] = t
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["seeds"] = [0, 1]
    config["correlation"] = {**config.get("correlation", {}), "checkpoints": "all"}  # one window for both seeds
    config["verdicts"] = {**config.get("verdicts", {}), "min_checkpoints": len(STEPS)}  # the test run's 4 checkpoints
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(
        tmp_path,
        "--cores",
        "1",
        "--allowed-rules",
        "verdicts",
        "--",
        "results/test/verdicts/claims.tsv",
        configfile=path,
    )
    pooled = pd.read_csv(run_results(tmp_path) / "verdicts/claims.tsv", sep="\t")
    pooled = pooled.query("accuracy_source == 'lora'").drop(columns="accuracy_source").set_index(["domain", "claim"])
    assert (pooled["n_seeds"] == 2).all()
    for seed in (0, 1):
        alone = claim_verdicts(
            {d: tables[seed, f"pathways/{d}.groups.tsv"] for d in DOMAINS},
            {d: tables[seed, f"correlation/lora/{d}.series.tsv"] for d in DOMAINS},
            checkpoints="all",
            settings=VerdictSettings(min_checkpoints=len(STEPS)),
        ).set_index(["domain", "claim"])
        assert (alone["n_seeds"] == 1).all()
        tables[seed] = alone
    # the metric-vs-accuracy claims' r is the mean of the per-seed r (the loss claim reports its strongest loss)
    claims = pooled.index.get_level_values("claim")
    rows = pooled.index[np.isfinite(pooled["estimate"]) & claims.isin([c.id for c in CORRELATION_CLAIMS])]
    assert len(rows) >= len(DOMAINS)
    expected = (tables[0].loc[rows, "estimate"] + tables[1].loc[rows, "estimate"]) / 2
    np.testing.assert_allclose(pooled.loc[rows, "estimate"], expected, atol=1e-5)  # TSV keeps 6 significant digits


def test_cross_domain_table_covers_every_pair(workflow_run):
    table = pd.read_csv(results(workflow_run) / f"pathways/{STEPS[-1]}/cross_domain.tsv", sep="\t")
    assert len(table) == len(DOMAINS) * (len(DOMAINS) + 1) // 2
    assert table["within"].sum() == len(DOMAINS)
    assert (table["distance"] >= 0).all() and table["distance_normalized"].between(0, 1).all()


def test_report_shows_the_verdicts_and_every_figure_per_seed(workflow_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(workflow_run, "--report", str(report))
    html = report.read_text()
    assert "Does the paper" in html and "seed 0" in html
    for name in (
        "claims.md",
        "table1.tsv",
        "table4.tsv",
        "fig4_distance.png",
        "fig12_cross_domain.png",
        "fig13_entropy_distance.png",
    ):
        assert name in html, name
    assert "accuracy source none" in html and "fig7_scatter.png" in html
