"""The SLURM profile (slurm/config.yaml, a YTE template) as snakemake reads it under a given environment."""

from __future__ import annotations

import os

from conftest import REPO
from yte import process_yaml

PROFILE = REPO / "slurm"


def render_profile(env: dict[str, str]) -> dict:
    """The profile's keys, rendered with `env` as the process environment (restored afterwards)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with open(PROFILE / "config.yaml") as f:
            return process_yaml(f)
    finally:
        os.environ.clear()
        os.environ.update(saved)
