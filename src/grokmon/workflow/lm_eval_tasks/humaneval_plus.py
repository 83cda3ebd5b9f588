"""HumanEval+ grading for lm-eval: run prompt + completion + test + check(entry_point) in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

TIMEOUT_S = 10.0


def program(doc: Mapping, completion: str) -> str:
    """The Python source that passes iff the completed function passes the problem's tests."""
    return f"{doc['prompt']}{completion}\n\n{doc['test']}\n\ncheck({doc['entry_point']})\n"


def run_program(source: str, timeout_s: float = TIMEOUT_S) -> bool:
    """True iff `source` exits with status 0 within `timeout_s` seconds (isolated interpreter, scratch cwd)."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    with tempfile.TemporaryDirectory(prefix="grokmon_humaneval_") as scratch:
        script = Path(scratch) / "candidate.py"
        script.write_text(source)
        try:
            done = subprocess.run(
                [sys.executable, "-I", str(script)],
                cwd=scratch,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def process_results(doc: Mapping, results: Sequence[str]) -> dict[str, float]:
    """lm-eval hook: {"pass@1": 1.0 if the greedy completion passes the tests else 0.0}."""
    return {"pass@1": float(run_program(program(doc, results[0])))}
