"""Content digests of a run's artifacts: what two runs of one commit and seed (two machines, a local run and a SLURM
run) must share bit for bit, and a record of it to check a run against.

``python -m grokmon.files.digests RESULTS_DIR [RECORD]`` writes the digests of the run in RESULTS_DIR (e.g.
results/demo) to RECORD (default: standard output), one "sha256<TAB>path" line per artifact.
"""

from __future__ import annotations

import hashlib
import os
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from grokmon.files.atomic import atomic_path

# Files whose bytes change from one run to another where no computation does (paths relative to the run's directory):
# logs and timings, the seconds of pretraining's monitor and of tuning, absolute paths (the lm-eval task files, the
# resolved config), Snakemake's markers, figures (their bytes follow the fonts and the matplotlib build), and the
# pretraining segments' training states (torch.save names the archive's folder after the temporary file; the weights
# are in the checkpoints).
VARYING = (
    "logs/*",
    "*/logs/*",
    "benchmarks/*",
    "*/benchmarks/*",
    "*.log",
    "*.snakemake_timestamp",
    "*.png",
    "config.resolved.yaml",
    "*/eval/tasks/*",
    "*/monitor.csv",
    "*/train_stats.json",
    "*/train_state.pt",
)


def file_digest(path: str | os.PathLike) -> str:
    """sha256 (hex) of the file's bytes; of an .npz, of its arrays' names, dtypes, shapes and bytes (the archive
    stores the time it was written)."""
    digest = hashlib.sha256()
    if str(path).endswith(".npz"):
        with np.load(path, allow_pickle=False) as arrays:
            for name in sorted(arrays.files):
                array = np.ascontiguousarray(arrays[name])
                digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
                digest.update(array.tobytes())
    else:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def artifact_digests(results_dir: str | os.PathLike) -> dict[str, str]:
    """{path relative to `results_dir` (posix): `file_digest`} of every file below it but the `VARYING` ones."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no run directory {root}")
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return {p: file_digest(root / p) for p in paths if not any(fnmatch(p, pattern) for pattern in VARYING)}


def write_digests(digests: dict[str, str], path: str | os.PathLike) -> None:
    """Write `digests` as sorted "sha256<TAB>path" lines, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(_lines(digests))


def read_digests(path: str | os.PathLike) -> dict[str, str]:
    """The {path: sha256} of a `write_digests` file."""
    rows = (line.split("\t") for line in Path(path).read_text().splitlines() if line)
    return {name: sha for sha, name in rows}


def _lines(digests: dict[str, str]) -> str:
    return "".join(f"{sha}\t{name}\n" for name, sha in sorted(digests.items()))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m grokmon.files.digests RESULTS_DIR [RECORD]")
    found = artifact_digests(sys.argv[1])
    if len(sys.argv) == 3:
        write_digests(found, sys.argv[2])
    else:
        sys.stdout.write(_lines(found))
