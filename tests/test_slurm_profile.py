"""The SLURM profile's groups as rendered for each setting of GROKMON_SLURM_CHECKPOINT_GROUPS, and the group jobs they
make of config/test.yaml's DAG (no cluster needed; tests/test_slurm.py runs them on one)."""

import subprocess
import sys

import pytest
import yaml
from conftest import REPO, TEST_CONFIG
from helpers.dag import planned_jobs
from helpers.slurm_profile import group_jobs, profile_groups, render_profile

MODEL_RULES = {"routes", "router_matrices", "lora", "full_tune", "evaluate"}
DOMAIN_RULES = {"generalization", "matching", "series", "collect_pathways", "fig2"}
SETTINGS = [{}, {"checkpoint_groups": "0"}, {"checkpoint_groups": "1"}]


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_group_job_has_one_core(setting):
    assert render_profile(**setting)["cores"] == 1  # the jobstep plugin runs a group's members one at a time


@pytest.mark.parametrize("setting", SETTINGS[:2])
def test_by_default_only_the_light_analysis_rules_share_jobs(setting):
    grouped = profile_groups(**setting)
    assert {rule for rule, group in grouped.items() if group == "domain_{seed}_{domain}"} == DOMAIN_RULES
    assert set(grouped.values()) == {"domain_{seed}_{domain}", "analysis"} and len(grouped) == 19
    assert not (MODEL_RULES | {"memorization", "pathways", "toy_pretrain"}) & set(grouped)


def test_checkpoint_groups_put_each_checkpoints_model_jobs_in_one_job():
    default, grouped = profile_groups(), profile_groups(checkpoint_groups="1")
    assert {rule for rule, group in grouped.items() if group == "checkpoint_{seed}_{step}"} == MODEL_RULES
    domain = {rule for rule, group in grouped.items() if group == "domain_{seed}_{domain}"}
    assert domain == DOMAIN_RULES | {"memorization", "pathways"}
    assert {rule: group for rule, group in grouped.items() if rule not in MODEL_RULES | domain} == {
        rule: group for rule, group in default.items() if rule not in DOMAIN_RULES
    }


def test_test_config_runs_as_nine_group_jobs_with_checkpoint_groups(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    steps, domains = config["checkpoints"]["steps"], list(config["domains"])
    jobs = group_jobs(planned_jobs(tmp_path), checkpoint_groups="1")
    model_jobs = sorted(["router_matrices"] + ["routes"] * 4 + ["lora"] * 5 + ["evaluate"] * 9)
    assert {step: jobs.pop(f"checkpoint_0_{step}") for step in steps} == {step: model_jobs for step in steps}
    # per domain: its memorization, a pathways job per checkpoint and their collection, then per accuracy source
    # (lora, none) generalization, matching, series and Figure 2; Table 4's rank 8 adds its generalization and series
    per_source = ["fig2", "generalization", "matching", "series"] * 2
    ranked = config["ablations"]["lora_ranks"]["domains"]
    expected = {d: ["memorization", "collect_pathways", *["pathways"] * len(steps), *per_source] for d in domains}
    expected = {d: sorted(rules + ["generalization", "series"] * (d in ranked)) for d, rules in expected.items()}
    assert {d: jobs.pop(f"domain_0_{d}") for d in domains} == expected
    assert list(jobs) == ["analysis"] and len(jobs["analysis"]) == 18  # the tables, gathering figures, verdicts


@pytest.mark.parametrize("setting", SETTINGS[1:])
def test_snakemake_accepts_the_groups(setting, tmp_path):
    # a group that a job outside it both depends on and feeds would make the group job wait for itself
    profile = render_profile(**setting)
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "--configfile", str(TEST_CONFIG)]
    cmd += ["--directory", str(tmp_path), "--groups", *profile["groups"]]
    cmd += ["--group-components", *profile["group-components"]]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_grouped_rule_is_a_rule_of_the_workflow():
    # with a comparison run, so that every optional rule is defined (a renamed rule would silently leave its group)
    cmd = [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", str(TEST_CONFIG)]
    cmd += ["--config", "compare_with=demo"]
    listed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    grouped = set(profile_groups(checkpoint_groups="1"))
    assert grouped <= set(listed), sorted(grouped - set(listed))
