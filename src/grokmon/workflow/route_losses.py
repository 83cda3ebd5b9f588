"""The loss matrix of the memorization rule: per-sample losses from a run's routes .npz files, one per checkpoint."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from grokmon.files import atomic

LOSS_KEYS = {"sequence": "nll", "answer": "answer_nll"}  # memorization.loss_span -> key of a routes .npz


def loss_matrix(routes: Sequence[str | os.PathLike], span: str = "sequence") -> np.ndarray:
    """loss float32[n_ckpt, n] from one routes .npz (a saved `RouteCapture`) per checkpoint, in checkpoint order:
    its nll (span "sequence": whole-text mean NLL, the paper's rule) or answer_nll
    (span "answer": answer tokens only)."""
    if span not in LOSS_KEYS:
        raise ValueError(f"memorization.loss_span: expected one of {', '.join(map(repr, LOSS_KEYS))}, got {span!r}")
    if not routes:
        raise ValueError("routes: need at least one checkpoint")
    rows = []
    for path in routes:
        z = atomic.load_npz(path)
        if LOSS_KEYS[span] not in z:
            raise ValueError(
                f"memorization.loss_span is {span!r} but {path} has no {LOSS_KEYS[span]} "
                "(captured without answer spans: only toy train/validation rows with answer_char have one)"
            )
        rows.append(z[LOSS_KEYS[span]])
    loss = np.stack(rows).astype(np.float32)
    missing = ~np.isfinite(loss).all(axis=0)
    if span == "answer" and missing.any():
        raise ValueError(
            f"memorization.loss_span is 'answer' but {int(missing.sum())} sample(s) have no answer token within "
            f"routes.max_length (answer_nll is NaN), e.g. sample {int(np.flatnonzero(missing)[0])}: "
            "raise routes.max_length"
        )
    return loss
