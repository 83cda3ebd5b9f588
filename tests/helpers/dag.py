"""The jobs Snakemake plans, read from its own DAG (its Python API, run by helpers/dag_jobs.py in a subprocess so that
the workflow's environment settings stay out of the test process), never from the text of a dry run's log."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO, TEST_CONFIG

DAG_JOBS = Path(__file__).with_name("dag_jobs.py")


@dataclass(frozen=True)
class Job:
    """One planned job: its rule, wildcards, input and output paths (relative to the workdir), resources, and parents:
    the positions in the list of planned jobs of those whose output it reads."""

    rule: str
    wildcards: dict[str, str]
    input: list[str]
    output: list[str]
    resources: dict[str, object]
    parents: list[int]


def planned_jobs(
    workdir: Path, configfile: Path = TEST_CONFIG, *targets: str, config: dict | None = None, forcerun=()
) -> list[Job]:
    """The jobs that `snakemake -n` in `workdir` with `configfile` (and --config `config`, --forcerun `forcerun`)
    plans for `targets` (none: the default target): those that need to run, in Snakemake's DAG order."""
    args = {
        "snakefile": str(REPO / "Snakefile"),
        "workdir": str(workdir),
        "configfile": str(configfile),
        "targets": list(targets),
        "config": config or {},
        "forcerun": list(forcerun),
    }
    proc = subprocess.run([sys.executable, str(DAG_JOBS), json.dumps(args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"the DAG failed ({proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr[-8000:]}")
    return [Job(**job) for job in json.loads(proc.stdout.splitlines()[-1])]


def job_counts(jobs: list[Job]) -> dict[str, int]:
    """Rule -> number of `jobs` of it (a dry run's "Job stats" without its total)."""
    return dict(collections.Counter(job.rule for job in jobs))
