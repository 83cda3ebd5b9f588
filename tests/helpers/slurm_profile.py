"""The SLURM profile (slurm/config.yaml, a YTE template) as snakemake reads it under given site values."""

from __future__ import annotations

import os

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
