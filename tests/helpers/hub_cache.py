"""A local Hugging Face hub cache (HF_HUB_CACHE layout) holding tiny OLMoEs under revision names, for offline runs."""

import hashlib
import os
from pathlib import Path

from tiny_models import tiny_olmoe, tiny_tokenizer

from grokmon.workflow.checkpoints import branch_name

HUB_REPO = "allenai/OLMoE-1B-7B-0924"  # the paper's checkpoints (config/olmoe.yaml checkpoints.repo)


def place_in_hub_cache(cache, repo_id, revision, model_dir):
    """HF_HUB_CACHE layout: blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/<sha256>, refs/<revision>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    commit = hashlib.sha1(b"".join(p.read_bytes() for p in files)).hexdigest()
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for p in files:
        blob = hashlib.sha256(p.read_bytes()).hexdigest()
        (repo / "blobs" / blob).write_bytes(p.read_bytes())
        (snapshot / p.name).symlink_to(os.path.join("..", "..", "blobs", blob))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return commit


def tiny_cache(root: Path, steps: list[int]) -> tuple[Path, dict]:
    """A local HF cache holding a different tiny OLMoE under each paper branch of `steps`."""
    cache, tok = root / "cache", tiny_tokenizer()
    for seed, step in enumerate(steps):
        model_dir = root / f"model{step}"
        tiny_olmoe(tok, seed=seed).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        place_in_hub_cache(cache, HUB_REPO, branch_name(step), model_dir)
    return cache, {s: branch_name(s) for s in steps}
