"""Input checks shared by the public metric functions: each raises ValueError naming the argument and what it allows."""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings

import numpy as np

ROUTING_SUM_TOLERANCE = 1e-3  # a routing row (one sample, one layer) summing within this of 1 is a probability vector


class RoutingNormalizationWarning(UserWarning):
    """Routing rows summing to less than 1 (e.g. top-k weights) were renormalized to sum to 1 before use."""


def as_array(name: str, x, ndim: int | tuple[int, ...], dtype=np.float64, shape_doc: str = "") -> np.ndarray:
    """x as a non-empty array of `dtype` (None: keep a numeric dtype), ndim in `ndim`; else ValueError naming `name`."""
    try:
        array = np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name}: expected a numeric array{shape_doc and ' ' + shape_doc}, got {type(x).__name__} ({error})"
        ) from None
    if dtype is None and not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in allowed or array.size == 0:
        want = shape_doc or " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name}: expected a non-empty {want} array, got shape {array.shape}")
    return array


def check_finite(name: str, array: np.ndarray) -> np.ndarray:
    """`array` unchanged if every value is finite; ValueError naming `name` and the first bad index otherwise."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: contains NaN or inf (first at index {index}: {array[index].item()!r})")
    return array


def check_routing(name: str, routing, ndim: int | tuple[int, ...] = 3, min_samples: int = 1) -> np.ndarray:
    """Routing probabilities float[n, L, E] (or [L, E] where `ndim` allows): finite, >= 0, each row summing to 1.

    A row (one sample's weights over the E experts of one layer) may sum to at most 1 + ROUTING_SUM_TOLERANCE;
    more means logits or counts (ValueError). A row summing to less than 1 - ROUTING_SUM_TOLERANCE (top-k
    weights, a truncated softmax) is renormalized to sum to 1, with a RoutingNormalizationWarning; an all-zero
    row has no distribution (ValueError). Returns the input's floating dtype (float64 for other dtypes).
    """
    doc = "[n, L, E]" if ndim == 3 else "[L, E] or [n, L, E]"
    routing = as_array(name, routing, ndim, dtype=None, shape_doc=doc)
    if not np.issubdtype(routing.dtype, np.floating):
        routing = routing.astype(np.float64)
    if routing.ndim == 3 and routing.shape[0] < min_samples:
        raise ValueError(f"{name}: needs >= {min_samples} samples, got shape {routing.shape}")
    check_finite(name, routing)
    if (routing < 0).any():
        raise ValueError(
            f"{name}: has negative values (min {routing.min():.4g}): expected routing probabilities, not logits"
        )
    sums = routing.sum(axis=-1, dtype=np.float64)
    if (sums > 1 + ROUTING_SUM_TOLERANCE).any():
        raise ValueError(
            f"{name}: a layer's weights sum to {sums.max():.4g} > 1: expected routing probabilities "
            "(each sample's weights over one layer's experts sum to 1), not logits or counts"
        )
    if (sums == 0).any():
        index = tuple(int(i) for i in np.argwhere(sums == 0)[0])
        raise ValueError(f"{name}: the weights at {index} are all zero (no routing distribution)")
    short = sums < 1 - ROUTING_SUM_TOLERANCE
    if short.any():
        warnings.warn(
            f"{name}: {int(short.sum())} of {sums.size} layer rows sum to less than 1 (min {sums.min():.4g}), e.g. "
            "top-k weights; each row is renormalized to sum to 1 (the full-softmax rule)",
            RoutingNormalizationWarning,
            stacklevel=3,
        )
        routing = routing / sums[..., None].astype(routing.dtype)
    return routing


def check_number(
    name: str, value, low: float | None = None, high: float | None = None, *, low_open=False, high_open=False
) -> float:
    """`value` as a finite float within [low, high] (an open end with low_open/high_open); ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(_as_float(value)):
        raise ValueError(f"{name}: expected a finite number{_range(low, high, low_open, high_open)}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name}: expected a number{_range(low, high, low_open, high_open)}, got {value!r}")
    return float(value)


def check_int(
    name: str, value, low: int | None = None, high: int | None = None, *, none_ok: bool = False
) -> int | None:
    """`value` as an int in [low, high] (None with none_ok; integral floats such as 3.0 too); else ValueError naming
    `name`."""
    if value is None and none_ok:
        return None
    integral = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer())
    if (
        isinstance(value, bool)
        or not integral
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        bound = _range(low, high, False, False)
        raise ValueError(f"{name}: expected an integer{bound}{' or None' if none_ok else ''}, got {value!r}")
    return int(value)


def check_choice(name: str, value, choices: tuple) -> object:
    """`value` if it is one of `choices`; ValueError naming `name` and the choices otherwise."""
    if not isinstance(value, str | int) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    """`value` if it is a bool (numpy bools too); ValueError naming `name` otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def resolve_settings(cls: type, settings, **fields):
    """`settings`, an instance of the frozen dataclass `cls` (None: `cls()`), with `fields` replaced and checked again;
    ValueError naming `settings` if it is not one, TypeError naming any unknown field and the allowed ones."""
    if settings is None:
        settings = cls()
    elif not isinstance(settings, cls):
        raise ValueError(f"settings must be a {cls.__name__} or None, got {settings!r} (give its fields by keyword)")
    names = [f.name for f in dataclasses.fields(settings)]
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise TypeError(f"{type(settings).__name__}: unknown fields {unknown}; allowed: {names}")
    return dataclasses.replace(settings, **fields) if fields else settings


def _range(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _as_float(value: numbers.Real) -> float:
    """float(value), or inf for an int beyond the float range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf
