"""Benchmark evaluation with lm-evaluation-harness 0.4.13 -> one correctness record per item.

Local benchmarks become YAML tasks over their JSONL file. The prompt template is the one used for
tuning (`grokmon.workflow.tuning`); the answer follows after the same target delimiter (`target_delimiter`,
" " by default).
Generation is greedy and scored by exact match of the whole response, stripped of surrounding
whitespace, against the answer (case and punctuation count: "Ab2Cd1" != "ab2cd1").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

import numpy as np
import yaml

from grokmon.files import atomic
from grokmon.routing.devices import resolve_dtype
from grokmon.workflow.tuning import TARGET_DELIMITER, split_template

TASK_TYPES = ("generate", "multiple_choice")
# Per-item metric that decides "correct", in order of preference (first present wins).
PRIMARY_METRICS = ("acc", "exact_match", "pass@1", "pass_at_1")


def jinja_prompt(template: str) -> str:
    """lm-eval `doc_to_text` for a prompt template: `{prompt}` -> `{{question}}`, everything else literal."""
    return "{{question}}".join(part.replace("{", '{{ "{" }}') for part in split_template(template))


def write_local_task(
    name: str,
    benchmark_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    task: str,
    prompt_template: str,
    max_gen_toks: int = 16,
    until: Sequence[str] = ("\n",),
    target_delimiter: str = TARGET_DELIMITER,
) -> Path:
    """Write `out_dir/{name}.yaml`, an lm-eval task over the benchmark JSONL (absolute path); return its path.

    task="generate": rows {"id","question","answer"}, greedy `generate_until`, exact match.
    task="multiple_choice": rows {"id","question","choices","label"}, log-likelihood `acc`.
    """
    if not name or not isinstance(name, str) or any(c in name for c in "/\\ ,"):
        raise ValueError(f"name must be a non-empty task name without '/', '\\', ' ' or ',', got {name!r}")
    if task not in TASK_TYPES:
        raise ValueError(f"task must be one of {TASK_TYPES}, got {task!r}")
    data = Path(benchmark_path).resolve()
    if not data.is_file():
        raise ValueError(f"benchmark_path does not exist: {data}")
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "doc_to_text": jinja_prompt(prompt_template),
        "target_delimiter": target_delimiter,
        "metadata": {"version": 1.0},
    }
    if task == "generate":
        if max_gen_toks < 1:
            raise ValueError(f"max_gen_toks must be >= 1, got {max_gen_toks}")
        config |= {
            "output_type": "generate_until",
            "doc_to_target": "answer",
            "generation_kwargs": {"until": list(until), "max_gen_toks": int(max_gen_toks), "do_sample": False},
            "filter_list": [
                {
                    "name": "strip",
                    "filter": [
                        {"function": "regex", "regex_pattern": r"(?s)^.*$"},  # the whole response; the filter strips it
                        {"function": "take_first"},
                    ],
                }
            ],
            "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
        }
    else:
        config |= {
            "output_type": "multiple_choice",
            "doc_to_choice": "choices",
            "doc_to_target": "label",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        }
    path = Path(out_dir) / f"{name}.yaml"
    atomic.write_text(path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def evaluate(
    base_path: str | os.PathLike,
    tasks: Sequence[str],
    *,
    adapter_path: str | os.PathLike | None = None,
    include_path: str | os.PathLike | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    dtype: str = "auto",
    limit: int | float | None = None,
    confirm_run_unsafe_code: bool = False,
    seed: int = 0,
) -> dict[str, list[dict]]:
    """Run lm-eval's HF model (base + optional peft adapter) on `tasks`; per task the item records sorted by doc_id.

    A record is {"doc_id", "id" (the row's "id", else "task_id", else None), "correct" (0/1, primary metric),
    "target", "response" (the scored text; for multiple choice the argmax choice index)}.
    Built-in tasks are indexed only when some task is not found under `include_path`.
    """
    import lm_eval
    from lm_eval.tasks import TaskManager

    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    if not tasks:
        raise ValueError("tasks is empty")
    include = None if include_path is None else str(Path(include_path).resolve())
    manager = None if include is None else TaskManager(include_path=include, include_defaults=False)
    if manager is None or not set(tasks) <= set(manager.all_tasks):
        manager = TaskManager(include_path=include)  # indexes the ~15k built-in tasks: 15-30 s
    missing = sorted(set(tasks) - set(manager.all_tasks))
    if missing:
        raise ValueError(f"tasks: unknown lm-eval tasks {missing}")
    model_args = {"pretrained": str(base_path), "dtype": resolve_dtype(dtype, device)}
    if adapter_path is not None:
        model_args["peft"] = str(adapter_path)
    # lm-eval always collects torch's environment report (subprocesses such as `pip list`: about 3 s
    # per call on a tiny model); the results it goes into are discarded here.
    with mock.patch("lm_eval.evaluator.add_env_info", lambda results: None):
        res = lm_eval.simple_evaluate(
            model="hf",
            model_args=model_args,
            tasks=tasks,
            task_manager=manager,
            device=device,
            batch_size=batch_size,
            limit=limit,
            log_samples=True,
            bootstrap_iters=0,
            confirm_run_unsafe_code=confirm_run_unsafe_code,
            **dict.fromkeys(("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed"), seed),
        )
    return {task: item_records(samples) for task, samples in res["samples"].items()}


def item_records(samples: Sequence[dict]) -> list[dict]:
    """Per-item records from lm-eval's logged samples of one task (first filter only), sorted by doc_id."""
    if not samples:
        raise ValueError("samples is empty")
    first_filter = samples[0].get("filter")
    records = [_record(s) for s in samples if s.get("filter") == first_filter]
    return sorted(records, key=lambda r: r["doc_id"])


def _record(sample: dict) -> dict:
    key = next((k for m in PRIMARY_METRICS for k in sample if k.split(",")[0] == m), None)
    if key is None:
        raise ValueError(f"samples: none of the metrics {PRIMARY_METRICS} in sample keys {sorted(sample)}")
    value = float(sample[key])
    if value not in (0.0, 1.0):
        raise ValueError(f"samples: primary metric {key} is {value}, not 0 or 1")
    response = sample["filtered_resps"]
    if key.split(",")[0] == "acc":  # log-likelihood task: one (loglik, is_greedy) per choice
        response = int(np.argmax([ll for ll, _ in response]))
    elif len(response) == 1:
        response = response[0]
    doc = sample.get("doc") or {}
    row_id = doc.get("id", doc.get("task_id"))
    return {
        "doc_id": int(sample["doc_id"]),
        "id": _plain(row_id),
        "correct": int(value),
        "target": _plain(sample.get("target")),
        "response": _plain(response),
    }


def summarize(records: Sequence[dict]) -> float:
    """Accuracy in [0, 1]: mean of the records' "correct"."""
    if not records:
        raise ValueError("records is empty")
    return float(np.mean([r["correct"] for r in records]))


def _plain(value):
    """numpy scalars -> Python scalars (records must be JSON-serializable)."""
    return value.item() if isinstance(value, np.generic) else value
