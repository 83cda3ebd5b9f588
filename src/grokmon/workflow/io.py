"""The workflow's artifact formats, JSON, JSONL and TSV, each written atomically (`grokmon.files.atomic`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grokmon.files.atomic import atomic_path, write_text


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
