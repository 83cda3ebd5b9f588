"""Leases of the local SLURM cluster shared by concurrent test processes (helpers.slurm_cluster), on a stand-in for
scripts/slurm-local.sh that records its calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.slurm_cluster import acquire, lease_file, release

TESTS = Path(__file__).resolve().parent  # holds the helpers package
# status exits 0 when up and 3 when not, as slurm-local.sh does; up fails with exit 2 when FAIL_UP is set
STAND_IN = """#!/usr/bin/env bash
here=$(dirname "$0")
echo "$1" >> "$here/calls"
case $1 in
status) [[ -e $here/up ]] || exit 3 ;;
up) [[ -z ${FAIL_UP:-} ]] || { echo "slurm-local: cannot host a cluster here: not root" >&2; exit 2; }
    touch "$here/up" ;;
down) rm -f "$here/up" ;;
esac
"""
HOLDER = """
import sys
from pathlib import Path
from helpers.slurm_cluster import acquire, release
script, state = Path(sys.argv[1]), Path(sys.argv[2])
print(acquire(script, state), flush=True)
sys.stdin.readline()
release(script, state)
"""


@pytest.fixture
def cluster(tmp_path):
    """(stand-in script, state dir, its calls so far as a function)."""
    script = tmp_path / "slurm-local.sh"
    script.write_text(STAND_IN)
    script.chmod(0o755)

    def calls() -> list[str]:
        log = tmp_path / "calls"
        return log.read_text().split() if log.exists() else []

    return script, tmp_path / "state", calls


def test_a_lone_lease_brings_the_cluster_up_and_takes_it_down(cluster):
    script, state, calls = cluster
    assert acquire(script, state) is None
    assert calls() == ["status", "up"]
    assert json.loads(lease_file(state).read_text())["pids"] == [os.getpid()]
    release(script, state)
    assert calls() == ["status", "up", "down"]
    assert json.loads(lease_file(state).read_text()) == {"pids": [], "started_here": False}


def test_a_cluster_that_was_up_stays_up(cluster):
    script, state, calls = cluster
    (script.parent / "up").touch()
    assert acquire(script, state) is None
    release(script, state)
    assert calls() == ["status", "up"]
    assert (script.parent / "up").exists()


def test_the_last_of_two_processes_takes_the_cluster_down(cluster):
    script, state, calls = cluster
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(script), str(state)],
        env=os.environ | {"PYTHONPATH": str(TESTS)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "None\n"  # the other process brought the cluster up
        assert acquire(script, state) is None
        assert calls() == ["status", "up", "up"]  # a live lease: no status check, `up` is a no-op
        release(script, state)
        assert calls() == ["status", "up", "up"]  # the other process still holds the cluster
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    assert calls() == ["status", "up", "up", "down"]


def test_a_dead_process_lease_does_not_count(cluster):
    script, state, calls = cluster
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease_file(state).write_text(json.dumps({"pids": [int(finished.stdout)], "started_here": False}))
    assert acquire(script, state) is None
    release(script, state)
    assert calls() == ["status", "up", "down"]


def test_a_cluster_that_cannot_come_up_says_why_and_takes_no_lease(cluster, monkeypatch):
    script, state, calls = cluster
    monkeypatch.setenv("FAIL_UP", "1")
    assert acquire(script, state) == "slurm-local.sh up exited 2: slurm-local: cannot host a cluster here: not root"
    assert json.loads(lease_file(state).read_text())["pids"] == []
