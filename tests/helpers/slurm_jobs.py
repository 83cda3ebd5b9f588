"""Running a workflow through the SLURM profile (slurm/config.yaml) on the local cluster, and reading what ran where:
the sbatch submissions in snakemake's --verbose log, the `grokmon job:` headers in the rule logs, the cluster's jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.slurm_cluster import SLURM_CONF
from helpers.slurm_profile import PROFILE, site_env

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


def snakemake_on_slurm(snakefile: Path, workdir: Path, *args: str, env: dict[str, str], timeout: int) -> str:
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
