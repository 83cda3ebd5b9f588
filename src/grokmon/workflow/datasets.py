"""Loaders for the paper's data (Table 2 and the SFT sets) from the hub or local parquet/json, driven by spec dicts.

A spec names a source (`dataset` hub id, or `format` + local `data_files`; see SOURCE_DEFAULTS) and how to read
rows from it. Samples are drawn in a seeded order: a permutation of the rows (map-style) or `datasets`' shard +
buffer shuffle (streaming), then the first `n` rows that pass the filters are kept, so a smaller `n` gives a
prefix of a larger one. The JSON schema of these specs is `workflow/schemas/paper_data.schema.yaml`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

FORMATS = ("parquet", "json")
SOURCE_DEFAULTS = {
    "dataset": None,
    "data_files": None,
    "format": None,
    "config": None,
    "data_dir": None,
    "revision": None,
    "split": "train",
    "streaming": False,
    "shuffle_buffer": 10_000,
    "n": None,
}
TEXT_DEFAULTS = {
    **SOURCE_DEFAULTS,
    "text_field": "text",
    "id_field": None,
    "keyword": None,
    "max_chars": None,
    "dedupe": False,
}
SFT_DEFAULTS = {
    **SOURCE_DEFAULTS,
    "prompt_field": "prompt",
    "input_field": None,
    "response_field": "response",
}
FIELD_SEPARATOR = "\n\n"


def load_text_samples(spec: Mapping, seed: int) -> list[dict]:
    """Seeded sample of at most `n` rows as [{"id": str, "text": str}]; id = the row's `id_field` or its row index."""
    s = _resolve(spec, TEXT_DEFAULTS, "spec")
    fields = [s["text_field"]] if isinstance(s["text_field"], str) else list(s["text_field"])
    if not fields or not all(isinstance(f, str) and f for f in fields):
        raise ValueError(f"spec.text_field must be a field name or a non-empty list of them, got {s['text_field']!r}")
    keyword = s["keyword"]
    if keyword is not None and (
        not isinstance(keyword, Mapping)
        or set(keyword) - {"field", "contains", "ignore_case"}
        or not isinstance(keyword.get("field"), str)
        or not isinstance(keyword.get("contains"), str)
    ):
        raise ValueError(f"spec.keyword must be {{field, contains[, ignore_case]}}, got {keyword!r}")
    if s["max_chars"] is not None and not _positive_int(s["max_chars"]):
        raise ValueError(f"spec.max_chars must be a positive int or null, got {s['max_chars']!r}")
    if s["streaming"] and s["shuffle_buffer"] and s["id_field"] is None:
        raise ValueError("spec.id_field is required when streaming with a shuffle buffer (row indexes are not stable)")
    columns = fields + ([s["id_field"]] if s["id_field"] else []) + ([keyword["field"]] if keyword else [])

    ds = _open(s, columns)
    first = _first_occurrences(ds, fields) if s["dedupe"] and not s["streaming"] else None
    samples, seen = [], set()
    for index, row in _ordered_rows(ds, s, seed):
        text = _text(row, fields)
        if not text.strip() or (keyword and not _contains(row, keyword)):
            continue
        if s["dedupe"]:
            if text in seen or (first is not None and first[text] != index):
                continue
            seen.add(text)
        ident = index if s["id_field"] is None else _field(row, s["id_field"], "spec.id_field", text_only=False)
        samples.append({"id": str(ident), "text": text[: s["max_chars"]]})
        if len(samples) == s["n"]:
            break
    return samples


def load_sft_pairs(spec: Mapping, seed: int) -> list[dict]:
    """Seeded sample of at most `n` instruction pairs as [{"prompt": str, "response": str}].

    prompt = prompt_field, followed by "\\n\\n" + input_field when that is non-empty (alpaca's instruction/input).
    """
    s = _resolve(spec, SFT_DEFAULTS, "spec")
    names = {k: s[k] for k in ("prompt_field", "input_field", "response_field") if s[k] is not None}
    for key, name in names.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"spec.{key} must be a field name, got {name!r}")
    pairs = []
    for _, row in _ordered_rows(_open(s, list(names.values())), s, seed):
        prompt = _field(row, s["prompt_field"], "spec.prompt_field")
        extra = _field(row, s["input_field"], "spec.input_field") if s["input_field"] else ""
        response = _field(row, s["response_field"], "spec.response_field")
        if not prompt.strip() or not response.strip():
            continue
        pairs.append({"prompt": prompt + (FIELD_SEPARATOR + extra if extra.strip() else ""), "response": response})
        if len(pairs) == s["n"]:
            break
    return pairs


