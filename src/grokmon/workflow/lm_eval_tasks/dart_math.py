"""DART-Math grading for lm-eval: one doc per distinct query, \\boxed{} / "The answer is:" answers vs `gt_ans`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lm_eval.tasks.hendrycks_math.utils import is_equiv, last_boxed_only_string, remove_boxed

_ANSWER_IS = re.compile(r"The answer is:?\s*(.+?)\s*$", re.MULTILINE)


def process_docs(dataset):
    """lm-eval hook: keep the first row of each distinct `query` as {"id": row index, "question", "answer"}."""
    first: dict[str, int] = {}
    for index, query in enumerate(dataset["query"]):
        first.setdefault(query, index)
    ids = sorted(first.values())
    kept = dataset.select(ids)
    return kept.map(
        lambda row, i: {"id": ids[i], "question": row["query"], "answer": row["gt_ans"]},
        with_indices=True,
        remove_columns=kept.column_names,
    )


def extract_answer(response: str) -> str | None:
    """The content of the last \\boxed{...} of a response, else its last "The answer is: X", else None."""
    boxed = last_boxed_only_string(response)
    if boxed is not None:
        try:
            return remove_boxed(boxed)
        except AssertionError:  # \fbox{...}, which remove_boxed does not strip
            return None
    found = _ANSWER_IS.findall(response)
    return found[-1].rstrip(".") if found else None


def is_correct(response: str, answer: str) -> bool:
    """True iff the extracted answer equals `answer` after the hendrycks_math normalisation."""
    extracted = extract_answer(response)
    return extracted is not None and is_equiv(extracted, answer)


def process_results(doc: Mapping, results: Sequence[str]) -> dict[str, int]:
    """lm-eval hook: {"exact_match": 1 if the greedy response's answer equals the doc's answer else 0}."""
    return {"exact_match": int(is_correct(results[0], doc["answer"]))}
