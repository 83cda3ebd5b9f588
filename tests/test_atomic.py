import os

import numpy as np
import pytest

from grokmon.files import atomic


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
