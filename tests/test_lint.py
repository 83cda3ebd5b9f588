"""The workflow is lint-clean and formatted: `snakemake --lint` reports nothing, `snakefmt --check` passes, and the
Python code passes `ruff check` and `ruff format --check` (config in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_snakemake_lint_reports_nothing():
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_snakefmt_check_passes():
    rules = sorted(str(p) for p in (REPO / "workflow/rules").glob("*.smk"))
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", *rules], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_and_format_pass():
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([str(BIN / "ruff"), *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, f"ruff {' '.join(args)}:\n" + proc.stdout + proc.stderr
