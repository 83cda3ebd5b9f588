import numpy as np
import pytest

from grokmon import io


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a" / "x.npz"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("crash")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_npz_roundtrip(tmp_path):
    io.save_npz(tmp_path / "r.npz", a=np.arange(3, dtype=np.float32))
    back = io.load_npz(tmp_path / "r.npz")
    assert back["a"].dtype == np.float32 and back["a"].tolist() == [0.0, 1.0, 2.0]
