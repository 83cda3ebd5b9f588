import time

import numpy as np
import pytest

from grokmon.files import digests

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2's example


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    (tmp_path / "t.tsv").write_bytes(b"abc")
    assert digests.file_digest(tmp_path / "t.tsv") == ABC_SHA256


def test_npz_digest_follows_the_arrays_not_the_archive_time(tmp_path, monkeypatch):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(first, loss=np.arange(4, dtype=np.float32), ids=np.array([3, 1]))
    monkeypatch.setattr(time, "time", lambda: 86400.0 * 365 * 30)  # zip entries stamped in 2000
    np.savez(second, ids=np.array([3, 1]), loss=np.arange(4, dtype=np.float32))
    assert first.read_bytes() != second.read_bytes()
    assert digests.file_digest(first) == digests.file_digest(second)


@pytest.mark.parametrize(
    "other",
    [
        {"loss": np.arange(4, dtype=np.int32)},  # same bytes, another dtype
        {"loss": np.arange(4, dtype=np.float32).reshape(2, 2)},  # another shape
        {"losses": np.arange(4, dtype=np.float32)},  # another name
        {"loss": np.array([0, 1, 2, 3.5], dtype=np.float32)},  # another value
    ],
)
def test_npz_digest_tells_arrays_apart(tmp_path, other):
    np.savez(tmp_path / "a.npz", loss=np.arange(4, dtype=np.float32))
    np.savez(tmp_path / "b.npz", **other)
    assert digests.file_digest(tmp_path / "a.npz") != digests.file_digest(tmp_path / "b.npz")


def test_artifact_digests_skip_the_files_that_vary_between_runs(tmp_path):
    run = tmp_path / "demo"
    for name in (
        "verdicts/claims.tsv",
        "logs/verdicts.log",
        "seed0/logs/routes/400.log",
        "seed0/benchmarks/lora/400.tsv",
        "seed0/eval/tasks/math/task.yaml",
        "seed0/checkpoints/segments/400/monitor.csv",
        "seed0/checkpoints/segments/400/train_state.pt",
        "seed0/figures/fig1_memorization.png",
        "config.resolved.yaml",
    ):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(b"abc")
    assert digests.artifact_digests(run) == {"verdicts/claims.tsv": ABC_SHA256}


def test_record_round_trips_sorted(tmp_path):
    found = {"seed0/b.tsv": "2" * 64, "a.tsv": "1" * 64}
    digests.write_digests(found, tmp_path / "record.sha256")
    assert (tmp_path / "record.sha256").read_text() == f"{'1' * 64}\ta.tsv\n{'2' * 64}\tseed0/b.tsv\n"
    assert digests.read_digests(tmp_path / "record.sha256") == found


def test_missing_run_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run directory .*nowhere"):
        digests.artifact_digests(tmp_path / "nowhere")
