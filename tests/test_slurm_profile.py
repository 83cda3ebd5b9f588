"""The SLURM profile's groups as rendered for each setting of GROKMON_SLURM_CHECKPOINT_GROUPS (no cluster needed;
tests/test_slurm.py runs them on one)."""

import subprocess
import sys

import pytest
from conftest import REPO
from helpers.slurm_profile import render_profile

MODEL_RULES = {"routes", "router_matrices", "lora", "full_tune", "evaluate"}


def groups(**site: str) -> dict[str, str]:
    """Rule -> group name of the profile rendered with the GROKMON_SLURM_* `site` values only."""
    profile = render_profile(**site)
    assert profile["cores"] == 1  # the jobstep plugin runs a group's members one at a time
    return dict(entry.split("=") for entry in profile["groups"])


@pytest.mark.parametrize("setting", [{}, {"checkpoint_groups": "0"}])
def test_by_default_only_the_light_analysis_rules_share_a_job(setting):
    grouped = groups(**setting)
    assert set(grouped.values()) == {"analysis"} and len(grouped) == 19
    assert not (MODEL_RULES | {"memorization", "pathways", "toy_pretrain"}) & set(grouped)


def test_checkpoint_groups_put_each_checkpoints_model_jobs_in_one_job():
    default, grouped = groups(), groups(checkpoint_groups="1")
    assert {rule for rule, group in grouped.items() if group == "checkpoint_{seed}_{step}"} == MODEL_RULES
    assert {rule for rule, group in grouped.items() if group == "analysis"} == set(default) | {
        "memorization",
        "pathways",
    }


def test_every_grouped_rule_is_a_rule_of_the_workflow():
    # with a comparison run, so that every optional rule is defined (a renamed rule would silently leave its group)
    cmd = [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", str(REPO / "config" / "test.yaml")]
    cmd += ["--config", "compare_with=demo"]
    listed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    grouped = set(groups(checkpoint_groups="1"))
    assert grouped <= set(listed), sorted(grouped - set(listed))
