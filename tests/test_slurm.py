"""The SLURM profile (slurm/config.yaml) on a real one-node cluster started by scripts/slurm-local.sh.

Opt-in, because it installs packages and starts daemons: `pytest -m slurm tests/test_slurm.py` as root on
Debian. Checks that every job goes through sbatch, GPU rules get a GPU and CPU rules none, a failed job
is retried, site values come from the environment, and the workflow's results equal a local run's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers.slurm_profile import PROFILE, render_profile, site_env

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-local.sh"
FIXTURE = REPO / "tests" / "fixtures" / "slurm" / "Snakefile"
TEST_CONFIG = REPO / "config" / "test.yaml"
SLURM_CONF = Path(os.environ.get("GROKMON_SLURM_DIR", "/tmp/grokmon-slurm")) / "etc" / "slurm.conf"
# First status check 3 s after a submission instead of the profile's 10: tiny jobs take ~8 s each.
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "3"]

HEADER = re.compile(r"^grokmon job: rule=(\S+) slurm_job_id=(\S+) cuda_visible_devices=(\S+)", re.M)
JOB_BLOCK = re.compile(r"^(local)?(?:rule|checkpoint) (\w+):\n((?:    .*\n)+)", re.M)
GROUP_BLOCK = re.compile(r"^\[.*\] Group job (\w+) \(jobs in lexicogr\. order\):\n((?:\n|    .*\n)+)", re.M)
GROUP_MEMBER = re.compile(r"^    (?:rule|checkpoint) (\w+):\n((?:        .*\n)+)", re.M)
PROCESS = re.compile(r"^grokmon job: rule=(\S+) .* process=(\S+)$", re.M)
# Lines the executor logs while another job's block is being printed (group jobs submitted at the same time).
INTERLEAVED = re.compile(r"^(?:General args: |sbatch call: |Job \S+ has been submitted ).*\n", re.M)
SBATCH_CALL = re.compile(r"^sbatch call: (sbatch .*)$", re.M)
SUBMITTED = re.compile(r"^Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", re.M)
GPU_RESOURCE = re.compile(r"\bgpu=[1-9]|\bgpu_model=|\bgres=\S*gpu")
GPU_SBATCH_FLAG = re.compile(r"--gpus=|--gres=\S*gpu")


@dataclass(frozen=True)
class Submission:
    """One sbatch submission in snakemake's --verbose log: one job, or a group job of several."""

    job: str  # snakemake's job id (a group job's: its uuid): the same for every attempt of one job
    rules: tuple[str, ...]  # the rule of each job it runs (one for a plain job; sorted for a group job)
    group: str | None  # the group's name, for a group job
    slurm_id: str
    gpu_declared: bool  # the job's resources ask for a GPU
    sbatch: str  # the sbatch command line without its --wrap payload

    @property
    def rule(self) -> str:
        """The rule of a plain job; a group job's name as `group <name>`."""
        return f"group {self.group}" if self.group else self.rules[0]


def parse_submissions(log: str) -> tuple[list[Submission], int]:
    """Submissions in a --verbose log, and how many non-local job attempts (plain or group) the log started."""
    jobs, attempts = {}, 0
    blocks = INTERLEAVED.sub("", log)
    for local, rule, body in JOB_BLOCK.findall(blocks):
        if not local:
            attempts += 1
            jobid = re.search(r"^ +jobid: (\d+)$", body, re.M).group(1)
            jobs[jobid] = ((rule,), bool(GPU_RESOURCE.search(body)))
    groups = {}  # a group job's uuid is not in its block: its attempts are matched by name, in order
    for name, body in GROUP_BLOCK.findall(blocks):
        attempts += 1
        members = GROUP_MEMBER.findall(body)
        gpu = any(GPU_RESOURCE.search(member_body) for _, member_body in members)
        groups.setdefault(name, []).append((tuple(sorted(rule for rule, _ in members)), gpu))
    calls = {}
    for call in SBATCH_CALL.findall(log):
        command = call.split(" --wrap=")[0]
        calls[os.path.dirname(re.search(r"--output (\S+)", command).group(1))] = command
    submissions = []
    for jobid, slurm_id, slurm_log in SUBMITTED.findall(log):
        # a group job's log folder is group_<name>_<its rules...>; a plain job's is rule_<rule>
        folder = re.search(r"/slurm_logs/([^/]+)/", slurm_log).group(1)
        group = next((name for name in groups if folder.startswith(f"group_{name}")), None)
        rules, gpu = groups[group].pop(0) if group else jobs[jobid]
        call = calls[os.path.dirname(slurm_log)]
        submissions.append(Submission(jobid, rules, group, slurm_id, gpu, call))
    return submissions, attempts


