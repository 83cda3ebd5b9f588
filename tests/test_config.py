"""Config validation names the key and the allowed values, and fills defaults."""

import copy
from pathlib import Path

import pytest
import yaml
from conftest import TEST_CONFIG, run_snakemake

from grokmon.workflow.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEMO = yaml.safe_load((REPO / "config/config.yaml").read_text())


def check(config):
    return validate_config(config, SCHEMA)


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml"])
def test_shipped_configs_are_valid(name):
    resolved = check(yaml.safe_load((REPO / "config" / name).read_text()))
    assert resolved["pathways"]["cut"] == 0.7 and resolved["memorization"]["delta"] == 0.05


def test_dense_overlay_on_the_demo_config_is_valid():
    from snakemake.utils import update_config

    config = copy.deepcopy(DEMO)
    update_config(config, yaml.safe_load((REPO / "config/dense.yaml").read_text()))  # as --configfile A B merges
    resolved = check(config)
    assert resolved["run"] == "dense" and resolved["toy"]["model"]["kind"] == "dense"
    assert resolved["toy"]["model"]["num_experts"] == 8 and resolved["virtual_experts"] == {}
    assert check({k: DEMO[k] for k in ("run", "checkpoints", "toy", "domains")})["compare_with"] is None


def test_defaults_are_filled_for_missing_sections():
    config = {k: DEMO[k] for k in ("run", "checkpoints", "toy", "domains")}
    resolved = check(config)
    assert resolved["lora"]["rank"] == 32 and resolved["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj"]
    assert resolved["generalization"] == {"min_accuracy": 0.8, "max_errors": 1, "include_final": False}
    assert "lora" not in config, "the caller's dict must not be modified"


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c.update(lorra={}), ["unknown config key(s) 'lorra'", "allowed keys:", "lora"]),
        (lambda c: c["lora"].update(rank="big"), ["'lora.rank'", "'big' is not of type 'integer'"]),
        (lambda c: c["checkpoints"].update(source="cloud"), ["'checkpoints.source'", "'toy', 'hub', 'local'"]),
        (lambda c: c["pathways"].update(cut=1.5), ["'pathways.cut'", "1.5"]),
        (lambda c: c.pop("domains"), ["missing required config key", "'domains'"]),
        (lambda c: c["memorization"].update(epsilon="often"), ["'memorization.epsilon'", "'often'"]),
        (
            lambda c: c["memorization"].update(epsilon=-1),
            ["'memorization.epsilon' = -1 is not allowed: allowed: auto (", "a number > 0", "domain -> number > 0"],
        ),
        (lambda c: c["checkpoints"].update(steps=[600, 300]), ["'checkpoints.steps'", "ascending"]),
        (lambda c: c["domains"].update(biology={"task": "generate"}), ["toy world only has", "biology"]),
        (lambda c: c["checkpoints"].update(source="hub"), ["'checkpoints.repo'", "hub"]),
        (lambda c: c["toy"]["pretrain"].update(steps=100), ["'toy.pretrain.steps' is 100"]),
        (lambda c: c["toy"]["model"].update(kind="sparse"), ["'toy.model.kind'", "'moe', 'dense'"]),
        (lambda c: c.update(virtual_experts={"partition": "kmeans"}), ["'virtual_experts.partition'", "'contiguous'"]),
        (lambda c: c.update(virtual_experts={"k": 4}), ["'k'", "n_experts"]),
        (lambda c: c.update(compare_with="demo"), ["'compare_with' names this run ('demo')"]),
        (
            lambda c: c["ablations"]["lora_ranks"].update(domains=["biology"]),
            ["'ablations.lora_ranks.domains' has ['biology']", "'math', 'code', 'commonsense', 'domain'", "null"],
        ),
        (
            lambda c: c["ablations"]["lora_ranks"].update(ranks=[32, 0]),
            ["'ablations.lora_ranks.ranks.1'", "minimum of 1"],
        ),
        (lambda c: c["ablations"]["lora_ranks"].update(ranks=[64, 64]), ["'ablations.lora_ranks.ranks'", "non-unique"]),
        (lambda c: c["ablations"].update(lora_rank={}), ["unknown config key(s) 'lora_rank'", "lora_ranks"]),
    ],
)
def test_bad_config_names_the_key(edit, expected):
    config = copy.deepcopy(DEMO)
    edit(config)
    with pytest.raises(ConfigError) as err:
        check(config)
    for text in expected:
        assert text in str(err.value)


def test_memorization_loss_span_defaults_to_sequence_and_answer_needs_the_toy():
    config = copy.deepcopy(DEMO)
    config["memorization"].pop("loss_span", None)
    assert check(config)["memorization"]["loss_span"] == "sequence"  # the paper's whole-sequence loss
    config["memorization"]["loss_span"] = "answer"
    assert check(config)["memorization"]["loss_span"] == "answer"  # the toy rows carry answer_char
    config["memorization"]["loss_span"] = "question"
    with pytest.raises(
        ConfigError, match=r"'memorization.loss_span' = 'question' is not allowed; allowed values: 'sequence', 'answer'"
    ):
        check(config)
    paper = yaml.safe_load((REPO / "config/olmoe.yaml").read_text())
    assert check(paper)["memorization"]["loss_span"] == "sequence"
    paper["memorization"]["loss_span"] = "answer"
    with pytest.raises(ConfigError) as err:
        check(paper)
    for text in ("'memorization.loss_span'", "'hub'", "no answer span", "'sequence'", "'answer'"):
        assert text in str(err.value)


def test_snakemake_prints_a_config_error_alone_without_traceback_frames(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["checkpoints"]["steps"] = [30, 10]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = run_snakemake(tmp_path, "-n", configfile=path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "config key 'checkpoints.steps' must be in training order (ascending), got [30, 10]"
    assert not (tmp_path / "results").exists()
