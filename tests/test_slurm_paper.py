"""config/olmoe.yaml on its local stand-ins (helpers.stand_in) through the SLURM profile on the local cluster
(scripts/slurm-local.sh): the paper path's GPU, fetch and eviction jobs on SLURM. Opt-in: `make test-slurm`."""

from __future__ import annotations

import pytest
from conftest import REPO, run_snakemake
from helpers.paper_config import GPU_RULES, PAPER
from helpers.slurm_jobs import assert_every_job_on_slurm, slurm_env, snakemake_on_slurm
from helpers.stand_in import STEPS, check_records, check_results, write_stand_in_config

pytestmark = pytest.mark.slurm


@pytest.mark.slow
def test_paper_stand_in_on_slurm(slurm_cluster, tmp_path):
    """config/olmoe.yaml on its local stand-ins (helpers.stand_in's config builder and checks, as in
    test_paper_end_to_end) through the profile: every job but the preflight (a localrule) is an sbatch job, the GPU
    rules get a GPU, and the results pass the same content checks as the local run."""
    config = write_stand_in_config(tmp_path)
    env = slurm_env(mem_mb="2000", checkpoint_groups="1")
    log = snakemake_on_slurm(REPO / "Snakefile", tmp_path, "--configfile", str(config), env=env, timeout=5400)
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
