"""The recorded digests of config/test.yaml's artifacts (tests/fixtures/test_config.sha256, `make test-record`): the
bytes every run of this commit writes, on any x86-64 machine, locally or through the SLURM profile."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO

from grokmon.files.digests import artifact_digests, read_digests

RECORD = REPO / "tests" / "fixtures" / "test_config.sha256"


def assert_matches_record(run_dir: Path) -> None:
    """Fail naming the artifacts of the run in `run_dir` (results/test) that are missing, new or differ from RECORD."""
    expected, found = read_digests(RECORD), artifact_digests(run_dir)
    differ = sorted(p for p in expected.keys() & found.keys() if expected[p] != found[p])
    missing, new = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    assert not (differ or missing or new), (
        f"{run_dir} does not match {RECORD.relative_to(REPO)}: {len(differ)} differ {differ[:12]}, "
        f"{len(missing)} missing {missing[:12]}, {len(new)} new {new[:12]}. If the change moves the test config's "
        "results on purpose, run `make test-record` and commit the record with it."
    )