def rule_log_lines(workdir: Path, pattern: re.Pattern) -> list[tuple[str, ...]]:
    """The matches of `pattern` in the run's rule logs (not in snakemake's own, under .snakemake)."""
    return [
        match
        for path in sorted(workdir.rglob("*.log"))
        if ".snakemake" not in path.relative_to(workdir).parts
        for match in pattern.findall(path.read_text(errors="replace"))
    ]


def job_headers(workdir: Path) -> list[tuple[str, str, str]]:
    """(rule, slurm_job_id, cuda_visible_devices) of every `grokmon job:` line in the run's rule logs."""
    return rule_log_lines(workdir, HEADER)


def job_processes(workdir: Path) -> list[tuple[str, str]]:
    """(rule, process) of every `grokmon job:` line in the run's rule logs: `job_server_child` or `own`."""
    return rule_log_lines(workdir, PROCESS)


def cluster_jobs() -> dict[str, str]:
    """SLURM job id -> its `scontrol --oneliner show job` line (finished jobs stay for MinJobAge)."""
    cmd = ["scontrol", "--oneliner", "show", "job"]
    out = subprocess.run(cmd, env=slurm_env(), capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("JobId=")]
    return {line.split()[0].removeprefix("JobId="): line for line in lines}


def slurm_env(**site: str) -> dict[str, str]:
    """Environment for snakemake and SLURM clients: this cluster, no GPU of our own, `site` values."""
    env = {k: v for k, v in site_env(**site).items() if k != "CUDA_VISIBLE_DEVICES"}
    return env | {"SLURM_CONF": str(SLURM_CONF)}


