"""What every workflow job does first: log to the rule's log, say where it runs, seed everything."""

from __future__ import annotations

import logging
import os
import random
import socket
import sys

import numpy as np

from grokmon.workflow.job_server import CHILD_ENV
from grokmon.workflow.numerics import describe as describe_cpu_numerics


def start_job(snakemake, seed: int | None = None) -> logging.Logger:
    """Send stdout/stderr to the rule's log, write the `grokmon job:` header line, set threads and seeds."""
    if snakemake.log:
        log = open(str(snakemake.log[0]), "a", buffering=1)  # noqa: SIM115 - open for the whole job
        sys.stdout = sys.stderr = log
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    print(
        f"grokmon job: rule={snakemake.rule} slurm_job_id={os.environ.get('SLURM_JOB_ID', 'none')} "
        f"cuda_visible_devices={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')} host={socket.gethostname()} "
        f"{describe_cpu_numerics()} process={'job_server_child' if os.environ.get(CHILD_ENV) else 'own'}",
        file=sys.stderr,
    )
    threads = max(1, int(getattr(snakemake, "threads", 1)))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
        if seed is not None:
            torch.manual_seed(seed)
    return logging.getLogger(f"grokmon.{snakemake.rule}")


def export_package_path(repo_root: str) -> None:
    """Prepend `repo_root`/src to PYTHONPATH so every job (local, conda env, SLURM) imports this checkout's grokmon."""
    src = os.path.join(repo_root, "src")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *paths])
