"""config/test.yaml through the SLURM profile on the local cluster (scripts/slurm-local.sh), with the light rules
grouped into few sbatch jobs: every job inside one, GPUs where a rule asks, and the bytes the local run recorded.
Opt-in: `make test-slurm`."""

from __future__ import annotations

import pytest
from conftest import REPO, TEST_CONFIG
from helpers.dag import planned_jobs
from helpers.record import assert_matches_record
from helpers.slurm_jobs import assert_every_job_on_slurm, job_processes, slurm_env, snakemake_on_slurm
from helpers.slurm_profile import group_jobs, profile_groups

pytestmark = pytest.mark.slurm


@pytest.mark.slow
def test_workflow_on_slurm_writes_the_recorded_artifacts(slurm_cluster, tmp_path):
    env = slurm_env(mem_mb="2000", checkpoint_groups="1")  # the toy jobs peak near 0.5 GB
    log = snakemake_on_slurm(REPO / "Snakefile", tmp_path, "--configfile", str(TEST_CONFIG), env=env, timeout=3600)
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
