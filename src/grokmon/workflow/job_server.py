"""A warm job server for local workflow runs: pay the torch/transformers/peft/lm-eval imports once, not per job.

Measured on the demo (issue #16): a model job's own work is 1-5 CPU-s, its imports 7-8 CPU-s, and the demo
starts 180 of them. With ``job_server: true`` (the default) the Snakefile's ``onstart`` starts `serve` in the
background; it imports `PRELOAD` once and waits on a Unix socket. Each workflow script's first statement,
`hand_off()`, connects, sends its own command (the Snakemake script file with its preamble), working directory,
environment and stdin/stdout/stderr, and waits; the server forks a child that runs that script as the job would
have, in the job's directory, environment and streams, and returns its exit status. The job's process stays
the one Snakemake started and waits for the child, so Snakemake's timing, logs, exit codes and its
cleanup of failed outputs are unchanged; killing it kills the child.

On SLURM, the snakemake process of a group job with several members (``--executor slurm-jobstep --target-jobs
A B ...``, which runs them one after another, each in its own job step on the job's node) starts a server for them
at parse time (`runs_group_members`); it ends with that process. A job runs itself, as before, where no server
answers (``job_server: false``, single SLURM jobs and other remote executors, dry runs), and where the server's
interpreter or import-time environment differ from the job's (a conda env, other CPU pins): the result never
depends on where it ran. Only the standard library here, so that `hand_off` costs nothing before it decides.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import importlib
import itertools
import json
import logging
import os
import runpy
import select
import signal
import socket
import struct
import sys
import tempfile
import traceback

SOCKET_ENV = "GROKMON_JOB_SERVER"  # the socket's path, set for the jobs of a run that started a server
CHILD_ENV = "GROKMON_JOB_SERVER_CHILD"  # set in a forked job: its hand_off runs the job itself
# What the workflow's jobs import; one import here saves it in every job. Missing ones are skipped.
PRELOAD = (
    "numpy",
    "pandas",
    "scipy.stats",
    "yaml",
    "torch",
    "transformers",
    "transformers.models.olmoe.modeling_olmoe",
    "transformers.models.olmo2.modeling_olmo2",
    "peft",
    "lm_eval",
    "lm_eval.tasks",
    "lm_eval.models.huggingface",
    "sentence_transformers",  # the matching rule's embedder
    "grokmon.routing.capture",
    "grokmon.workflow.tuning",
    "grokmon.workflow.evaluation",
    "grokmon.workflow.tables",
    "grokmon.workflow.figures",
    "grokmon.claims.verdicts",
    "grokmon.metrics.memorization",
    "grokmon.metrics.generalization",
    "grokmon.workflow.toy.pretrain",
    "snakemake.script",  # what the scripts' Snakemake preamble imports
)
# Variables that may differ between the server and a job because nothing reads them at import: the tmpdir
# Snakemake sets per job, what the job's shell sets, the terminal size. Any other difference makes the job run
# itself.
PER_JOB_ENV = frozenset(
    {"TMPDIR", "TMP", "TEMP", "TEMPDIR", "PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", SOCKET_ENV, CHILD_ENV}
)
# Set by SLURM and srun per job step (a group job's members each run in a step of their own); nothing reads them at
# import.
PER_STEP_ENV_PREFIXES = ("SLURM_", "SRUN_")
# Snakemake sets these to a job's thread count; the server imports as a one-thread job would (most jobs).
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_HEADER = struct.Struct("!I")


def hand_off() -> None:
    """Run this job in the warm server if one answers (then exit with the job's status); else return at once."""
    path = os.environ.get(SOCKET_ENV)
    if not path or os.environ.get(CHILD_ENV):
        return
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return  # no server (yet, or on this node): run here
    request = {
        "argv": sys.argv,
        "script": os.path.abspath(sys.argv[0]),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "path": sys.path,
        "executable": os.path.realpath(sys.executable),
    }
    with conn:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        _send(conn, request, fds=[0, 1, 2])
        reply = _receive(conn)
        if "refused" in reply:
            print(f"grokmon job server: runs this job itself ({reply['refused']})", file=sys.stderr)
            return
        child = reply["pid"]
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: _kill(child, signum))
        status = _receive(conn).get("status", 1)
    sys.exit(status if status >= 0 else 128 - status)


def serve(path: str, preload=PRELOAD) -> None:
    """Import `preload`, listen on the Unix socket `path` and fork one child per job until the parent exits."""
    parent = os.getppid()
    before = dict(os.environ)
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    added = {k: v for k, v in os.environ.items() if k not in before}  # what the imports set (lm_eval, torch)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the jobs; the server ends with its parent
    wake, woken = os.pipe()  # a finished child wakes the loop at once (SIGCHLD writes to `woken`)
    for fd in (wake, woken):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(woken)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.replace(path + ".tmp", path)  # the socket appears only when the server is ready
    running: dict[socket.socket, int] = {}
    while os.getppid() == parent:
        readable, _, _ = select.select([listener, wake, *running], [], [], 1.0)
        for conn in readable:
            if conn is wake:
                os.read(wake, 4096)
            elif conn is listener:
                _accept(listener, running, before, added)
            else:  # a job's process closed its end before its child finished: it was killed
                _kill(running.pop(conn), signal.SIGTERM)
                conn.close()
        _reap(running)
    for pid in running.values():
        _kill(pid, signal.SIGTERM)


