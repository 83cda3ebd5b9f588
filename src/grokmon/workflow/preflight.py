"""Pre-flight of a hub run: what makes a cluster run fail hours in, checked before the first job that needs a GPU.

Checked: every analysed step has a revision in the revisions table and that revision exists (online:
the hub's branches and tags; offline: the local cache); every hub dataset of the data specs is
reachable (online: the hub; offline: the local caches), gated ones with a token; every local
`data_files` pattern matches a file; the checkpoint cache's disk has room for the checkpoints kept at
once (`max_cached`, or all of them without eviction). `evaluation.confirm_run_unsafe_code` for
HumanEval+ is checked by the config validation that runs before this. Each problem is one line that
names the config key and the repo, revision, dataset or path.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from grokmon.workflow.checkpoints import CHECKPOINT_FILES, read_revisions

# Hub datasets of the paper that are gated (need an accepted licence and a token); used when offline.
GATED_DATASETS = ("bigcode/starcoderdata",)
_DATA_SPLITS = ("train", "validation", "sft")


@dataclass(frozen=True)
class PreflightReport:
    """Outcome of a pre-flight: the problems (one line each) and what was checked."""

    problems: tuple[str, ...]
    revisions: int
    datasets: int
    free_bytes: int | None
    needed_bytes: int | None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """One line for a log: what was checked and the disk room."""
        disk = "disk room not checked (checkpoint size unknown)"
        if self.needed_bytes is not None:
            disk = f"{self.free_bytes / 1e9:.1f} GB free for {self.needed_bytes / 1e9:.1f} GB of checkpoints"
        return f"{self.revisions} revisions, {self.datasets} hub datasets checked; {disk}"


def preflight(config: Mapping, *, offline: bool | None = None, free_bytes: int | None = None) -> PreflightReport:
    """Check a validated hub config (see the module doc); `offline=None` follows HF_HUB_OFFLINE,
    `free_bytes` overrides the disk reading."""
    if config["checkpoints"]["source"] != "hub":
        raise ValueError(f"preflight checks hub runs; checkpoints.source is {config['checkpoints']['source']!r}")
    if offline is None:
        offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    ckpt = config["checkpoints"]
    problems, revisions = _revision_problems(ckpt, offline)
    datasets = sorted({spec["dataset"] for _, spec in _data_specs(config) if spec.get("dataset")})
    problems += _dataset_problems(config, offline)
    problems += _data_file_problems(config)
    free, needed, disk = _disk_problems(ckpt, list(revisions.values()), offline, free_bytes)
    return PreflightReport(tuple(problems + disk), len(revisions), len(datasets), free, needed)


def _revision_problems(ckpt: Mapping, offline: bool) -> tuple[list[str], dict[int, str]]:
    table = read_revisions(ckpt["revisions"])
    missing = [s for s in ckpt["steps"] if s not in table]
    problems = [f"checkpoints.revisions: {ckpt['revisions']} has no revision for step {s}" for s in missing]
    revisions = {s: table[s] for s in ckpt["steps"] if s in table}
    repo = ckpt["repo"]
    if offline:
        absent = [r for r in revisions.values() if not _revision_cached(repo, r, ckpt["cache_dir"])]
        where = "in the local cache (offline)"
    else:
        try:
            refs = huggingface_hub.list_repo_refs(repo)
        except RepositoryNotFoundError:
            return [*problems, f"checkpoints.repo: {repo!r} not found on the hub"], revisions
        names = {ref.name for ref in [*refs.branches, *refs.tags]}
        absent = [r for r in revisions.values() if r not in names and not _is_commit(r)]
        where = "on the hub"
    problems += [f"checkpoints.revisions: revision {r!r} of {repo!r} not found {where}" for r in absent]
    return problems, revisions


def _revision_cached(repo: str, revision: str, cache_dir: str | None) -> bool:
    found = huggingface_hub.try_to_load_from_cache(repo, "config.json", cache_dir=cache_dir, revision=revision)
    return isinstance(found, str)


def _is_commit(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def _data_specs(config: Mapping) -> Iterator[tuple[str, Mapping]]:
    """(config key, spec) of every data source: each domain's train/validation/sft and its benchmark."""
    for name, domain in config["domains"].items():
        for split in _DATA_SPLITS:
            if split in domain.get("data", {}):
                yield f"domains.{name}.data.{split}", domain["data"][split]
        if "benchmark" in domain:
            yield f"domains.{name}.benchmark", domain["benchmark"]