def snakemake(snakefile: Path, workdir: Path, *args: str, env: dict[str, str], timeout: int) -> str:
    """Run snakemake in `workdir` with the SLURM profile and --verbose; its log (fails on an error)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir)]
    cmd += ["--profile", str(PROFILE), "--verbose", *FAST_STATUS, *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    (workdir / "snakemake-verbose.txt").write_text(log)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}); log tail:\n{log[-3000:]}"
    return log


def assert_every_job_on_slurm(workdir: Path, log: str, local_rules: frozenset[str] = frozenset()) -> list[Submission]:
    """Every non-local job ran inside an sbatch job (alone, or in a group job) and logged its header there; GPUs
    exactly where a rule asks. Jobs of `local_rules` (the workflow's localrules) run on the submitting machine."""
    submissions, attempts = parse_submissions(log)
    assert submissions and len(submissions) == attempts, (len(submissions), attempts)
    by_id = {s.slurm_id: s for s in submissions}
    slurm_logs = {p.stem for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert slurm_logs == set(by_id)
    # A retry starts the rule's log afresh: the last attempt of each job wrote the headers that are left.
    last_attempts = {s.job: s.slurm_id for s in submissions}
    headers = job_headers(workdir)
    local = [header for header in headers if header[0] in local_rules]
    assert all(slurm_id == "none" for _, slurm_id, _ in local), local
    headers = [header for header in headers if header[0] not in local_rules]
    rules_run = {}
    for rule, slurm_id, _ in headers:
        rules_run.setdefault(slurm_id, []).append(rule)
    assert sorted(rules_run) == sorted(last_attempts.values())
    for slurm_id, rules in rules_run.items():
        assert tuple(sorted(rules)) == by_id[slurm_id].rules, (slurm_id, by_id[slurm_id].sbatch)
    jobs = cluster_jobs()
    for rule, slurm_id, cuda_visible_devices in headers:
        sub = by_id[slurm_id]
        asked = bool(GPU_SBATCH_FLAG.search(sub.sbatch))
        granted = "TresPerJob=gres:gpu" in jobs[slurm_id]
        saw_gpu = cuda_visible_devices != "unset"
        expected = (sub.gpu_declared,) * 3
        assert (asked, granted, saw_gpu) == expected, (rule, slurm_id, sub.sbatch, cuda_visible_devices)
    return submissions


@pytest.fixture(scope="session")
def slurm_cluster(request):
    """The local cluster, up for the session (taken down afterwards when this session started it)."""
    if "slurm" not in (request.config.option.markexpr or ""):
        pytest.skip("opt-in (installs slurm-wlm, starts daemons, minutes): pytest -m slurm tests/test_slurm.py")
    was_up = subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode == 0
    up = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        reason = up.stderr.strip()[-600:]
        pytest.skip(f"no local SLURM cluster (slurm-local.sh up exited {up.returncode}): {reason}")
    yield
    if not was_up:
        subprocess.run([str(SCRIPT), "down"], capture_output=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def fixture_run(slurm_cluster, tmp_path_factory):
    """The fixture workflow run through the profile, site values from GROKMON_SLURM_* and --set-resources."""
    workdir = tmp_path_factory.mktemp("slurm_fixture")
    env = slurm_env(partition="debug", runtime="7", mem_mb="300")
    log = snakemake(FIXTURE, workdir, "--set-resources", "gpu_typed:gpu_model=fake", env=env, timeout=300)
    return workdir, assert_every_job_on_slurm(workdir, log)


def test_fixture_jobs_all_submitted_with_gpus_only_for_gpu_rules(fixture_run):
    _, submissions = fixture_run
    rules = sorted(s.rule for s in submissions)
    assert rules == ["flaky", "flaky", "gpu_step", "gpu_step", "gpu_typed", "prep", "prep"]
    assert {s.rule for s in submissions if s.gpu_declared} == {"gpu_step", "gpu_typed"}


def test_site_values_come_from_environment_and_command_line(fixture_run):
    _, submissions = fixture_run
    for sub in submissions:
        flags = sub.sbatch.split()
        assert flags[flags.index("-p") + 1] == "debug"
        assert flags[flags.index("-t") + 1] == "7"
        assert flags[flags.index("--mem") + 1] == "300"
        expected_gpus = {"gpu_step": ["--gpus=1"], "gpu_typed": ["--gpus=fake:1"]}.get(sub.rule, [])
        assert [f for f in flags if f.startswith("--gpus")] == expected_gpus


def test_failed_job_is_retried_and_run_completes(fixture_run):
    workdir, submissions = fixture_run
    flaky = [s.slurm_id for s in submissions if s.rule == "flaky"]
    jobs = cluster_jobs()
    states = [re.search(r"JobState=(\w+)", jobs[slurm_id]).group(1) for slurm_id in flaky]
    assert states == ["FAILED", "COMPLETED"]
    assert (workdir / "out" / "flaky.txt").read_text() == "attempt=2\n"


@pytest.mark.slow
def test_workflow_on_slurm_equals_local_run(slurm_cluster, tmp_path):
    if not TEST_CONFIG.exists():
        pytest.skip(f"the workflow's smallest config {TEST_CONFIG.relative_to(REPO)} does not exist yet")
    test_config = yaml.safe_load(TEST_CONFIG.read_text())
    run, run_steps = test_config["run"], test_config["checkpoints"]["steps"]
    snakefile = REPO / "Snakefile"
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local_dir.mkdir()
    # The reference run goes on beside the SLURM run (which mostly waits), with as many cores as the node.
    local_cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(local_dir)]
    local_cmd += ["--configfile", str(TEST_CONFIG), "--cores", str(os.cpu_count())]
    with open(local_dir / "snakemake.txt", "w") as local_log:
        local = subprocess.Popen(local_cmd, env=slurm_env(), stdout=local_log, stderr=subprocess.STDOUT)
        try:
            slurm_dir.mkdir()
            env = slurm_env(mem_mb="2000", checkpoint_groups="1")  # the toy jobs peak near 0.5 GB
            log = snakemake(snakefile, slurm_dir, "--configfile", str(TEST_CONFIG), env=env, timeout=3600)
            assert local.wait(timeout=3600) == 0, (local_dir / "snakemake.txt").read_text()[-3000:]
        finally:
            local.kill()
    # toy_pretrain_log (joining the pretraining segments' log parts) is a localrule: it runs on the submitting machine.
    submissions = assert_every_job_on_slurm(slurm_dir, log, local_rules=frozenset({"toy_pretrain_log"}))
    assert {s.gpu_declared for s in submissions} == {True, False}
    # With GROKMON_SLURM_CHECKPOINT_GROUPS=1 the profile runs the model jobs of each of the 4 checkpoints as one group
    # job (19 each: router_matrices, 4 routes, 5 lora, 9 evaluate) and the 76 light analysis jobs (memorization and
    # pathways among them) as one: the DAG's 165 jobs, less `all` and toy_pretrain_log (local), are 11 plain sbatch
    # jobs and 5 group jobs (more sbatch calls only on retries).
    assert len({s.job for s in submissions}) == 16
    groups = {s.group: s.rules for s in submissions if s.group}
    assert sorted(groups) == ["analysis"] + [f"checkpoint_0_{step}" for step in (1200, 1600, 400, 800)]
    model_jobs = sorted(["router_matrices"] + ["routes"] * 4 + ["lora"] * 5 + ["evaluate"] * 9)
    assert all(list(groups[f"checkpoint_0_{step}"]) == model_jobs for step in run_steps)
    grouped = dict(entry.split("=") for entry in render_profile(checkpoint_groups="1")["groups"])
    analysis = sorted(rule for rule, _, _ in job_headers(local_dir) if grouped.get(rule) == "analysis")
    assert list(groups["analysis"]) == analysis and len(analysis) == 76
    # Each group job's members were forked from the warm job server its snakemake started (a member that starts
    # before the server listens runs itself); no other job was.
    processes = job_processes(slurm_dir)
    forked = [process == "job_server_child" for rule, process in processes if rule in grouped]
    assert len(forked) == 4 * 19 + 76 and sum(forked) >= len(forked) - 2 * len(groups), processes
    assert all(process == "own" for rule, process in processes if rule not in grouped), processes

    losses = sorted((local_dir / "results" / run / "seed0" / "memorization").glob("*/loss.npz"))
    assert losses
    for local_file in losses:
        slurm_file = slurm_dir / local_file.relative_to(local_dir)
        with np.load(local_file) as expected, np.load(slurm_file) as actual:
            assert sorted(actual.files) == sorted(expected.files)
            for key in expected.files:
                np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"{slurm_file}:{key}")
    table = Path("results") / run / "seed0" / "correlation" / "table1.tsv"
    expected = pd.read_csv(local_dir / table, sep="\t")
    assert expected.select_dtypes("number").notna().any().any()  # not a table of NaN only
    pd.testing.assert_frame_equal(pd.read_csv(slurm_dir / table, sep="\t"), expected, check_exact=True)
    claims = Path("results") / run / "verdicts" / "claims.tsv"
    assert (slurm_dir / claims).read_bytes() == (local_dir / claims).read_bytes()


@pytest.mark.slow
def test_paper_stand_in_on_slurm(slurm_cluster, tmp_path):
    """config/olmoe.yaml on its local stand-ins (helpers.stand_in's config builder and checks, as in
    test_paper_end_to_end) through the profile: every job but the preflight (a localrule) is an sbatch job, the GPU
    rules get a GPU, and the results pass the same content checks as the local run."""
    from conftest import run_snakemake
    from helpers.paper_config import GPU_RULES
    from helpers.stand_in import STEPS, check_records, check_results, write_stand_in_config

    config = write_stand_in_config(tmp_path)
    env = slurm_env(mem_mb="2000", checkpoint_groups="1")
    log = snakemake(REPO / "Snakefile", tmp_path, "--configfile", str(config), env=env, timeout=5400)
    submissions = assert_every_job_on_slurm(tmp_path, log, local_rules=frozenset({"preflight"}))
    # router_matrices, a CPU rule, runs in its checkpoint's group job, which has a GPU for the others
    assert {rule for s in submissions if s.gpu_declared for rule in s.rules} == GPU_RULES | {"router_matrices"}
    assert not GPU_RULES & {rule for s in submissions if not s.gpu_declared for rule in s.rules}
    # Each checkpoint's model jobs ran as one group job, between its fetch and its eviction (single jobs).
    groups = sorted(s.group for s in submissions if s.group)
    assert groups == sorted(["analysis"] + [f"checkpoint_0_{step}" for step in STEPS])
    run_snakemake(tmp_path, "--cores", "1", "--report", str(tmp_path / "report.html"), configfile=config)
    check_records(tmp_path)
    check_results(tmp_path, tmp_path / "report.html")
