"""The SLURM profile (slurm/config.yaml, a YTE template) as snakemake reads it under given site values."""

from __future__ import annotations

import os
from collections import defaultdict

from conftest import REPO
from yte import process_yaml

PROFILE = REPO / "slurm"


def site_env(**site: str) -> dict[str, str]:
    """This process's environment without its GROKMON_SLURM_* variables, plus `site` (key -> GROKMON_SLURM_<KEY>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROKMON_SLURM_")}
    return env | {f"GROKMON_SLURM_{key.upper()}": value for key, value in site.items()}


def render_profile(**site: str) -> dict:
    """The profile's keys, rendered with `site_env(**site)` as the process environment (restored afterwards)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(site_env(**site))
    try:
        with open(PROFILE / "config.yaml") as f:
            return process_yaml(f)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def profile_groups(**site: str) -> dict[str, str]:
    """Rule -> group name (a pattern of the job's wildcards) in the profile rendered with the `site` values."""
    return dict(entry.split("=") for entry in render_profile(**site)["groups"])


def group_jobs(jobs, **site: str) -> dict[str, list[str]]:
    """{group job name: its members' rules, sorted} of planned `jobs` (helpers.dag.Job) under the profile with the
    `site` values: a group's connected parts form one job (the profile's group-components)."""
    grouped, members = profile_groups(**site), defaultdict(list)
    for job in jobs:
        if job.rule in grouped:
            members[grouped[job.rule].format(**job.wildcards)].append(job.rule)
    return {name: sorted(rules) for name, rules in members.items()}
