"""The SLURM profile (slurm/config.yaml) on a real one-node cluster started by scripts/slurm-local.sh.

Opt-in, because it installs packages and starts daemons: `pytest -m slurm tests/test_slurm.py` as root on
Debian. Checks that every job goes through sbatch, GPU rules get a GPU and CPU rules none, a failed job
is retried, site values come from the environment, and the workflow writes the bytes a local run recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.dag import planned_jobs
from helpers.record import assert_matches_record
from helpers.slurm_profile import PROFILE, group_jobs, profile_groups, site_env

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
def test_workflow_on_slurm_writes_the_recorded_artifacts(slurm_cluster, tmp_path):
    if not TEST_CONFIG.exists():
        pytest.skip(f"the workflow's smallest config {TEST_CONFIG.relative_to(REPO)} does not exist yet")
    env = slurm_env(mem_mb="2000", checkpoint_groups="1")  # the toy jobs peak near 0.5 GB
    log = snakemake(REPO / "Snakefile", tmp_path, "--configfile", str(TEST_CONFIG), env=env, timeout=3600)
    # toy_pretrain_log (joining the pretraining segments' log parts) is a localrule: it runs on the submitting machine.
    submissions = assert_every_job_on_slurm(tmp_path, log, local_rules=frozenset({"toy_pretrain_log"}))
    assert {s.gpu_declared for s in submissions} == {True, False}
    # With GROKMON_SLURM_CHECKPOINT_GROUPS=1 the profile runs the DAG's 165 jobs (less `all` and the local
    # toy_pretrain_log) as 11 plain sbatch jobs and 9 group jobs: one per checkpoint for its 19 model jobs, one per
    # domain for its analysis, one for the tables and verdicts (tests/test_slurm_profile.py; more only on retries).
    assert len({s.job for s in submissions}) == 20
    (tmp_path / "plan").mkdir()
    expected = group_jobs(planned_jobs(tmp_path / "plan"), checkpoint_groups="1")
    assert {s.group: list(s.rules) for s in submissions if s.group} == expected
    # Each group job's members were forked from the warm job server its snakemake started (a member that starts
    # before the server listens runs itself); no other job was.
    grouped, processes = profile_groups(checkpoint_groups="1"), job_processes(tmp_path)
    forked = [process == "job_server_child" for rule, process in processes if rule in grouped]
    members = sum(map(len, expected.values()))
    assert len(forked) == members and sum(forked) >= len(forked) - 2 * len(expected), processes
    assert all(process == "own" for rule, process in processes if rule not in grouped), processes
    # The same bytes as the local run that recorded them (tests/test_workflow.py checks each local run against it).
    assert_matches_record(tmp_path / "results" / "test")


@pytest.mark.slow
def test_paper_stand_in_on_slurm(slurm_cluster, tmp_path):
    """config/olmoe.yaml on its local stand-ins (helpers.stand_in's config builder and checks, as in
    test_paper_end_to_end) through the profile: every job but the preflight (a localrule) is an sbatch job, the GPU
    rules get a GPU, and the results pass the same content checks as the local run."""
    from conftest import run_snakemake
    from helpers.paper_config import GPU_RULES, PAPER
    from helpers.stand_in import STEPS, check_records, check_results, write_stand_in_config

    config = write_stand_in_config(tmp_path)
    env = slurm_env(mem_mb="2000", checkpoint_groups="1")
    log = snakemake(REPO / "Snakefile", tmp_path, "--configfile", str(config), env=env, timeout=5400)
    submissions = assert_every_job_on_slurm(tmp_path, log, local_rules=frozenset({"preflight"}))
    # router_matrices, a CPU rule, runs in its checkpoint's group job, which has a GPU for the others
    assert {rule for s in submissions if s.gpu_declared for rule in s.rules} == GPU_RULES | {"router_matrices"}
    assert not GPU_RULES & {rule for s in submissions if not s.gpu_declared for rule in s.rules}
    # Each checkpoint's model jobs ran as one group job, between its fetch and its eviction (single jobs); each
    # domain's analysis as one, and the tables and verdicts as one.
    groups = sorted(s.group for s in submissions if s.group)
    expected = ["analysis"] + [f"checkpoint_0_{step}" for step in STEPS] + [f"domain_0_{d}" for d in PAPER["domains"]]
    assert groups == sorted(expected)
    run_snakemake(tmp_path, "--cores", "1", "--report", str(tmp_path / "report.html"), configfile=config)
    check_records(tmp_path)
    check_results(tmp_path, tmp_path / "report.html")
