"""The local SLURM cluster (scripts/slurm-local.sh) shared by test processes that run at the same time.

`make test-slurm` runs the SLURM tests on several pytest-xdist workers, each its own process with its own session
fixtures. Each process leases the cluster: the first to need it brings it up, and the last one to release it takes
it down, when the cluster was down before the first lease. The leases are process ids in a file beside the cluster's
state dir, read and written under an exclusive lock; a lease whose process is gone no longer counts.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-local.sh"
STATE_DIR = Path(os.environ.get("GROKMON_SLURM_DIR", "/tmp/grokmon-slurm"))  # slurm-local.sh's default
SLURM_CONF = STATE_DIR / "etc" / "slurm.conf"


def lease_file(state_dir: Path) -> Path:
    """The leases of the cluster whose state dir is `state_dir` (beside it: `down` with PURGE=1 removes the dir)."""
    return state_dir.with_name(state_dir.name + ".leases")


def acquire(script: Path, state_dir: Path) -> str | None:
    """Lease the cluster, bringing it up when no live process holds a lease; why it cannot be brought up, or None."""
    with _leases(lease_file(state_dir)) as leases:
        if not leases["pids"]:
            status = subprocess.run([str(script), "status"], capture_output=True)
            leases["started_here"] = status.returncode != 0
        up = subprocess.run([str(script), "up"], capture_output=True, text=True, timeout=600)
        if up.returncode != 0:
            return f"slurm-local.sh up exited {up.returncode}: {up.stderr.strip()[-600:]}"
        leases["pids"].append(os.getpid())
    return None


def release(script: Path, state_dir: Path) -> None:
    """End this process's lease; the last one takes the cluster down when a lease brought it up."""
    with _leases(lease_file(state_dir)) as leases:
        leases["pids"] = [pid for pid in leases["pids"] if pid != os.getpid()]
        if not leases["pids"] and leases["started_here"]:
            subprocess.run([str(script), "down"], capture_output=True, timeout=120, check=True)
            leases["started_here"] = False


@contextmanager
def _leases(path: Path) -> Iterator[dict]:
    """The lease record {"pids": [...], "started_here": bool} under an exclusive lock, live processes only; written
    back when the block ends."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        leases = json.loads(text) if text else {"pids": [], "started_here": False}
        leases["pids"] = [pid for pid in leases["pids"] if _alive(pid)]
        yield leases
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(leases))


def _alive(pid: int) -> bool:
    """Whether process `pid` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        pass
    return True
