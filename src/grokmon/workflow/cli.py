"""The `grokmon` command line: pathway metrics of one checkpoint (`pathways`) or a table and plot over several
(`compare`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from grokmon.files.atomic import atomic_path
from grokmon.metrics.pathways import PathwaySettings
from grokmon.monitor.pathway_monitor import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_PAIRS,
    check_model,
    probe_metrics,
    short_texts,
)
from grokmon.routing.architectures import get_router_spec, moe_routers
from grokmon.routing.devices import resolve_device
from grokmon.workflow import io

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
    """Run the command line on `argv` (default sys.argv[1:]); returns the exit status (0 ok, 2 bad input).

    Every input is checked before any model weights load or any metric is computed; a user error prints one
    line naming the flag or file and returns 2.
    """
    args = _parser().parse_args(argv)
    try:
        checked = _check_inputs(args)
        if args.command == "pathways":
            _pathways(args, *checked)
        else:
            _compare(args, *checked)
    except (ValueError, OSError) as error:  # includes UnsupportedArchitectureError, FileNotFoundError
        print(f"grokmon {args.command}: error: {' '.join(str(error).splitlines())}", file=sys.stderr)
        return 2
    return 0


def split_model(spec: str) -> tuple[str, str | None]:
    """(path or hub id, revision or None) from "DIR_OR_ID[@REVISION]"; an existing local path is never split."""
    if not spec.strip():
        raise ValueError(f"--model: expected DIR_OR_HUB_ID[@REVISION], got {spec!r}")
    if Path(spec).exists() or "@" not in spec:
        return spec, None
    name, revision = spec.rsplit("@", 1)
    if not name or not revision:
        raise ValueError(f"--model: expected DIR_OR_HUB_ID[@REVISION], got {spec!r}")
    if Path(name).exists():
        raise ValueError(f"--model {spec}: a revision (@{revision}) needs a hub id, but {name} is a local path")
    return name, revision


def read_texts(path: str, field: str) -> tuple[list[str], list[int]]:
    """(the `field` string of every row of the JSONL file `path`, the 1-based line number of each row), >= 2 rows."""
    if not Path(path).is_file():
        exists = "is not a regular file" if Path(path).exists() else "no such file"
        raise ValueError(f"--data {path}: {'is a directory, not a file' if Path(path).is_dir() else exists}")
    try:
        rows = list(io.iter_jsonl(path))
    except ValueError as error:
        raise ValueError(f"--data {error}") from None
    for line, row in rows:
        if not isinstance(row, dict) or field not in row:
            found = (
                ", ".join(map(repr, row)) if isinstance(row, dict) else f"a JSON {type(row).__name__}, not an object"
            )
            raise ValueError(f"--text-field {field!r}: {path} line {line} has no such field (it has: {found})")
        if not isinstance(row[field], str) or not row[field].strip():
            raise ValueError(f"--data {path} line {line}: field {field!r} is not a non-empty string: {row[field]!r}")
    texts, lines = [row[field] for _, row in rows], [line for line, _ in rows]
    if len(texts) < 2:
        raise ValueError(f"--data {path}: needs at least 2 texts (distances are over pairs), has {len(texts)}")
    return texts, lines


def _pathways(args, texts: list[str], models: list[tuple[str, str, str | None]]) -> None:
    ((spec, name, revision),) = models
    row = {"model": spec, "n_texts": len(texts), **_measure(args, spec, name, revision, texts)}
    for key, value in row.items():
        print(f"{key}\t{value:.6g}" if isinstance(value, float) else f"{key}\t{value}")
    if args.out is not None:
        io.write_json(Path(args.out) / "pathways.json", row)


def _compare(args, texts: list[str], models: list[tuple[str, str, str | None]]) -> None:
    table = pd.DataFrame(
        [{"model": spec, **_measure(args, spec, name, revision, texts)} for spec, name, revision in models]
    )
    print(table.to_csv(sep="\t", index=False, float_format="%.6g"), end="")
    io.write_tsv(Path(args.out) / "compare.tsv", table)
    _plot(table, [_short(name, revision) for _, name, revision in models], Path(args.out) / "compare.png")


def _check_inputs(args) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """(texts, [(spec, name, revision)] per --model) after checking every flag and file; loads no weights."""
    texts, lines = read_texts(args.data, args.text_field)
    if args.out is not None:
        _check_out(args.out)
    args.device = resolve_device(args.device, "--device")
    specs = [args.model] if args.command == "pathways" else args.model
    if args.command == "compare" and len(specs) < 2:
        raise ValueError(f"--model: compare needs at least 2 checkpoints (repeat --model), got {len(specs)}")
    models = [(spec, *split_model(spec)) for spec in specs]
    shapes = {spec: _check_model(spec, name, revision, texts, lines, args) for spec, name, revision in models}
    if len(set(shapes.values())) > 1:
        found = "; ".join(
            f"{spec}: {kind}, {len(layers)} MoE layers x {experts} experts"
            for spec, (kind, layers, experts) in shapes.items()
        )
        raise ValueError(
            f"--model: the checkpoints differ in architecture, so their distances are not comparable ({found}); "
            "compare checkpoints of one model"
        )
    return texts, models


def _check_out(out: str) -> None:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise ValueError(f"--out {out}: cannot write under {existing}")


def _check_model(spec: str, name: str, revision: str | None, texts: list[str], lines: list[int], args) -> tuple:
    """(model_type, MoE layer indices, experts per layer) of --model `spec` from its config, without its weights;
    also checks that every text has >= 2 tokens under its tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = Path(name)
    if not path.exists() and (name.startswith((".", "/", "~")) or "\\" in name or not _HUB_ID.fullmatch(name)):
        raise ValueError(f"--model {spec}: no such directory")
    if path.exists() and not path.is_dir():
        raise ValueError(f"--model {spec}: is a file; expected a model directory or a hub id")
    if path.is_dir() and not (path / "config.json").is_file():
        raise ValueError(f"--model {spec}: {name} has no config.json (not a Hugging Face model directory)")
    try:
        config = AutoConfig.from_pretrained(name, revision=revision)
        tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
    except (OSError, ValueError) as error:  # ValueError: a model_type this transformers does not know
        where = (
            "cannot load it" if path.exists() else "no such directory, nor a model on the hub (or in its offline cache)"
        )
        raise ValueError(f"--model {spec}: {where}: {error}") from None
    try:
        get_router_spec(config)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
        check_model(skeleton)
    except ValueError as error:  # the library names its argument (model, model_or_config); here it is --model
        reason = re.sub(r"^(model|model_or_config): ", "", str(error))
        raise ValueError(f"--model {spec}: {reason}") from None
    short = short_texts(texts, tokenizer, args.max_length)
    if len(short) == len(texts):
        raise ValueError(
            f"--model {spec}: its tokenizer gives every --data text fewer than 2 tokens (its vocabulary has "
            f"{len(tokenizer)} tokens): are its tokenizer files missing?"
        )
    if short:
        raise ValueError(
            f"--data {args.data} line {lines[short[0]]}: text has fewer than 2 tokens under {spec}'s tokenizer "
            f"(a loss needs a target token); {len(short)} such row(s)"
        )
    routers = moe_routers(skeleton)
    return config.model_type, tuple(i for i, _ in routers), int(get_router_spec(config).weight(routers[0][1]).shape[0])


