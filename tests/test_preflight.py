"""Pre-flight of a hub run, offline: revisions in the local cache, gated datasets, local files and disk room."""

import copy

import pytest
from helpers.hub_cache import tiny_cache

from grokmon.workflow import preflight as pf
from grokmon.workflow.checkpoints import branch_name

REPO = "allenai/OLMoE-1B-7B-0924"
STEPS = [5000, 125000]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A local HF cache with a tiny OLMoE under the branches of STEPS."""
    return tiny_cache(tmp_path_factory.mktemp("preflight"), STEPS)[0]


def _config(tmp_path, cache, revisions: dict, **checkpoints) -> dict:
    tsv = tmp_path / "revisions.tsv"
    tsv.write_text("step\trevision\n" + "".join(f"{s}\t{r}\n" for s, r in revisions.items()))
    text = tmp_path / "train.jsonl"
    text.write_text('{"text": "a"}\n')
    data = {
        "train": {"data_files": str(text)},
        "validation": {"data_files": str(text)},
        "sft": {"data_files": str(text)},
    }
    return {
        "checkpoints": {
            "source": "hub",
            "repo": REPO,
            "steps": list(revisions),
            "revisions": str(tsv),
            "cache_dir": str(cache),
            "evict_after_use": True,
            "max_cached": 1,
            **checkpoints,
        },
        "domains": {
            "math": {"data": data, "benchmark": {"task": "grokmon_dart_math", "data_files": {"test": str(text)}}}
        },
    }


def test_offline_run_with_everything_cached_passes(tmp_path, cache):
    report = pf.preflight(_config(tmp_path, cache, {s: branch_name(s) for s in STEPS}), offline=True)
    assert report.ok, report.problems
    assert (report.revisions, report.datasets, report.needed_bytes) == (2, 0, 0)  # both cached: no room needed


def test_missing_revision_names_key_revision_and_repo(tmp_path, cache):
    config = _config(tmp_path, cache, {5000: branch_name(5000), 245000: "step245000-tokens1027B"})
    report = pf.preflight(config, offline=True)
    assert report.problems == (
        f"checkpoints.revisions: revision 'step245000-tokens1027B' of '{REPO}' not found in the local cache (offline)",
    )
    config["checkpoints"]["steps"] = [5000, 370000]  # a step the table does not list
    assert (
        f"checkpoints.revisions: {tmp_path / 'revisions.tsv'} has no revision for step 370000"
        in pf.preflight(config, offline=True).problems
    )


def test_gated_dataset_without_a_token_names_it(tmp_path, cache, monkeypatch):
    hub = tmp_path / "hub"
    (hub / "datasets--bigcode--starcoderdata" / "snapshots" / ("0" * 40)).mkdir(parents=True)
    monkeypatch.setattr(pf.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(pf.huggingface_hub, "get_token", lambda: None)
    config = _config(tmp_path, cache, {s: branch_name(s) for s in STEPS})
    config["domains"]["math"]["data"]["train"] = {"dataset": "bigcode/starcoderdata", "data_dir": "python"}
    config["domains"]["math"]["data"]["validation"] = {"dataset": "qwedsacf/competition_math"}
    problems = pf.preflight(config, offline=True).problems
    assert problems == (
        "domains.math.data.train.dataset: 'bigcode/starcoderdata' is gated: accept its terms on the hub and log in "
        "(`hf auth login`) or set HF_TOKEN",
        "domains.math.data.validation.dataset: 'qwedsacf/competition_math' not found in the local caches (offline)",
    )
    monkeypatch.setattr(pf.huggingface_hub, "get_token", lambda: "hf_x")
    assert len(pf.preflight(config, offline=True).problems) == 1  # with a token only the uncached one is left


def test_too_little_disk_names_the_key_and_the_sizes(tmp_path, cache):
    revisions = {s: branch_name(s) for s in STEPS} | {245000: "step245000-tokens1027B"}
    config = _config(tmp_path, cache, revisions, max_cached=3)
    report = pf.preflight(config, offline=True, free_bytes=1000)
    size = report.needed_bytes  # one uncached checkpoint of the size of a cached one
    assert size > 1000
    assert report.problems[-1].startswith(f"checkpoints.max_cached: {cache} has 0.0 GB free, 3 checkpoints of '{REPO}'")
    assert pf.preflight(config, offline=True, free_bytes=size).problems == report.problems[:-1]  # room enough
    no_eviction = copy.deepcopy(config)
    no_eviction["checkpoints"].update(evict_after_use=False, max_cached=None)
    assert (
        pf.preflight(no_eviction, offline=True, free_bytes=1000).problems[-1].startswith("checkpoints.evict_after_use:")
    )


def test_missing_local_data_file_names_key_and_pattern(tmp_path, cache):
    config = _config(tmp_path, cache, {s: branch_name(s) for s in STEPS})
    config["domains"]["math"]["data"]["sft"] = {"data_files": str(tmp_path / "nope" / "*.json")}
    assert pf.preflight(config, offline=True).problems == (
        f"domains.math.data.sft.data_files: no file matches '{tmp_path / 'nope' / '*.json'}'",
    )
