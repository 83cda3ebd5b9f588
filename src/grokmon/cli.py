"""The `grokmon` command line: pathway metrics of one checkpoint (`pathways`) or a table and plot over several (`compare`)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from grokmon import io
from grokmon.architectures import get_router_spec
from grokmon.monitor import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_PAIRS,
    check_model,
    check_probe_texts,
    probe_metrics,
)

# Printed, saved and plotted, in this order (the monitor's metrics minus its timing).
METRICS = ("loss", "distance", "distance_experts", "distance_normalized", "consistency", "adjacent_cosine")
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")
_LABELS = {
    "loss": "probe loss (nats/token)",
    "distance": "pathway distance (edits)",
    "distance_experts": "distance, experts mode (edits)",
    "distance_normalized": "distance / length",
    "consistency": "consistency C_i (paper)",
    "adjacent_cosine": "raw adjacent-layer cosine",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on `argv` (default sys.argv[1:]); returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "pathways":
            _pathways(args)
        else:
            _compare(args)
    except (ValueError, OSError) as error:  # includes UnsupportedArchitectureError, FileNotFoundError, JSONDecodeError
        print(f"grokmon {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def split_model(spec: str) -> tuple[str, str | None]:
    """(path or hub id, revision or None) from "DIR_OR_ID[@REVISION]"; an existing local path is never split."""
    if Path(spec).exists() or "@" not in spec:
        return spec, None
    name, revision = spec.rsplit("@", 1)
    if not name or not revision:
        raise ValueError(f"--model: expected DIR_OR_HUB_ID[@REVISION], got {spec!r}")
    return name, revision


def read_texts(path: str, field: str) -> list[str]:
    """The `field` string of every row of the JSONL file `path` (list[str], file order)."""
    if not Path(path).is_file():
        raise ValueError(f"--data: no such file: {path}")
    rows = io.read_jsonl(path)
    if not rows:
        raise ValueError(f"--data: {path} has no rows")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get(field), str):
            raise ValueError(f"--text-field: row {i} of {path} has no string field {field!r}")
    return [row[field] for row in rows]


def _pathways(args) -> None:
    texts = read_texts(args.data, args.text_field)
    name, revision = split_model(args.model)
    _check_config(args.model, name, revision)
    row = {"model": args.model, "n_texts": len(texts), **_measure(args, args.model, name, revision, texts)}
    for key, value in row.items():
        print(f"{key}\t{value:.6g}" if isinstance(value, float) else f"{key}\t{value}")
    if args.out is not None:
        io.write_json(Path(args.out) / "pathways.json", row)


def _compare(args) -> None:
    texts = read_texts(args.data, args.text_field)
    models = [(spec, *split_model(spec)) for spec in args.model]
    for spec, name, revision in models:  # fail before loading anything
        _check_config(spec, name, revision)
    table = pd.DataFrame(
        [{"model": spec, **_measure(args, spec, name, revision, texts)} for spec, name, revision in models]
    )
    print(table.to_csv(sep="\t", index=False, float_format="%.6g"), end="")
    io.write_tsv(Path(args.out) / "compare.tsv", table)
    _plot(table, [_short(name, revision) for _, name, revision in models], Path(args.out) / "compare.png")


def _check_config(spec: str, name: str, revision: str | None) -> None:
    from transformers import AutoConfig

    if not Path(name).exists() and not _HUB_ID.fullmatch(name):
        raise ValueError(f"--model {spec}: no such directory (nor a hub id)")
    try:
        get_router_spec(AutoConfig.from_pretrained(name, revision=revision))
    except OSError as error:
        raise ValueError(f"--model {spec}: not a local model directory, nor loadable from the hub: {error}") from None
    except ValueError as error:
        raise ValueError(f"--model {spec}: {error}") from None


def _measure(args, spec: str, name: str, revision: str | None, texts: list[str]) -> dict[str, float]:
    from grokmon.capture import load_model

    model, tokenizer = load_model(name, revision=revision, device=args.device)
    try:
        check_model(model)
    except ValueError as error:
        raise ValueError(f"--model {spec}: {error}") from None
    texts = check_probe_texts(texts, tokenizer, args.max_length, name="--data")
    settings = {
        "cut": args.cut,
        "max_pairs": args.max_pairs,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
    }
    return probe_metrics(model, tokenizer, texts, seed=args.seed, **settings)


def _short(name: str, revision: str | None) -> str:
    base = Path(name).name if Path(name).exists() else name
    return base if revision is None else f"{base}@{revision}"


def _plot(table: pd.DataFrame, labels: list[str], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6.5), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    x = range(len(table))
    for ax, metric in zip(axes, METRICS):
        ax.plot(x, table[metric], marker="o", color="tab:purple")
        ax.set_title(_LABELS[metric], fontsize=10)
        ax.set_xticks(list(x), labels, rotation=30, ha="right", fontsize=8)
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grokmon", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("pathways", help="metrics of one checkpoint; --out DIR saves DIR/pathways.json")
    one.add_argument("--model", required=True, help="local HF dir or hub id, optionally @REVISION")
    one.add_argument("--out", help="folder for pathways.json (default: print only)")
    many = commands.add_parser("compare", help="table (compare.tsv) and plot (compare.png) over checkpoints")
    many.add_argument("--model", required=True, action="append", help="repeat once per checkpoint, in plot order")
    many.add_argument("--out", required=True, help="folder for compare.tsv and compare.png")
    for sub in (one, many):
        sub.add_argument("--data", required=True, help="JSONL file, one probe text per row")
        sub.add_argument("--text-field", default="text", help="field of each row holding the text (default: text)")
        sub.add_argument("--cut", type=_fraction, default=0.7, help="cumulative routing-weight cut (default: 0.7)")
        sub.add_argument("--max-pairs", type=_positive, default=DEFAULT_MAX_PAIRS, help="pairs sampled for distances")
        sub.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE)
        sub.add_argument("--max-length", type=_positive, default=DEFAULT_MAX_LENGTH, help="tokens per text")
        sub.add_argument("--seed", type=int, default=0, help="seed of the pair sample")
        sub.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    return parser


def _positive(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value