def _measure(args, spec: str, name: str, revision: str | None, texts: list[str]) -> dict[str, float]:
    from grokmon.routing.capture import load_model

    model, tokenizer = load_model(name, revision=revision, device=args.device)
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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (status 2): `grokmon pathways: error: ... (see grokmon pathways -h)`."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grokmon", description=__doc__)
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
        sub.add_argument(
            "--cut",
            type=_fraction,
            default=PathwaySettings.cut,
            help="cumulative routing-weight cut (default: %(default)s)",
        )
        sub.add_argument("--max-pairs", type=_positive, default=DEFAULT_MAX_PAIRS, help="pairs sampled for distances")
        sub.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE)
        sub.add_argument("--max-length", type=_at_least_2, default=DEFAULT_MAX_LENGTH, help="tokens per text (>= 2)")
        sub.add_argument("--seed", type=_natural, default=PathwaySettings.seed, help="seed of the pair sample (>= 0)")
        sub.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    return parser


def _int_at_least(low: int, why: str = ""):
    def parse(text: str) -> int:
        value = int(text) if text.strip().lstrip("-").isdigit() else None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected an int >= {low}{why}, got {text!r}")
        return value

    return parse


_natural, _positive = _int_at_least(0), _int_at_least(1)
_at_least_2 = _int_at_least(2, " (a loss needs a target token after the first)")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value
