"""Tiny local files in the real formats of the paper's datasets: parquet, JSON lines (gzipped or not), JSON arrays."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq


def parquet(path, rows, schema=None) -> str:
    """Write `rows` to the parquet file `path` (parents made, `schema` optional); return the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return str(path)


def jsonl(path, rows, gz=False) -> str:
    """Write `rows` as JSON lines to `path` (parents made), gzipped if `gz`; return the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return str(path)


def json_array(path, rows) -> str:
    """Write `rows` as one indented JSON array to `path`; return the path as a string."""
    path.write_text(json.dumps(rows, indent=1))
    return str(path)
