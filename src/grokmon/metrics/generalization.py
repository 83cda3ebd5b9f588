"""Generalization step t# per test item from its correctness across checkpoints (paper Sec. 3.1, App. B)."""

from __future__ import annotations

import numpy as np

from grokmon.metrics.memorization import groups
from grokmon.metrics.validation import as_array, check_int, check_number

__all__ = ["accuracy_curve", "generalization_index", "groups"]


def generalization_index(
    correct: np.ndarray, min_accuracy: float = 0.8, max_errors: int = 1, include_final: bool = False
) -> np.ndarray:
    """t#[n_items] (int64 checkpoint indices, -1 = never) from correct {0,1}[n_ckpt, n_items] (last row = T).

    t#_j is the earliest checkpoint t with correct[t, j] == 1 such that over checkpoints t..T the
    mean accuracy is > min_accuracy (strictly) and the number of errors is <= max_errors
    ("becomes correct and stays correct"). An item that qualifies only at T (first right at T) is
    left out (-1): the paper keeps items that become correct before pretraining ends;
    include_final=True gives it t# = T (config `generalization.include_final`).
    """
    correct = _check_correct(correct)
    min_accuracy = check_number("min_accuracy", min_accuracy, 0, 1, high_open=True)
    max_errors = check_int("max_errors", max_errors, 0)
    n_ckpt = correct.shape[0]
    errors = np.cumsum((~correct)[::-1], axis=0)[::-1]  # errors[t] = wrong answers in t..T
    length = (n_ckpt - np.arange(n_ckpt))[:, None]
    ok = correct & (errors <= max_errors) & (1.0 - errors / length > min_accuracy)
    if not include_final:
        ok[-1] = False
    return np.where(ok.any(axis=0), ok.argmax(axis=0), -1).astype(np.int64)


def accuracy_curve(correct: np.ndarray) -> np.ndarray:
    """Mean accuracy float[n_ckpt] (0..1) over items of correct {0,1}[n_ckpt, n_items]."""
    return _check_correct(correct).mean(axis=1)


def _check_correct(correct: np.ndarray) -> np.ndarray:
    correct = as_array("correct", correct, 2, dtype=None, shape_doc="[n_ckpt, n_items]")
    if not np.isin(correct, (0, 1)).all():
        raise ValueError("correct must hold only 0/1 (or bool) values")
    return correct.astype(bool)