def _dataset_problems(config: Mapping, offline: bool) -> list[str]:
    problems, seen = [], set()
    token = huggingface_hub.get_token()
    for key, spec in _data_specs(config):
        repo = spec.get("dataset")
        if not repo or repo in seen:
            continue
        seen.add(repo)
        if offline:
            gated = repo in GATED_DATASETS
            if not _dataset_cached(repo):
                problems.append(f"{key}.dataset: {repo!r} not found in the local caches (offline)")
        else:
            try:
                gated = bool(huggingface_hub.HfApi().dataset_info(repo).gated)
            except RepositoryNotFoundError:
                problems.append(f"{key}.dataset: {repo!r} not found on the hub")
                continue
            except HfHubHTTPError as error:
                problems.append(f"{key}.dataset: {repo!r} not reachable ({error})")
                continue
        if gated and not token:
            problems.append(
                f"{key}.dataset: {repo!r} is gated: "
                "accept its terms on the hub and log in (`hf auth login`) or set HF_TOKEN"
            )
    return problems


def _dataset_cached(repo: str) -> bool:
    """A hub dataset is usable offline when the hub cache holds a snapshot or the datasets cache a prepared copy."""
    hub = Path(constants.HF_HUB_CACHE) / ("datasets--" + repo.replace("/", "--")) / "snapshots"
    prepared = Path(os.environ.get("HF_DATASETS_CACHE", Path(constants.HF_HOME) / "datasets")) / repo.replace(
        "/", "___"
    )
    return (hub.is_dir() and any(hub.iterdir())) or prepared.is_dir()


def _data_file_problems(config: Mapping) -> list[str]:
    problems = []
    for key, spec in _data_specs(config):
        files = spec.get("data_files")
        patterns = files.values() if isinstance(files, Mapping) else [files]
        for pattern in patterns:
            for p in [pattern] if isinstance(pattern, str) else (pattern or []):
                if not glob.glob(os.path.expanduser(p), recursive=True):
                    problems.append(f"{key}.data_files: no file matches {p!r}")
    return problems


def _disk_problems(
    ckpt: Mapping, revisions: list[str], offline: bool, free_bytes: int | None
) -> tuple[int | None, int | None, list[str]]:
    """(free bytes, bytes needed, problems): room for max_cached (or all) checkpoints beside what is cached already."""
    if not revisions:
        return None, None, []
    cache_dir = Path(ckpt["cache_dir"] or constants.HF_HUB_CACHE)
    size = _checkpoint_bytes(ckpt["repo"], revisions, ckpt["cache_dir"], offline)
    if size is None:
        return None, None, []
    kept = min(ckpt["max_cached"] or len(revisions), len(revisions)) if ckpt["evict_after_use"] else len(revisions)
    cached = sum(1 for r in revisions if _revision_cached(ckpt["repo"], r, ckpt["cache_dir"]))
    needed = max(0, kept - cached) * size
    if free_bytes is None:
        existing = next(p for p in [cache_dir, *cache_dir.parents] if p.exists())
        free_bytes = shutil.disk_usage(existing).free
    if free_bytes >= needed:
        return free_bytes, needed, []
    key = "checkpoints.max_cached" if ckpt["evict_after_use"] else "checkpoints.evict_after_use"
    return (
        free_bytes,
        needed,
        [
            f"{key}: {cache_dir} has {free_bytes / 1e9:.1f} GB free, {kept} checkpoints of {ckpt['repo']!r} "
            f"({size / 1e9:.1f} GB each) need {needed / 1e9:.1f} GB more; "
            "free space, lower max_cached or set checkpoints.cache_dir"
        ],
    )


def _checkpoint_bytes(repo: str, revisions: list[str], cache_dir: str | None, offline: bool) -> int | None:
    """Bytes of one checkpoint's fetched files: from the hub's file list, or offline from a cached revision."""
    if not offline:
        info = huggingface_hub.HfApi().model_info(repo, revision=revisions[0], files_metadata=True)
        return sum(s.size or 0 for s in info.siblings if any(fnmatch(s.rfilename, p) for p in CHECKPOINT_FILES))
    try:
        cache = huggingface_hub.scan_cache_dir(cache_dir)
    except huggingface_hub.CacheNotFound:
        return None
    sizes = [
        rev.size_on_disk for r in cache.repos if r.repo_id == repo and r.repo_type == "model" for rev in r.revisions
    ]
    return max(sizes) if sizes else None
