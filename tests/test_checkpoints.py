import os

import httpx2
import pytest
import torch
from helpers.hub_cache import place_in_hub_cache
from huggingface_hub.errors import RevisionNotFoundError
from huggingface_hub.hf_api import GitRefInfo, GitRefs
from tiny_models import tiny_olmoe, tiny_tokenizer
from transformers import AutoModelForCausalLM

from grokmon.workflow import checkpoints

REPO = "allenai/OLMoE-1B-7B-0924"
PAPER_STEPS = [5000, 125000, 245000, 370000, 490000, 615000, 735000, 855000, 980000, 1100000]
# spec.md section 1, verbatim
PAPER_BRANCHES = [
    "step5000-tokens20B",
    "step125000-tokens524B",
    "step245000-tokens1027B",
    "step370000-tokens1551B",
    "step490000-tokens2055B",
    "step615000-tokens2579B",
    "step735000-tokens3082B",
    "step855000-tokens3586B",
    "step980000-tokens4110B",
    "step1100000-tokens4613B",
]
CONFIG_TSV = os.path.join(os.path.dirname(__file__), "..", "config", "olmoe_revisions.tsv")


def test_branch_names_of_the_paper_steps():
    assert [checkpoints.branch_name(s) for s in PAPER_STEPS] == PAPER_BRANCHES
    # names seen in OLMoE code (datasets.md section 3)
    assert checkpoints.branch_name(10000) == "step10000-tokens41B"
    assert checkpoints.branch_name(1200000) == "step1200000-tokens5033B"
    assert checkpoints.branch_name(3, tokens_per_step=1_000_000_000) == "step3-tokens3B"
    with pytest.raises(ValueError, match="step"):
        checkpoints.branch_name(-5)


def test_committed_revision_table():
    assert checkpoints.read_revisions(CONFIG_TSV) == dict(zip(PAPER_STEPS, PAPER_BRANCHES))


def test_read_revisions_rejects_duplicates(tmp_path):
    (tmp_path / "r.tsv").write_text("step\trevision\n5\ta\n5\tb\n")
    with pytest.raises(ValueError, match="twice"):
        checkpoints.read_revisions(tmp_path / "r.tsv")


def _refs(*names):
    return GitRefs(branches=[GitRefInfo(n, f"refs/heads/{n}", "0" * 40) for n in names], converts=[], tags=[])


def test_refresh_revisions(tmp_path, monkeypatch):
    monkeypatch.setattr(
        checkpoints.huggingface_hub,
        "list_repo_refs",
        lambda repo_id: _refs("main", "step5000-tokens20B", "step125000-tokens524B", "step10000-tokens41B"),
    )
    out = tmp_path / "rev.tsv"
    assert checkpoints.refresh_revisions(REPO, [125000, 5000], out) == {
        5000: "step5000-tokens20B",
        125000: "step125000-tokens524B",
    }
    assert out.read_text() == "step\trevision\n5000\tstep5000-tokens20B\n125000\tstep125000-tokens524B\n"
    with pytest.raises(ValueError, match=r"245000 \(step245000-tokens1027B\), 370000"):
        checkpoints.refresh_revisions(REPO, [5000, 245000, 370000], tmp_path / "no.tsv")
    assert not (tmp_path / "no.tsv").exists()


def test_checkpoint_pointer_roundtrip(tmp_path):
    p = tmp_path / "checkpoints" / "5000" / "checkpoint.json"
    checkpoints.write_checkpoint_pointer(p, 5000, "step5000-tokens20B", tmp_path / "m")
    assert checkpoints.read_checkpoint_pointer(p) == {
        "step": 5000,
        "revision": "step5000-tokens20B",
        "path": str(tmp_path / "m"),
    }
    (tmp_path / "bad.json").write_text('{"step": 1}')
    with pytest.raises(ValueError, match="path"):
        checkpoints.read_checkpoint_pointer(tmp_path / "bad.json")