def _resolve(spec: Mapping, defaults: dict, name: str) -> dict:
    """Fill defaults (None counts as absent) and check the source keys."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; allowed: {sorted(defaults)}")
    s = {k: (spec[k] if spec.get(k) is not None else v) for k, v in defaults.items()}
    if s["dataset"] is None and s["data_files"] is None:
        raise ValueError(f"{name} needs `dataset` (a hub id) or `data_files` (local files)")
    if s["dataset"] is None and s["format"] not in FORMATS:
        raise ValueError(f"{name}.format must be one of {FORMATS} for local data_files, got {s['format']!r}")
    if s["n"] is not None and not _positive_int(s["n"]):
        raise ValueError(f"{name}.n must be a positive int or null, got {s['n']!r}")
    if not isinstance(s["shuffle_buffer"], int) or s["shuffle_buffer"] < 0:
        raise ValueError(f"{name}.shuffle_buffer must be a non-negative int, got {s['shuffle_buffer']!r}")
    return s


def _open(s: dict, columns: list[str]):
    """The spec's split as a (streaming or map-style) dataset restricted to the top-level `columns`."""
    import datasets

    data_files = s["data_files"]
    if s["dataset"] is None and isinstance(data_files, (str, list)):
        data_files = {s["split"]: data_files}
    ds = datasets.load_dataset(
        s["dataset"] or s["format"],
        name=s["config"],
        data_dir=s["data_dir"],
        data_files=data_files,
        revision=s["revision"],
        split=s["split"],
        streaming=bool(s["streaming"]),
    )
    top = list(dict.fromkeys(c.split(".")[0] for c in columns))
    missing = [c for c in top if c not in (ds.column_names or top)]
    if missing:
        raise ValueError(f"spec names fields {missing} that the data does not have (columns: {ds.column_names})")
    return ds.select_columns(top)


def _ordered_rows(ds, s: dict, seed: int) -> Iterator[tuple[int, dict]]:
    """Yield (row index, row) in the seeded order: a permutation (map-style) or the shuffled stream."""
    if s["streaming"]:
        if s["shuffle_buffer"]:
            ds = ds.shuffle(seed=seed, buffer_size=s["shuffle_buffer"])
        yield from enumerate(ds)
    else:
        for index in np.random.default_rng(seed).permutation(len(ds)):
            yield int(index), ds[int(index)]


def _first_occurrences(ds, fields: list[str]) -> dict[str, int]:
    """Map each text of a map-style dataset to the lowest row index holding it (dedupe keeps that row)."""
    first: dict[str, int] = {}
    for index, row in enumerate(ds):
        first.setdefault(_text(row, fields), index)
    return first


def _text(row: Mapping, fields: list[str]) -> str:
    """The non-empty text fields of a row joined by a blank line."""
    return FIELD_SEPARATOR.join(t for t in (_field(row, f, "spec.text_field") for f in fields) if t)


def _field(row: Mapping, path: str, name: str, text_only: bool = True):
    """Value at a dotted `path` of a row (nested structs); null gives ""; text fields must be strings."""
    value = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ValueError(f"{name}: the data has no field {path!r}")
        value = value[part]
    if value is None:
        return ""
    if text_only and not isinstance(value, str):
        raise ValueError(f"{name}: field {path!r} holds {type(value).__name__}, not text")
    return value


def _contains(row: Mapping, keyword: Mapping) -> bool:
    value = _field(row, keyword["field"], "spec.keyword.field")
    if keyword.get("ignore_case"):
        return keyword["contains"].casefold() in value.casefold()
    return keyword["contains"] in value


def _positive_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0
