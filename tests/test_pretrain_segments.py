"""Pretraining in segments (grokmon.workflow.toy.pretrain resume_from / stop_at / state_path) and the workflow's one
toy_pretrain job per analysed step."""

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_CONFIG
from helpers.dag import planned_jobs

from grokmon.monitor.pathway_monitor import PathwayMonitor
from grokmon.workflow import io
from grokmon.workflow.toy import TEST_SIZES, build_world, pretrain, tiny_olmoe_config, train_tokenizer

DEMO = REPO / "config/config.yaml"
DEMO_CONFIG = yaml.safe_load(DEMO.read_text())
SEGMENT_ENDS = [5, 9, 12]  # batches of 24 of 64 texts: every boundary falls inside a permutation
ARGS = dict(steps=12, save_steps=SEGMENT_ENDS, batch_size=24, lr=1e-2, warmup=3, seed=3, progress=False)


@pytest.fixture(scope="module")
def corpus():
    return build_world(0, TEST_SIZES)["math"].corpus[:64]


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return train_tokenizer(corpus)


def _train(corpus, tokenizer, out, **segment):
    """One pretrain call on the tiny OLMoE with a monitor every 2 steps (odd boundaries split its period)."""
    cfg = tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=2, num_experts=4, expert_size=32)
    monitor = PathwayMonitor(corpus[:6], tokenizer, every=2, csv_path=out / "monitor.csv", seed=3)
    logs = {"log_path": out / "log.tsv", "callback": monitor}
    pretrain(corpus, tokenizer, cfg, out_dir=out.parent / "ckpt", **logs, **ARGS, **segment)


def test_segments_give_the_weights_log_and_monitor_rows_of_one_run_bit_for_bit(corpus, tokenizer, tmp_path):
    _train(corpus, tokenizer, tmp_path / "one/run")
    state = None
    for end in SEGMENT_ENDS:
        out = tmp_path / f"segments/{end}"
        _train(corpus, tokenizer, out, resume_from=state, stop_at=end, state_path=out / "state.pt")
        state = out / "state.pt"
    parts = [tmp_path / f"segments/{end}" for end in SEGMENT_ENDS]
    io.concat_tables([p / "log.tsv" for p in parts], tmp_path / "log.tsv")
    io.concat_tables([p / "monitor.csv" for p in parts], tmp_path / "monitor.csv")
    for end in SEGMENT_ENDS:
        weights = [(tmp_path / f"{run}/ckpt/{end}/model.safetensors").read_bytes() for run in ("one", "segments")]
        assert weights[0] == weights[1], f"step {end}"
    assert (tmp_path / "log.tsv").read_bytes() == (tmp_path / "one/run/log.tsv").read_bytes()
    assert io.read_tsv(tmp_path / "log.tsv")["step"].tolist() == list(range(1, 13))
    monitor, one = pd.read_csv(tmp_path / "monitor.csv"), pd.read_csv(tmp_path / "one/run/monitor.csv")
    assert monitor["step"].tolist() == [2, 4, 6, 8, 10, 12]
    assert monitor.drop(columns="seconds").equals(one.drop(columns="seconds"))  # seconds: wall time


def test_resuming_with_other_settings_or_no_step_left_raises(corpus, tokenizer, tmp_path):
    out = tmp_path / "first"
    _train(corpus, tokenizer, out, stop_at=2, state_path=out / "state.pt")
    cfg = tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=2, num_experts=4, expert_size=32)
    with pytest.raises(ValueError, match="resume_from"):
        pretrain(corpus, tokenizer, cfg, out_dir=tmp_path, **{**ARGS, "lr": 0.1}, resume_from=out / "state.pt")
    with pytest.raises(ValueError, match="stop_at"):
        pretrain(corpus, tokenizer, cfg, out_dir=tmp_path, **ARGS, resume_from=out / "state.pt", stop_at=2)
    with pytest.raises(ValueError, match="stop_at"):
        pretrain(corpus, tokenizer, cfg, out_dir=tmp_path, **ARGS, stop_at=13)


def _dag(tmp_path, configfile):
    """(jobs: node -> (rule, wildcards), parents: node -> set of nodes) of the workflow's planned DAG."""
    planned = planned_jobs(tmp_path, configfile)
    jobs = {node: (job.rule, job.wildcards) for node, job in enumerate(planned)}
    return jobs, {node: set(job.parents) for node, job in enumerate(planned)}


def _ancestors(node, parents):
    seen, todo = set(), [node]
    while todo:
        for parent in parents[todo.pop()] - seen:
            seen.add(parent)
            todo.append(parent)
    return seen


def _segment(node, parents, pretrain_step):
    """The step of toy_pretrain job `node`, or of the one toy_pretrain job whose checkpoint job `node` reads."""
    if node in pretrain_step:
        return pretrain_step[node]
    (step,) = [pretrain_step[p] for p in parents[node] & set(pretrain_step)]
    return step


def test_demo_plans_one_pretrain_job_per_analysed_step_and_each_checkpoint_waits_only_for_its_segments(tmp_path):
    steps = DEMO_CONFIG["checkpoints"]["steps"]
    jobs, parents = _dag(tmp_path, DEMO)
    pretrain_step = {node: int(w["step"]) for node, (rule, w) in jobs.items() if rule == "toy_pretrain"}
    assert sorted(pretrain_step.values()) == steps
    assert not any(rule == "toy_pretrain_rest" for rule, _ in jobs.values())  # the demo trains up to its last step
    for node, (rule, _) in jobs.items():
        if rule in ("toy_pretrain", "routes", "router_matrices", "lora"):
            own = _segment(node, parents, pretrain_step)
            waits_for = sorted(pretrain_step[a] for a in _ancestors(node, parents) if a in pretrain_step)
            assert waits_for == [s for s in steps if s < own or (s == own and rule != "toy_pretrain")], (rule, own)
    (first,) = [node for node, step in pretrain_step.items() if step == steps[0]]
    first_routes = [node for node, (rule, _) in jobs.items() if rule == "routes" and first in parents[node]]
    assert len(first_routes) == len(DEMO_CONFIG["domains"])


def test_steps_after_the_last_analysed_one_are_the_rest_segment_joined_into_the_log(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["toy"]["pretrain"]["steps"] += 100
    path = tmp_path / "longer.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    jobs, parents = _dag(tmp_path, path)
    (rest,) = [node for node, (rule, _) in jobs.items() if rule == "toy_pretrain_rest"]
    (joined,) = [node for node, (rule, _) in jobs.items() if rule == "toy_pretrain_log"]
    last = config["checkpoints"]["steps"][-1]
    assert ("toy_pretrain", str(last)) in [(jobs[p][0], jobs[p][1].get("step")) for p in parents[rest]]
    assert rest in parents[joined]
