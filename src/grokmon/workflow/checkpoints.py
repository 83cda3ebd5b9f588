"""Checkpoint sources: OLMoE hub branches (name, list, fetch, evict) and the per-step pointer artifact."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import huggingface_hub
from huggingface_hub.errors import LocalEntryNotFoundError, RevisionNotFoundError

from grokmon.workflow import io
from grokmon.workflow.jobs import start_job

TOKENS_PER_STEP = 4_194_304
_BRANCH = re.compile(r"step(\d+)-tokens(\d+)B")
_POINTER_KEYS = ("step", "revision", "path")
CHECKPOINT_FILES = ("*.json", "*.safetensors", "tokenizer*")  # what a fetch downloads of a revision
T = TypeVar("T")


def branch_name(step: int, tokens_per_step: int = TOKENS_PER_STEP) -> str:
    """OLMoE branch of a step: `step{N}-tokens{floor(N * tokens_per_step / 1e9)}B` (tokens in billions)."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if tokens_per_step <= 0:
        raise ValueError(f"tokens_per_step must be positive, got {tokens_per_step!r}")
    return f"step{step}-tokens{math.floor(step * tokens_per_step / 1e9)}B"


def read_revisions(tsv: str | os.PathLike) -> dict[int, str]:
    """Read a `step<TAB>revision` TSV into {step: revision}."""
    frame = io.read_tsv(tsv)
    if list(frame.columns) != ["step", "revision"]:
        raise ValueError(f"tsv {tsv} must have the columns step, revision; got {list(frame.columns)}")
    if frame["step"].duplicated().any():
        raise ValueError(f"tsv {tsv} lists a step twice: {sorted(frame['step'][frame['step'].duplicated()])}")
    return {int(s): str(r) for s, r in zip(frame["step"], frame["revision"])}


def refresh_revisions(repo_id: str, steps: Iterable[int], out_tsv: str | os.PathLike) -> dict[int, str]:
    """List the repo's branches on the hub (online only), map each wanted step to its branch, write the TSV."""
    import pandas as pd

    by_step = {}
    for ref in huggingface_hub.list_repo_refs(repo_id).branches:
        match = _BRANCH.fullmatch(ref.name)
        if match:
            by_step[int(match.group(1))] = ref.name
    wanted = sorted(set(steps))
    missing = [s for s in wanted if s not in by_step]
    if missing:
        names = ", ".join(f"{s} ({branch_name(s)})" for s in missing)
        raise ValueError(f"steps: {repo_id} has no branch for step(s) {names}")
    revisions = {s: by_step[s] for s in wanted}
    io.write_tsv(out_tsv, pd.DataFrame({"step": list(revisions), "revision": list(revisions.values())}))
    return revisions


def fetch_hub_checkpoint(
    repo_id: str,
    revision: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    allow_patterns: tuple[str, ...] = CHECKPOINT_FILES,
    local_files_only: bool | None = None,
) -> Path:
    """Download (resumably) or find in the cache one revision of a hub model; return its snapshot dir.

    `local_files_only=None` follows `HF_HUB_OFFLINE` at call time. A revision that is neither on the hub nor
    (offline) in the cache raises FileNotFoundError naming the revision and the repo.
    """
    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    try:
        path = huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            allow_patterns=list(allow_patterns),
            local_files_only=local_files_only,
        )
    except (RevisionNotFoundError, LocalEntryNotFoundError) as err:
        where = "in the local cache" if local_files_only else "on the hub or in the local cache"
        raise FileNotFoundError(
            f"revision {revision!r} of {repo_id!r} not found {where} ({type(err).__name__}: {err})"
        ) from err
    return Path(path)


def evict_checkpoint(repo_id: str, revision: str, cache_dir: str | os.PathLike | None = None) -> int:
    """Delete one cached revision (branch name or commit hash) of a hub model; return the bytes freed (0 if absent)."""
    try:
        cache = huggingface_hub.scan_cache_dir(cache_dir)
    except huggingface_hub.CacheNotFound:
        return 0
    commits = [
        rev.commit_hash
        for repo in cache.repos
        if repo.repo_id == repo_id and repo.repo_type == "model"
        for rev in repo.revisions
        if revision == rev.commit_hash or revision in rev.refs
    ]
    if not commits:
        return 0
    strategy = cache.delete_revisions(*commits)
    strategy.execute()
    return int(strategy.expected_freed_size)


def revision_job(snakemake, action: Callable[..., T]) -> tuple[int, T]:
    """Start a fetch_checkpoint or evict_checkpoint job and run `action` (fetch_hub_checkpoint or evict_checkpoint)
    on its hub revision (params repo, revision, cache_dir); return (the {step} wildcard, what `action` returned),
    logged."""
    log = start_job(snakemake)
    params, step = snakemake.params, int(snakemake.wildcards.step)
    result = action(params.repo, params.revision, cache_dir=params.cache_dir)
    log.info("step %d: %s %s@%s: %s", step, action.__name__, params.repo, params.revision, result)
    return step, result


def write_checkpoint_pointer(path: str | os.PathLike, step: int, revision: str, model_path: str | os.PathLike) -> None:
    """Write the artifact `checkpoints/{step}/checkpoint.json` = {"step", "revision", "path"} atomically."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    io.write_json(path, {"step": step, "revision": str(revision), "path": str(model_path)})


def read_checkpoint_pointer(path: str | os.PathLike) -> dict:
    """Read a checkpoint pointer: {"step": int, "revision": str, "path": str}."""
    pointer = io.read_json(path)
    if not isinstance(pointer, dict) or sorted(pointer) != sorted(_POINTER_KEYS):
        raise ValueError(f"path {path} is not a checkpoint pointer with keys {_POINTER_KEYS}")
    return pointer
