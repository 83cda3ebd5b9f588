"""The warm job server (grokmon.workflow.job_server): a job handed to it runs as the job would have, or runs itself."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grokmon.workflow import job_server

SRC = str(Path(__file__).resolve().parents[1] / "src")
# A workflow script in miniature: hand off first, then say where it ran, then exit with argv[1].
SCRIPT = """
from grokmon.workflow.job_server import hand_off

hand_off()
import os, sys, time

where = "child" if os.environ.get("GROKMON_JOB_SERVER_CHILD") else "itself"
print("ran", where, os.getcwd(), os.getpid(), os.environ.get("SET_BY_AN_IMPORT"), flush=True)
if sys.argv[1] == "raise":
    raise RuntimeError("the job failed")
if sys.argv[1] == "sleep":
    open("pid", "w").write(str(os.getpid()))
    time.sleep(60)
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A job server preloading `json` and a module that sets a variable, for one test; yields a job's environment."""
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "sets_a_variable.py").write_text("import os\nos.environ['SET_BY_AN_IMPORT'] = 'yes'\n")
    monkeypatch.setenv("PYTHONPATH", f"{SRC}:{tmp_path / 'modules'}")
    process, path = job_server.start(str(tmp_path), preload=["json", "sets_a_variable"])
    try:
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        assert os.path.exists(path), "the server did not come up"
        yield os.environ | dict.fromkeys(job_server.THREAD_ENV, "1")  # as Snakemake starts a one-thread job
    finally:
        job_server.stop(process, path)
        assert not os.path.exists(os.path.dirname(path))


def run_job(tmp_path, env, arg):
    """Run SCRIPT with `arg` as Snakemake would (its own process, cwd tmp_path/job); returns the finished process."""
    (tmp_path / "job").mkdir(exist_ok=True)
    script = tmp_path / "job" / "script.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), arg], cwd=tmp_path / "job", env=env, capture_output=True, text=True, timeout=60
    )


def test_a_job_runs_in_a_forked_child_with_its_directory_streams_and_status(tmp_path, server):
    done = run_job(tmp_path, server, "3")
    word, where, cwd, pid, added = done.stdout.split()
    assert (word, where, cwd, added, done.returncode) == ("ran", "child", str(tmp_path / "job"), "yes", 3)
    assert int(pid) != os.getpid()


def test_a_failing_job_prints_its_traceback_and_exits_1(tmp_path, server):
    done = run_job(tmp_path, server, "raise")
    assert done.returncode == 1
    assert done.stdout.split()[1] == "child"
    assert "RuntimeError: the job failed" in done.stderr


def test_a_job_whose_environment_differs_runs_itself(tmp_path, server):
    done = run_job(tmp_path, server | {"OMP_NUM_THREADS": "7"}, "0")  # a two-thread job, say
    assert done.returncode == 0
    assert done.stdout.split()[1] == "itself"
    assert "environment differs in OMP_NUM_THREADS" in done.stderr


def test_shell_and_tmpdir_variables_do_not_matter(tmp_path, server):
    done = run_job(tmp_path, server | {"TMPDIR": str(tmp_path), "TEMPDIR": str(tmp_path), "PWD": "/", "_": "x"}, "0")
    assert done.stdout.split()[1] == "child"


def test_slurm_step_variables_do_not_matter(tmp_path, server):
    step = {"SLURM_STEP_ID": "3", "SLURM_STEPID": "3", "SRUN_DEBUG": "3", "SLURM_CPU_BIND": "quiet,none"}
    done = run_job(tmp_path, server | step, "0")
    assert done.stdout.split()[1] == "child"
    done = run_job(tmp_path, server | {"SLURMX": "1"}, "0")  # only the SLURM_ and SRUN_ prefixes
    assert done.stdout.split()[1] == "itself"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # the snakemake of a SLURM group job of three members, as the slurm executor submits it
        (
            ["-m", "snakemake", "--target-jobs", "a:i=1", "a:i=2", "b:", "--cores", "1", "--executor", "slurm-jobstep"],
            1,
        ),
        (["--target-jobs", "a:i=1", "--executor", "slurm-jobstep", "--jobs", "1"], 0),  # a single SLURM job
        (["--target-jobs", "a:i=1", "a:i=2", "--mode", "remote"], 0),  # a member's own snakemake, in its job step
        (["--target-jobs", "a:i=1", "a:i=2", "--executor", "local"], 0),
        (["--cores", "2", "--configfile", "config/test.yaml"], 0),  # a local run
    ],
)
def test_runs_group_members_only_for_a_slurm_group_jobs_snakemake(argv, expected):
    assert job_server.runs_group_members(argv) is bool(expected)


def test_without_a_server_a_job_runs_itself(tmp_path, monkeypatch):
    env = dict(os.environ, PYTHONPATH=SRC, GROKMON_JOB_SERVER=str(tmp_path / "no-socket"))
    done = run_job(tmp_path, env, "4")
    assert "None" in done.stdout.split()
    assert (done.stdout.split()[1], done.returncode) == ("itself", 4)


def test_killing_the_job_kills_its_child(tmp_path, server):
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "script.py").write_text(SCRIPT)
    job = subprocess.Popen([sys.executable, "script.py", "sleep"], cwd=tmp_path / "job", env=server)
    pid_file = tmp_path / "job" / "pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert child != job.pid
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=30) != 0
    for _ in range(200):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the job's child {child} outlived the job")