# ---- a tiny OLMoE placed in a local HF_HUB_CACHE under two revision names ----


def _save_tiny_olmoe(directory, seed, tok):
    model = tiny_olmoe(tok, seed=seed)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return model


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    tok = tiny_tokenizer()
    cache, models_ = root / "cache", {}
    for seed, revision in [(0, "step5000-tokens20B"), (1, "step125000-tokens524B")]:
        model = _save_tiny_olmoe(root / revision, seed, tok)
        place_in_hub_cache(cache, REPO, revision, root / revision)
        models_[revision] = model
    return cache, models_


def test_fetch_two_revisions_offline_and_load(hub_cache, monkeypatch):
    cache, saved = hub_cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    logits = {}
    for revision, original in saved.items():
        path = checkpoints.fetch_hub_checkpoint(REPO, revision, cache_dir=cache)
        repo_dir = cache / "models--allenai--OLMoE-1B-7B-0924"
        assert path == repo_dir / "snapshots" / (repo_dir / "refs" / revision).read_text()
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in path.iterdir()}
        model = AutoModelForCausalLM.from_pretrained(path)
        assert type(model).__name__ == "OlmoeForCausalLM"
        with torch.no_grad():
            logits[revision] = model(ids).logits
            torch.testing.assert_close(logits[revision], original(ids).logits)
    a, b = logits.values()
    assert not torch.allclose(a, b)  # two different checkpoints, not one served twice


def test_missing_revision_names_it(hub_cache, monkeypatch):
    cache, _ = hub_cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"'step245000-tokens1027B' of 'allenai/OLMoE-1B-7B-0924'.*local cache"):
        checkpoints.fetch_hub_checkpoint(REPO, "step245000-tokens1027B", cache_dir=cache)


def test_missing_revision_online_names_it(tmp_path, monkeypatch):
    request = httpx2.Request("GET", "https://huggingface.co/api/models/x/revision/nope")

    def not_found(*args, **kwargs):
        raise RevisionNotFoundError("404 Client Error", response=httpx2.Response(404, request=request))

    monkeypatch.setattr(checkpoints.huggingface_hub, "snapshot_download", not_found)
    with pytest.raises(FileNotFoundError, match=r"'nope' of 'allenai/OLMoE-1B-7B-0924' not found on the hub"):
        checkpoints.fetch_hub_checkpoint(REPO, "nope", cache_dir=tmp_path, local_files_only=False)


def test_evict_frees_only_that_revision(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = tiny_tokenizer()
    cache = tmp_path / "cache"
    for seed, revision in [(0, "a"), (1, "b")]:
        _save_tiny_olmoe(tmp_path / revision, seed, tok)
        place_in_hub_cache(cache, REPO, revision, tmp_path / revision)
    # config, tokenizer files are byte-identical across the two, so only a's weights are a's alone
    weights_a = (tmp_path / "a" / "model.safetensors").stat().st_size
    assert weights_a > 10_000
    assert checkpoints.evict_checkpoint(REPO, "a", cache_dir=cache) == weights_a
    assert checkpoints.evict_checkpoint(REPO, "a", cache_dir=cache) == 0
    with pytest.raises(FileNotFoundError, match="'a'"):
        checkpoints.fetch_hub_checkpoint(REPO, "a", cache_dir=cache)
    path_b = checkpoints.fetch_hub_checkpoint(REPO, "b", cache_dir=cache)
    AutoModelForCausalLM.from_pretrained(path_b)
    assert checkpoints.evict_checkpoint(REPO, "b", cache_dir=cache) == sum(
        p.stat().st_size for p in (tmp_path / "b").iterdir()
    )
    assert not (cache / "models--allenai--OLMoE-1B-7B-0924").exists()
    assert checkpoints.evict_checkpoint(REPO, "b", cache_dir=tmp_path / "nothing") == 0