def start(workdir: str, preload=PRELOAD) -> tuple[object, str]:
    """Start `serve` in the background for this run's jobs; returns (process, socket path) and sets SOCKET_ENV."""
    import subprocess

    path = os.path.join(tempfile.mkdtemp(prefix="grokmon-jobs-"), "socket")
    server = subprocess.Popen(
        [sys.executable, "-m", "grokmon.workflow.job_server", path, *preload],
        cwd=workdir,
        env=os.environ | dict.fromkeys(THREAD_ENV, "1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ[SOCKET_ENV] = path
    return server, path


def runs_group_members(argv: list[str]) -> bool:
    """Whether `argv` is the snakemake of a SLURM group job that runs several member jobs (one job step each)."""
    if "--target-jobs" not in argv or "--executor" not in argv:
        return False
    if argv[argv.index("--executor") + 1] != "slurm-jobstep":
        return False
    targets = itertools.takewhile(lambda arg: not arg.startswith("-"), argv[argv.index("--target-jobs") + 1 :])
    return len(list(targets)) > 1


def stop(server, path: str) -> None:
    """Stop a server from `start` and remove its socket."""
    os.environ.pop(SOCKET_ENV, None)
    server.terminate()
    server.wait()
    for leftover in (path, path + ".tmp"):
        if os.path.exists(leftover):
            os.remove(leftover)
    os.rmdir(os.path.dirname(path))


def _accept(listener: socket.socket, running: dict[socket.socket, int], before: dict, added: dict) -> None:
    """Fork a child for the job on a new connection, or tell it to run itself."""
    conn, _ = listener.accept()
    request, fds = _receive(conn, with_fds=True)
    refused = _refusal(request, before)
    if refused:
        _send(conn, {"refused": refused})
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in running:
            other.close()
        _run_job(request, fds, added)  # never returns
    for fd in fds:
        os.close(fd)
    _send(conn, {"pid": pid})
    running[conn] = pid


def _refusal(request: dict, server_env: dict) -> str:
    """Why this server must not run the job ("" if it may): another interpreter or import-time environment."""
    if request["executable"] != os.path.realpath(sys.executable):
        return f"its interpreter is {request['executable']}, the server's {os.path.realpath(sys.executable)}"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():  # a forked child could not use CUDA
        return "CUDA is initialized in the server"
    keys = {k for k in set(request["env"]) | set(server_env) if not k.startswith(PER_STEP_ENV_PREFIXES)} - PER_JOB_ENV
    differ = sorted(k for k in keys if request["env"].get(k) != server_env.get(k))
    return f"its environment differs in {', '.join(differ)}" if differ else ""


def _run_job(request: dict, fds: list[int], added: dict) -> None:
    """In the forked child: become the job (streams, directory, environment, argv) and run its script."""
    # It stays in Snakemake's process group, as a job does: a kill of the whole run (Ctrl-C, killpg) reaches it.
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGINT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(added | request["env"])  # as if the job had made the server's imports itself
    os.environ[CHILD_ENV] = "1"
    tempfile.tempdir = None  # re-read TMPDIR
    sys.argv, sys.path[:] = request["argv"], request["path"]
    atexit._clear()  # the server's exit handlers are not the job's
    status = 0
    try:
        runpy.run_path(request["script"], run_name="__main__")
    except SystemExit as done:
        status = _exit_status(done.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _exit_status(code) -> int:
    """The process status of `sys.exit(code)`: None -> 0, an int as is, anything else printed -> 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def _reap(running: dict[socket.socket, int]) -> None:
    """Send the status of every finished child to its job's process."""
    for conn, pid in list(running.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            del running[conn]
            with contextlib.suppress(OSError):
                _send(conn, {"status": os.waitstatus_to_exitcode(status)})
            conn.close()


def _kill(pid: int, signum: int) -> None:
    """Signal a job's child unless it has ended."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    header = _HEADER.pack(len(data))
    if fds:
        conn.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        conn.sendall(header)
    conn.sendall(data)


def _receive(conn: socket.socket, with_fds: bool = False):
    if with_fds:
        header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    else:
        header, fds = _read(conn, _HEADER.size), []
    (size,) = _HEADER.unpack(header)
    message = json.loads(_read(conn, size))
    return (message, list(fds)) if with_fds else message


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("job server: the other end closed the connection")
        data += chunk
    return data


if __name__ == "__main__":  # python -m grokmon.workflow.job_server SOCKET_PATH MODULE... (started by `start`)
    serve(sys.argv[1], sys.argv[2:])
