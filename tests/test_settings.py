"""Each default in one place: the settings dataclasses (and the toy's signatures) hold them; the config schema,
config/config.yaml and the docs that restate one agree with them, and the keyword call forms still take them."""

import inspect
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml

from grokmon.metrics import pathways
from grokmon.metrics.pathways import PathwaySettings
from grokmon.workflow.toy import DEMO_SIZES, pretrain, tiny_olmoe_config, toy_model_config
from grokmon.workflow.tuning import LORA_ONLY, LoraSettings, TuningSettings, train_full, train_lora

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]
CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())
# Keys that config/config.yaml sets away from the default on purpose (its comments say why).
DEMO_CHANGES = {"lora": {"lr", "max_length"}}


def schema_defaults(*path: str) -> dict:
    """{key: default} of the schema section at `path` (keys without a default left out)."""
    section = SCHEMA
    for key in path:
        section = section[key]["properties"]
    return {k: p["default"] for k, p in section.items() if "default" in p}


def signature_defaults(function) -> dict:
    return {k: p.default for k, p in inspect.signature(function).parameters.items() if p.default is not p.empty}


def test_lora_schema_defaults_are_the_settings():
    settings = LoraSettings()
    schema = schema_defaults("lora")
    assert schema.pop("alpha") == settings.lora_alpha == 64  # alpha None: 2 x rank
    assert schema.pop("target_modules") == list(settings.target_modules) == ["q_proj", "k_proj", "v_proj"]
    assert schema == {k: getattr(settings, k) for k in schema}
    assert schema["rank"] == 32 and schema["dropout"] == 0.1 and schema["lr"] == 5e-5  # the paper's
    assert set(SCHEMA["lora"]["properties"]) <= {f.name for f in fields(LoraSettings)}


def test_demo_config_sets_the_lora_defaults_it_does_not_change():
    demo = CONFIG["lora"]
    same = {k: v for k, v in demo.items() if k not in DEMO_CHANGES["lora"]}
    defaults = schema_defaults("lora")
    assert same == {k: defaults[k] for k in same} and len(same) == 7
    assert {k: demo[k] for k in DEMO_CHANGES["lora"]} == {"lr": 0.001, "max_length": 128}


def test_lora_only_keys_are_the_lora_fields():
    assert LORA_ONLY == ("rank", "alpha", "dropout", "target_modules")
    assert {f.name for f in fields(TuningSettings)} == {f.name for f in fields(LoraSettings)} - set(LORA_ONLY)


def test_docs_state_the_settings_defaults():
    s = LoraSettings()
    lr = f"{s.lr:.0e}".replace("e-0", "e-")
    row = f"r {s.rank}, dropout {s.dropout}, lr {lr}, batch {s.batch_size}, {s.epochs} epochs, {s.max_length}, q/k/v"
    paper = (REPO / "docs/reproducing-the-paper.md").read_text()
    assert row == "r 32, dropout 0.1, lr 5e-5, batch 4, 3 epochs, 2048, q/k/v" and row in paper
    assert f"alpha = {s.lora_alpha} (2 x r)" in paper
    monitor = (REPO / "docs/monitor.md").read_text()
    assert f"(cut {PathwaySettings.cut})" in monitor and f"[--cut {PathwaySettings.cut}]" in monitor


def test_pathway_schema_and_demo_cut_are_the_settings():
    assert PathwaySettings.cut == schema_defaults("pathways")["cut"] == CONFIG["pathways"]["cut"] == 0.7
    assert PathwaySettings.cut in schema_defaults("pathways")["cut_sweep"]
    assert PathwaySettings.max_pairs is None  # the library averages all pairs; the workflow's 20000 samples
    for function in (pathways.select_experts, pathways.pathway_strings):
        assert signature_defaults(function)["cut"] == PathwaySettings.cut


def test_toy_schema_defaults_are_the_signatures():
    model = signature_defaults(tiny_olmoe_config) | signature_defaults(toy_model_config)
    assert schema_defaults("toy", "model") == {k: model[k] for k in schema_defaults("toy", "model")}
    training = signature_defaults(pretrain)
    assert schema_defaults("toy", "pretrain") == {k: training[k] for k in ("batch_size", "lr", "warmup")}
    sizes = {f.name: getattr(DEMO_SIZES, f.name) for f in fields(DEMO_SIZES)}
    assert schema_defaults("toy", "world") == sizes


ROUTING = np.array(  # 3 samples, 2 layers, 3 experts; cut 0.5: "0-1", "0-2", "1,0-2"; cut 0.7 adds experts
    [
        [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]],
        [[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]],
        [[0.4, 0.5, 0.1], [0.1, 0.2, 0.7]],
    ]
)


def test_pathway_functions_take_settings_or_their_fields():
    assert pathways.pathway_strings(ROUTING, cut=0.5) == ["0-1", "0-2", "1,0-2"]
    half = PathwaySettings(cut=0.5)
    # pairs: (0-1, 0-2) 1 edit, (0-1, 1,0-2) 3 edits ("0-1" -> "1,0-2"), (0-2, 1,0-2) 2 edits: mean 2
    assert pathways.mean_pairwise_distance(ROUTING, half) == pathways.mean_pairwise_distance(ROUTING, cut=0.5) == 2.0
    assert pathways.mean_pairwise_distance(ROUTING, half, mode="experts") == pytest.approx(4 / 3)  # 1, 2, 1 symbols
    assert pathways.per_layer_distances(ROUTING, half).tolist() == [4 / 3, 2 / 3]
    assert pathways.cross_distance(ROUTING[:1], ROUTING[1:], half) == 2.0  # 1 and 3 edits
    assert pathways.pairwise_distances(ROUTING, half).tolist() == [[0, 1, 3], [1, 0, 2], [3, 2, 0]]
    with pytest.raises(TypeError, match=r"unknown fields \['cutoff'\]; allowed: \['cut', 'mode'"):
        pathways.mean_pairwise_distance(ROUTING, cutoff=0.5)
    with pytest.raises(ValueError, match="mode"):
        PathwaySettings(mode="chars")
    with pytest.raises(ValueError, match="settings must be a PathwaySettings or None, got 0.5"):
        pathways.mean_pairwise_distance(ROUTING, 0.5)  # the old positional cut


def test_tuning_settings_validate_and_resolve():
    assert LoraSettings(rank=8).lora_alpha == 16 and LoraSettings(rank=8, alpha=3).lora_alpha == 3
    with pytest.raises(ValueError, match="rank"):
        LoraSettings(rank=0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TuningSettings(optimizer="lion")
    rows = [{"prompt": "1+1", "response": "2"}]
    with pytest.raises(ValueError, match="settings must be a LoraSettings or None, got 8"):
        train_lora("no-model", rows, "no-out", 8)  # a positional rank: refused before any model is read
    with pytest.raises(ValueError, match="settings must be a TuningSettings or None, got 0.001"):
        train_full("no-model", rows, "no-out", 1e-3)
    with pytest.raises(TypeError, match=r"unknown fields \['ranks'\]"):
        train_lora("no-model", rows, "no-out", ranks=8)
