"""The SLURM profile (slurm/config.yaml) on a real one-node cluster started by scripts/slurm-local.sh, on a fixture
workflow: every job goes through sbatch, GPU rules get a GPU and CPU rules none, a failed job is retried, and site
values come from the environment and the command line.

Opt-in, because it installs packages and starts daemons: `make test-slurm` as root on Debian, which also runs the
whole workflow through the profile (test_slurm_workflow.py, test_slurm_paper.py), each file on its own pytest-xdist
worker, all three on the one cluster.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.slurm_jobs import assert_every_job_on_slurm, cluster_jobs, slurm_env, snakemake_on_slurm

pytestmark = pytest.mark.slurm

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "slurm" / "Snakefile"


@pytest.fixture(scope="module")
def fixture_run(slurm_cluster, tmp_path_factory):
    """The fixture workflow run through the profile, site values from GROKMON_SLURM_* and --set-resources."""
    workdir = tmp_path_factory.mktemp("slurm_fixture")
    env = slurm_env(partition="debug", runtime="7", mem_mb="300")
    log = snakemake_on_slurm(FIXTURE, workdir, "--set-resources", "gpu_typed:gpu_model=fake", env=env, timeout=300)
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
