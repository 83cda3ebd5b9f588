"""Atomic artifact writers: every file appears whole or not at all (write to a temp file, then rename)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; swap it into place of `path` (replacing it)
    only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_jsonl(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line atomically."""
    write_text(path, "".join(json.dumps(dict(r), default=_jsonable) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL file into a list of its rows (blank lines skipped); see `iter_jsonl` for the errors."""
    return [row for _, row in iter_jsonl(path)]


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed row) of every non-blank line of a JSONL file; a line that is not JSON or not
    UTF-8 raises ValueError naming the file and the line."""
    with open(path, encoding="utf-8") as f:
        number = 0
        try:
            for number, line in enumerate(f, 1):
                if line.strip():
                    yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} line {number}: not valid JSON ({error.msg} at column {error.colno})") from None
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} near line {number + 1}: not UTF-8 text ({error.reason})") from None


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save named arrays to an uncompressed .npz atomically (no pickled objects)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an .npz into a dict (pickles refused)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write_tsv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as TSV atomically (no index column)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def read_tsv(path: str | os.PathLike):
    """Read a TSV written by `write_tsv` into a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(path, sep="\t")


def concat_tables(parts: Iterable[str | os.PathLike], path: str | os.PathLike) -> None:
    """Write the text tables `parts` (CSV/TSV, one header line each, all the same) as one table at `path`
    atomically: the header once, then every part's rows in order."""
    texts = [Path(part).read_text() for part in parts]
    if not texts:
        raise ValueError("concat_tables: no parts")
    headers = {text.partition("\n")[0] for text in texts}
    if len(headers) != 1:
        raise ValueError(f"concat_tables: the parts have different headers: {sorted(headers)}")
    write_text(path, texts[0].partition("\n")[0] + "\n" + "".join(text.partition("\n")[2] for text in texts))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
