"""The paper's benchmarks as lm-eval 0.4.13 tasks, and local-file variants of them for offline runs.

OLMoE (Table 1): math `grokmon_dart_math` and code `grokmon_humaneval_plus` are defined here (include_path =
TASK_DIR); commonsense `commonsense_qa` and domain-specific `mmlu_college_chemistry` are lm-eval's built-ins.
nanoMoE (Table 5, zero-shot): lm-eval's built-in `arc_easy`, `arc_challenge`, `hellaswag` and `openbookqa`.
`write_task_variant` writes a YAML that includes one of them and points it at local parquet/json files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from grokmon.files import atomic

TASK_DIR = Path(__file__).resolve().parent
PACKAGED_TASKS = {"grokmon_dart_math": "dart_math.yaml", "grokmon_humaneval_plus": "humaneval_plus.yaml"}
BUILTIN_TASKS = {
    "commonsense_qa": "commonsense_qa/default.yaml",
    "mmlu_college_chemistry": "mmlu/default/mmlu_college_chemistry.yaml",
    "arc_easy": "arc/arc_easy.yaml",
    "arc_challenge": "arc/arc_challenge.yaml",
    "hellaswag": "hellaswag/hellaswag.yaml",
    "openbookqa": "openbookqa/openbookqa.yaml",
}
# domain -> task of the paper's OLMoE study (Table 1) and of its nanoMoE replication (App. E.6, Table 5)
PAPER_TASKS = {
    "math": "grokmon_dart_math",
    "code": "grokmon_humaneval_plus",
    "commonsense": "commonsense_qa",
    "domain_specific": "mmlu_college_chemistry",
}
NANOMOE_TASKS = {
    "arc_easy": "arc_easy",
    "arc_challenge": "arc_challenge",
    "hellaswag": "hellaswag",
    "openbookqa": "openbookqa",
}


def task_yaml(task: str) -> Path:
    """Path of the YAML that defines one of the paper's tasks (packaged here or built into lm-eval)."""
    if task in PACKAGED_TASKS:
        return TASK_DIR / PACKAGED_TASKS[task]
    if task in BUILTIN_TASKS:
        import lm_eval.tasks

        return Path(lm_eval.tasks.__file__).resolve().parent / BUILTIN_TASKS[task]
    raise ValueError(f"task must be one of {sorted(PACKAGED_TASKS) + sorted(BUILTIN_TASKS)}, got {task!r}")


def write_task_variant(
    task: str,
    out_dir: str | os.PathLike,
    *,
    name: str | None = None,
    data_files: Mapping[str, str | os.PathLike] | None = None,
    data_format: str = "parquet",
    **overrides,
) -> Path:
    """Write `out_dir/{name}.yaml`: `task` read from local files (split -> path, made absolute) and/or with
    top-level keys replaced by `overrides` (e.g. generation_kwargs, doc_to_text); return its path.

    The default name is `{task}_local`. Evaluate it with include_path=out_dir.
    """
    if data_format not in ("parquet", "json"):
        raise ValueError(f"data_format must be parquet or json, got {data_format!r}")
    name = name or f"{task}_local"
    config = {"include": str(task_yaml(task)), "task": name}
    if data_files is not None:
        if not data_files:
            raise ValueError("data_files is empty")
        files = {split: str(Path(p).resolve()) for split, p in data_files.items()}
        missing = [p for p in files.values() if not Path(p).is_file()]
        if missing:
            raise ValueError(f"data_files do not exist: {missing}")
        config |= {"dataset_path": data_format, "dataset_name": None, "dataset_kwargs": {"data_files": files}}
    config |= overrides
    path = Path(out_dir) / f"{name}.yaml"
    atomic.write_text(path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path
