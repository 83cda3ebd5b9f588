import os

import numpy as np
import pytest

from grokmon.files import atomic
from grokmon.workflow import io as workflow_io


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a" / "x.npz"
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("crash")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_npz_roundtrip(tmp_path):
    atomic.save_npz(tmp_path / "r.npz", a=np.arange(3, dtype=np.float32))
    back = atomic.load_npz(tmp_path / "r.npz")
    assert back["a"].dtype == np.float32 and back["a"].tolist() == [0.0, 1.0, 2.0]


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "adapter"
    with atomic.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), atomic.atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("partial")
        raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic.atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("second")
    assert [p.name for p in target.iterdir()] == ["c.txt"]


def test_atomic_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "t.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "t.txt").stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK


def test_concat_tables_keeps_one_header_and_refuses_parts_with_another(tmp_path):
    (tmp_path / "a.csv").write_text("step,loss\n1,2.5\n")
    (tmp_path / "b.csv").write_text("step,loss\n")
    (tmp_path / "c.csv").write_text("step,loss\n2,2.25\n3,2\n")
    workflow_io.concat_tables([tmp_path / f"{name}.csv" for name in "abc"], tmp_path / "all.csv")
    assert (tmp_path / "all.csv").read_text() == "step,loss\n1,2.5\n2,2.25\n3,2\n"
    (tmp_path / "d.csv").write_text("step,aux\n4,0\n")
    with pytest.raises(ValueError, match="different headers"):
        workflow_io.concat_tables([tmp_path / "a.csv", tmp_path / "d.csv"], tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()
