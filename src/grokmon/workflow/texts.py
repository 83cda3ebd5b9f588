"""Which text of a data row the model reads when its routes are captured."""

from __future__ import annotations


def split_texts(split: str, rows: list[dict]) -> list[str]:
    """Texts of one split: `text` for train/validation samples, `question` for test (benchmark) items."""
    field = {"train": "text", "validation": "text", "test": "question"}.get(split)
    if field is None:
        raise ValueError(f"split must be one of train, validation, test; got {split!r}")
    if not rows:
        raise ValueError(f"split {split!r} has no rows")
    return [row[field] for row in rows]
