"""Live pathway monitor: every N training steps, routing metrics and loss of a fixed probe set,
logged to CSV and loggers.

The model is validated (a registry architecture with >= 2 MoE layers; every layer of a dense one counts, read as
virtual experts) at construction when `model=` is given, otherwise at the first call (`__call__`, `check_model`, or
the Trainer callback's `on_train_begin`), whatever the step.
A measurement runs in eval mode under `torch.inference_mode()`, restores every module's train/eval flag afterwards,
saves and restores the torch (CPU and initialised CUDA), numpy and python global RNG states, and never touches
weights or gradients, so training with the monitor is bit for bit the training without it.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import random
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from grokmon.files import atomic
from grokmon.metrics.pathways import PathwaySettings
from grokmon.metrics.routing_summary import routing_metrics
from grokmon.routing.architectures import moe_routers
from grokmon.routing.capture import capture_routes, router_weights

# Metric columns, in CSV order after "step"; names as in `grokmon.metrics.routing_summary` (distance = paper mode,
# in edits).
METRICS = ("loss", "distance", "distance_experts", "distance_normalized", "consistency", "adjacent_cosine", "seconds")
COLUMNS = ("step", *METRICS)
DEFAULT_MAX_PAIRS = 5000  # pairs averaged per measurement (all pairs below it)
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_LENGTH = 256


def probe_metrics(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    cut: float = PathwaySettings.cut,
    max_pairs: int | None = DEFAULT_MAX_PAIRS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_length: int = DEFAULT_MAX_LENGTH,
    seed: int = PathwaySettings.seed,
) -> dict[str, float]:
    """`routing_metrics` of `texts` (n >= 2) under `model`, plus loss:
    mean over texts of the per-text mean NLL (nats/token)."""
    capture = capture_routes(model, tokenizer, texts, batch_size=batch_size, max_length=max_length, progress=False)
    metrics = routing_metrics(capture.routing, router_weights(model), cut=cut, max_pairs=max_pairs, seed=seed)
    return {"loss": float(np.mean(capture.nll)), **metrics}


def short_texts(texts: list[str], tokenizer, max_length: int) -> list[int]:
    """Positions of the texts with fewer than 2 tokens after truncation to max_length (no loss target: unusable)."""
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return [i for i, x in enumerate(ids) if len(x) < 2]


def check_probe_texts(texts: Iterable[str], tokenizer, max_length: int, name: str = "probe_texts") -> list[str]:
    """The texts as a list[str] of >= 2 texts, each >= 2 tokens after truncation to max_length >= 2 (a loss needs one
    target); errors name the argument `name` (or max_length)."""
    if isinstance(texts, str):
        raise ValueError(f"{name}: expected a sequence of strings, got a single string")
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"{name}: need at least 2 texts (distances are over pairs), got {len(texts)}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t]
    if bad:
        raise ValueError(f"{name}: {len(bad)} item(s) are not non-empty strings, e.g. position {bad[0]}")
    if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral) or max_length < 2:
        raise ValueError(
            f"max_length: expected an int >= 2 (a loss needs a target token after the first), got {max_length!r}"
        )
    if not callable(tokenizer):
        raise ValueError(f"tokenizer: expected a Hugging Face tokenizer, got {type(tokenizer).__name__}")
    short = short_texts(texts, tokenizer, max_length)
    if short:
        raise ValueError(f"{name}: {len(short)} text(s) have fewer than 2 tokens, e.g. position {short[0]}")
    return texts


def check_model(model) -> None:
    """Raise UnsupportedArchitectureError (a ValueError) for a model type without a registry entry, ValueError for
    < 2 MoE (or dense, virtual-expert) layers."""
    n_layers = len(moe_routers(model))
    if n_layers < 2:
        raise ValueError(f"model: pathway consistency needs >= 2 MoE layers, this model has {n_layers}")


class PathwayMonitor:
    """Every `every` steps: probe-set loss and routing metrics (`COLUMNS`) of the model under training, logged live.

    `loggers`: callables ``fn(step, metrics)`` and/or TensorBoard-style writers (anything with ``add_scalar``, e.g.
    ``torch.utils.tensorboard.SummaryWriter``; scalars go under ``pathways/<metric>``). `csv_path`: one row per
    measurement, appended and flushed (a new file gets the header; an existing one must have the same header).
    `max_pairs`: pairs sampled (seeded by `seed`) for distances when the probe has more. `model`: validate it now.
    """

    def __init__(
        self,
        probe_texts: Sequence[str],
        tokenizer,
        *,
        every: int = 100,
        cut: float = PathwaySettings.cut,
        max_pairs: int | None = DEFAULT_MAX_PAIRS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int = DEFAULT_MAX_LENGTH,
        csv_path: str | os.PathLike | None = None,
        loggers: Iterable = (),
        seed: int = PathwaySettings.seed,
        model=None,
    ):
        _check_positive("every", every)
        _check_positive("batch_size", batch_size)
        if max_pairs is not None:
            _check_positive("max_pairs", max_pairs)
        if isinstance(cut, bool) or not isinstance(cut, numbers.Real) or not 0 < cut <= 1:
            raise ValueError(f"cut: expected a number in (0, 1], got {cut!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed: expected an int, got {seed!r}")
        self.probe_texts = check_probe_texts(probe_texts, tokenizer, max_length)
        self.tokenizer = tokenizer
        self.every = every
        self.settings = {
            "cut": float(cut),
            "max_pairs": max_pairs,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
        }
        self._log_fns = [_log_fn(logger) for logger in loggers]
        self.csv_path = None if csv_path is None else Path(csv_path)
        if self.csv_path is not None:
            _start_csv(self.csv_path)
        self.history: list[dict[str, float]] = []
        self._checked = lambda: None  # weak reference to the last validated model
        if model is not None:
            self.check_model(model)

    def check_model(self, model) -> None:
        """Validate `model` once (see `check_model`); later calls with the same model object are free."""
        if self._checked() is not model:
            check_model(model)
            self._checked = weakref.ref(model)

    def __call__(self, step: int, model) -> dict[str, float] | None:
        """Measure and log if `step` % every == 0 (returns the row: step and `METRICS`), else None;
        `model` is validated first."""
        self.check_model(model)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step: expected an int >= 0, got {step!r}")
        if step % self.every:
            return None
        return self.log(step, self.measure(model))

    def measure(self, model) -> dict[str, float]:
        """`METRICS` of the probe set under `model` now (seconds: wall time of this measurement),
        training state untouched."""
        self.check_model(model)
        start = time.perf_counter()
        with _isolated(model):
            metrics = probe_metrics(model, self.tokenizer, self.probe_texts, **self.settings)
        return {**metrics, "seconds": time.perf_counter() - start}

    def log(self, step: int, metrics: dict[str, float]) -> dict[str, float]:
        """Append {step, **metrics} to `history` and the CSV, then pass (step, metrics) to every logger;
        returns the row."""
        row = {"step": int(step), **{k: float(metrics[k]) for k in METRICS}}
        self.history.append(row)
        if self.csv_path is not None:
            with open(self.csv_path, "a") as f:
                f.write(",".join(str(row[c]) for c in COLUMNS) + "\n")
        for fn in self._log_fns:
            fn(step, {k: row[k] for k in METRICS})
        return row

    def as_trainer_callback(self) -> PathwayMonitorCallback:
        """A transformers `TrainerCallback` that runs this monitor (see `PathwayMonitorCallback`)."""
        return PathwayMonitorCallback(self)


class PathwayMonitorCallback(TrainerCallback):
    """Trainer adapter: validates the model at `on_train_begin`,
    measures at `on_step_end` when global_step % every == 0.

    Runs on the main process only (`state.is_world_process_zero`), on the Trainer's unwrapped model: fine for one
    process or DDP; not for sharded models (FSDP/DeepSpeed ZeRO-3), where one rank cannot run a forward alone.
    """

    def __init__(self, monitor: PathwayMonitor):
        self.monitor = monitor

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        """Fail before the first step if the model is not a supported MoE."""
        if model is not None:
            self.monitor.check_model(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        """Measure after optimizer step `state.global_step` if it is a multiple of `every`."""
        if state.is_world_process_zero:
            self.monitor(state.global_step, model)


@contextlib.contextmanager
def _isolated(model) -> Iterator[None]:
    """Eval mode + inference mode; afterwards every module's training flag and the global RNG states are as before."""
    modes = [(m, m.training) for m in model.modules()]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            model.eval()
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        for module, training in modes:
            module.training = training


def _log_fn(logger) -> Callable[[int, dict], None]:
    if hasattr(logger, "add_scalar"):

        def write(step: int, metrics: dict) -> None:
            for name, value in metrics.items():
                logger.add_scalar(f"pathways/{name}", value, step)

        return write
    if callable(logger):
        return logger
    raise ValueError(
        f"loggers: expected callables fn(step, metrics) or writers with add_scalar, got {type(logger).__name__}"
    )


def _start_csv(path: Path) -> None:
    header = ",".join(COLUMNS)
    if path.exists() and not path.is_file():
        raise ValueError(f"csv_path: {path} exists and is not a file")
    if path.exists() and path.stat().st_size > 0:
        with open(path) as f:
            found = f.readline().rstrip("\n")
        if found != header:
            raise ValueError(f"csv_path: {path} exists with header {found!r}, expected {header!r}")
        return
    atomic.write_text(path, header + "\n")


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
