"""Test-wide settings: portable CPU numerics (one thread), offline hub."""

import os

from grokmon.workflow import numerics

# Before torch and numpy load (they read it once); subprocesses (workflow runs, CLI calls) inherit it.
numerics.apply("portable")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the pinned environment always has torch
    pass


import subprocess  # noqa: E402 - after the numerics pins above
import sys  # noqa: E402 - after the numerics pins above
from pathlib import Path  # noqa: E402 - after the numerics pins above

import pytest  # noqa: E402 - after the numerics pins above

# The shared helpers (tests/helpers/) assert too: pytest rewrites their asserts, as a test module's, for its messages.
pytest.register_assert_rewrite("helpers")
from helpers.slurm_cluster import SCRIPT, STATE_DIR, acquire, release  # noqa: E402 - after the rewrite is registered

REPO = Path(__file__).resolve().parents[1]
# The slowest modules (`make test --durations`), collected first: on pytest-xdist's workers (one file each, in
# collection order) they then run beside the fast ones instead of after them.
SLOW_MODULES = ("test_workflow.py", "test_paper_end_to_end.py", "test_numerics.py", "test_verdict_calibration.py")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TEST_CONFIG = REPO / "config" / "test.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect SLOW_MODULES first, in that order; every other test keeps its place."""
    items.sort(
        key=lambda item: SLOW_MODULES.index(item.path.name) if item.path.name in SLOW_MODULES else len(SLOW_MODULES)
    )


def snakemake_cmd(workdir: Path, *args: str, configfile: Path = TEST_CONFIG) -> list[str]:
    """The command line that runs the repository's workflow in `workdir` with `configfile`."""
    return [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]


def run_snakemake(
    workdir: Path, *args: str, configfile: Path = TEST_CONFIG, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir`; on failure, show its output and the logs of failed jobs."""
    proc = subprocess.run(snakemake_cmd(workdir, *args, configfile=configfile), capture_output=True, text=True)
    if check and proc.returncode != 0:
        logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "results").rglob("*.log"))[-5:])
        pytest.fail(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}\n{logs}")
    return proc


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """The whole workflow run once locally on config/test.yaml; returns the working directory."""
    workdir = tmp_path_factory.mktemp("workflow")
    run_snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def slurm_cluster(request):
    """The local SLURM cluster (scripts/slurm-local.sh) for the `slurm` tests, leased for the session: shared with the
    test processes that run at the same time, taken down by the last of them when none found it up."""
    if "slurm" not in (request.config.option.markexpr or ""):
        pytest.skip("opt-in (installs slurm-wlm, starts daemons, minutes): make test-slurm")
    unavailable = acquire(SCRIPT, STATE_DIR)
    if unavailable:
        pytest.skip(f"no local SLURM cluster ({unavailable})")
    yield
    release(SCRIPT, STATE_DIR)
