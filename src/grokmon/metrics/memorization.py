"""Memorization step t* per pretraining sample from its loss across checkpoints (paper Sec. 3.1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokmon.metrics.validation import as_array, check_bool, check_choice, check_finite, check_int, check_number

MAX_GRID = 100_000  # epsilon values calibrate_epsilon tries at most (the paper's 0.1-nat steps up to 10 nats: 100)


@dataclass(frozen=True)
class EpsilonCalibration:
    """Result of `calibrate_epsilon`: the chosen epsilon (nats), its memorized fraction,
    and whether it lies in the target."""

    epsilon: float
    fraction: float
    in_target: bool


def memorization_index(
    loss: np.ndarray, epsilon: float, delta: float = 0.05, include_final: bool = False
) -> np.ndarray:
    """t*[n] (int64 checkpoint indices, -1 = never) from loss float[n_ckpt, n]
    (mean token NLL, nats >= 0; last row = T).

    t*_i is the earliest checkpoint t such that for every t' >= t: loss[t', i] <= epsilon and
    |loss[t', i] - loss[T, i]| <= delta. Comparisons are exact (no tolerance); epsilon > 0 and delta >= 0
    (nats). A sample whose condition holds only at T (t* = T) is not memorized (-1), as in the paper,
    which counts and groups samples memorized before T; include_final=True keeps t* = T
    (config `memorization.include_final`).
    """
    loss = _check_loss(loss)
    epsilon = check_number("epsilon", epsilon, 0, low_open=True)
    delta = check_number("delta", delta, 0)
    include_final = check_bool("include_final", include_final)
    ok = (loss <= epsilon) & (np.abs(loss - loss[-1]) <= delta)
    # stays[t, i]: the condition holds at every checkpoint from t to T; it is monotone in t.
    stays = np.logical_and.accumulate(ok[::-1], axis=0)[::-1]
    n_stay = stays.sum(axis=0)
    t_index = np.where(n_stay > 0, loss.shape[0] - n_stay, -1)
    if not include_final:
        t_index[t_index == loss.shape[0] - 1] = -1
    return t_index.astype(np.int64)


def memorized_fraction_before_final(t_index: np.ndarray, n_ckpt: int) -> float:
    """Fraction (0..1) of samples in t_index int[n] memorized strictly before the final checkpoint
    (0 <= t* < n_ckpt - 1)."""
    t_index = _check_index(t_index, "t_index")
    n_ckpt = check_int("n_ckpt", n_ckpt, 1)
    if t_index.max() >= n_ckpt:
        raise ValueError(f"t_index has values >= n_ckpt={n_ckpt}")
    return float(np.mean((t_index >= 0) & (t_index < n_ckpt - 1)))


def calibrate_epsilon(
    loss: np.ndarray,
    delta: float = 0.05,
    step: float = 0.1,
    start: float | None = None,
    target: tuple[float, float] = (0.20, 0.25),
    max_epsilon: float | None = None,
    on_unreachable: str = "raise",
) -> EpsilonCalibration:
    """Paper rule for epsilon (nats) from loss float[n_ckpt, n]: raise it in steps until 20-25% are memorized before T.

    Grid: epsilon_k = round(start + k * step, 10) for k = 0, 1, ... (start defaults to `step`), up to
    `max_epsilon` (default: max loss + step). Returns the first epsilon whose fraction (see
    `memorized_fraction_before_final`) is >= target[0]; `in_target` is False when that fraction
    already exceeds target[1] (the grid is too coarse for this domain). If no grid value reaches
    target[0] (the losses are not yet stable within delta), raises ValueError with
    on_unreachable="raise", or returns the first epsilon with the largest fraction and
    in_target=False with on_unreachable="best".
    """
    check_choice("on_unreachable", on_unreachable, ("raise", "best"))
    loss = _check_loss(loss)
    if loss.shape[0] < 2:
        raise ValueError("loss needs >= 2 checkpoints to memorize anything before the final one")
    step = check_number("step", step, 0, low_open=True)
    delta = check_number("delta", delta, 0)
    if not isinstance(target, tuple | list) or len(target) != 2:
        raise ValueError(f"target: expected a (low, high) pair of fractions, got {target!r}")
    low, high = (check_number(f"target[{i}]", v, 0, 1) for i, v in enumerate(target))
    if low > high:
        raise ValueError(f"target must satisfy 0 <= target[0] <= target[1] <= 1, got {target!r}")
    start = step if start is None else check_number("start", start, 0, low_open=True)
    max_epsilon = float(loss.max()) + step if max_epsilon is None else check_number("max_epsilon", max_epsilon)
    if max_epsilon < start:
        raise ValueError(f"start, max_epsilon: the epsilon grid is empty (start {start} > max_epsilon {max_epsilon})")
    n_steps = np.floor(round((max_epsilon - start) / step, 10)) + 1  # a float: inf for a tiny step
    if n_steps > MAX_GRID:
        raise ValueError(
            f"step: the epsilon grid from start {start} to max_epsilon {max_epsilon} (default: max loss + step) has "
            f"{n_steps:.3g} values, more than {MAX_GRID}; use a larger step or a smaller max_epsilon"
        )
    best = None
    for k in range(int(n_steps)):
        epsilon = round(start + k * step, 10)
        fraction = memorized_fraction_before_final(memorization_index(loss, epsilon, delta), loss.shape[0])
        if fraction >= low:
            return EpsilonCalibration(epsilon, fraction, fraction <= high)
        if best is None or fraction > best.fraction:
            best = EpsilonCalibration(epsilon, fraction, False)
    if on_unreachable == "best" and best is not None:
        return best
    raise ValueError(
        f"no epsilon in [{start}, {max_epsilon}] (step {step}) memorizes target[0]={low} of the samples "
        f"before the final checkpoint (delta={delta})"
    )


def groups(t_index: np.ndarray, min_size: int = 1) -> dict[int, np.ndarray]:
    """Checkpoint index (or step) -> int64 sample indices (ascending) with that t* or t#; -1 (never) and groups with
    fewer than min_size members left out; keys ascending."""
    t_index = _check_index(t_index, "t_index")
    min_size = check_int("min_size", min_size, 1)
    order = np.argsort(t_index, kind="stable")
    keys, first = np.unique(t_index[order], return_index=True)
    members = np.split(order, first[1:])
    return {int(k): m.astype(np.int64) for k, m in zip(keys, members) if k >= 0 and len(m) >= min_size}


def _check_loss(loss: np.ndarray) -> np.ndarray:
    loss = check_finite("loss", as_array("loss", loss, 2, shape_doc="[n_ckpt, n_samples]"))
    if (loss < 0).any():
        raise ValueError(f"loss: has negative values (min {loss.min():.4g}): expected mean token NLL in nats (>= 0)")
    return loss


def _check_index(t_index: np.ndarray, name: str) -> np.ndarray:
    t_index = as_array(name, t_index, 1, dtype=None)
    if not np.issubdtype(t_index.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {t_index.dtype}")
    if t_index.min() < -1:
        raise ValueError(f"{name} has values < -1")
    return t_index
