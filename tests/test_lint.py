"""The workflow is lint-clean and formatted: `snakemake --lint` reports nothing, `snakefmt --check` passes."""

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
