"""Config validation: JSON schema with defaults filled in, and errors that name the key and the allowed values."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

TOY_DOMAINS = ("math", "code", "commonsense", "domain")
# Default of domains.<name>.target_delimiter: what the toy corpus has between question and answer ("12+7=19",
# "Bako eats zelo."), else lm-eval's default target_delimiter.
TOY_TARGET_DELIMITERS = {"math": "", "code": "", "commonsense": " ", "domain": ""}
TARGET_DELIMITER = " "
# Benchmarks whose lm-eval task runs model-written code (`unsafe_code: true` in their YAML).
UNSAFE_TASKS = ("grokmon_humaneval_plus",)


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message names the key."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"unknown config key(s) {', '.join(repr(k) for k in unknown)} under '{key}'; "
            f"allowed keys: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"missing required config key under '{key}': {error.message}"
    if error.validator == "enum":
        return (
            f"config key '{key}' = {error.instance!r} is not allowed; "
            f"allowed values: {', '.join(map(repr, error.validator_value))}"
        )
    if error.validator == "oneOf":
        return (
            f"config key '{key}' = {error.instance!r} is not allowed: "
            f"{error.schema.get('description', 'see workflow/schemas/config.schema.yaml')}"
        )
    return f"config key '{key}': {error.message}"


def _embed_siblings(schema: dict, schema_path: Path) -> dict:
    """Embed the other *.schema.yaml files of the schema's folder under $defs, each with its file name as $id, so
    that `$ref: "paper_data.schema.yaml"` resolves; their `$schema` is dropped so that jsonschema keeps
    validating them with the default-filling validator."""
    for path in sorted(schema_path.parent.glob("*.schema.yaml")):
        if path.name != schema_path.name:
            sibling = yaml.safe_load(path.read_text())
            sibling.pop("$schema", None)
            schema.setdefault("$defs", {})[path.name] = {**sibling, "$id": path.name}
    return schema


def validate_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Return a copy of `config` validated against the schema, defaults filled in; raise ConfigError naming the key."""
    schema = _embed_siblings(yaml.safe_load(Path(schema_path).read_text()), Path(schema_path))
    resolved = copy.deepcopy(dict(config))
    errors = sorted(_Validator(schema).iter_errors(resolved), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_describe(e) for e in errors))
    _check_semantics(resolved)
    return resolved


def tuning_keys(config: dict[str, Any], recipe: dict[str, Any] | None = None) -> dict[str, str]:
    """{domain: tuning key} of a validated config: domains whose tuning is the same get the same key (one adapter).

    A tuning is the SFT data, how a pair is rendered (`target_delimiter`) and `recipe`, the `lora` keys that differ
    from the run's `lora` section (the rank ablation's; none for the run's own recipe, whose keys are unchanged by
    it). The key is `sft-` and a hash of the domain's SFT data spec (hub/local sources: the same spec and seed load
    the same pairs) or, for the toy, of the domain's name (each toy domain has its own SFT pairs).
    """
    keys = {}
    for name, domain in config["domains"].items():
        data = name if config["checkpoints"]["source"] == "toy" else domain["data"].get("sft")
        tuning = {"sft": data, "target_delimiter": domain["target_delimiter"]} | ({"lora": recipe} if recipe else {})
        digest = hashlib.sha1(json.dumps(tuning, sort_keys=True).encode()).hexdigest()[:10]
        keys[name] = f"sft-{digest}"
    return keys


@dataclass(frozen=True)
class LoraRank:
    """One rank of the LoRA-rank ablation (paper Table 4, config `ablations.lora_ranks`)."""

    rank: int
    """The LoRA rank r."""
    source: str
    """Its accuracy source: `lora` for the run's own `lora.rank` (the main adapters, no extra job),
    else `lora_r{rank}`."""
    recipe: dict[str, Any]
    """The `lora` keys that differ from the run's: {} for the run's rank, else rank and alpha."""
    tunings: dict[str, str]
    """{domain: tuning key} of the ablation's domains; domains tuned alike share one adapter, as in the main run."""


def lora_ranks(config: dict[str, Any]) -> list[LoraRank]:
    """The ranks of a validated config's `ablations.lora_ranks`, in its order ([] when off).

    A rank other than `lora.rank` is another tuning: the run's recipe with that rank and, with `scale_alpha`, alpha
    scaled by rank / lora.rank (alpha / r, the adapter's scaling, stays the run's)."""
    ablation, lora = config["ablations"]["lora_ranks"], config["lora"]
    domains = ablation["domains"] or list(config["domains"])
    ranks = []
    for rank in ablation["ranks"]:
        recipe = {}
        if rank != lora["rank"]:
            alpha = lora["alpha"] * rank / lora["rank"] if ablation["scale_alpha"] else lora["alpha"]
            recipe = {"rank": rank, "alpha": int(alpha) if float(alpha).is_integer() else alpha}
        keys = tuning_keys(config, recipe)
        source = f"lora_r{rank}" if recipe else "lora"
        ranks.append(LoraRank(rank, source, recipe, {d: keys[d] for d in domains}))
    return ranks


def _check_semantics(config: dict[str, Any]) -> None:
    ckpt = config["checkpoints"]
    steps = ckpt["steps"]
    if steps != sorted(steps):
        raise ConfigError(f"config key 'checkpoints.steps' must be in training order (ascending), got {steps}")
    source = ckpt["source"]
    needs = {"hub": ("repo", "revisions"), "local": ("path_pattern",), "toy": ()}[source]
    for key in needs:
        if key not in ckpt:
            raise ConfigError(f"missing config key 'checkpoints.{key}', required when checkpoints.source is {source!r}")
    if source == "toy":
        unknown = sorted(set(config["domains"]) - set(TOY_DOMAINS))
        if unknown:
            raise ConfigError(
                f"config key 'domains' has {unknown} but the toy world only has: {', '.join(TOY_DOMAINS)}"
            )
    for name, domain in config["domains"].items():
        domain.setdefault("target_delimiter", TOY_TARGET_DELIMITERS[name] if source == "toy" else TARGET_DELIMITER)
    if source == "toy":
        pretrain_steps = config["toy"]["pretrain"].get("steps")
        if pretrain_steps is None:
            raise ConfigError("missing config key 'toy.pretrain.steps', required when checkpoints.source is 'toy'")
        if max(steps) > pretrain_steps:
            raise ConfigError(
                f"config key 'checkpoints.steps' goes to {max(steps)} but 'toy.pretrain.steps' is {pretrain_steps}"
            )
    else:
        _check_paper_sources(config)
        if len(config["seeds"]) > 1:
            raise ConfigError(
                f"config key 'seeds' lists {len(config['seeds'])} seeds but checkpoints.source is {source!r}: "
                "several seeds need source 'toy' (hub and local checkpoints come from one pretraining run); "
                "give one seed, e.g. seeds: [0]"
            )
    if config["compare_with"] == config["run"]:
        raise ConfigError(
            f"config key 'compare_with' names this run ({config['run']!r}): give another run's name, or null"
        )
    eps = config["memorization"]["epsilon"]
    if isinstance(eps, dict):
        missing = sorted(set(config["domains"]) - set(eps))
        if missing:
            raise ConfigError(f"config key 'memorization.epsilon' has no value for domain(s) {missing}")
    if config["memorization"]["loss_span"] == "answer" and source != "toy":
        raise ConfigError(
            f"config key 'memorization.loss_span' = 'answer' needs checkpoints.source 'toy', got {source!r}: "
            "the hub/local pretraining texts have no answer span; "
            "allowed values: 'sequence' (whole text, the paper's rule), 'answer' (toy only)"
        )
    lo, hi = config["memorization"]["target_fraction"]
    if lo > hi:
        raise ConfigError(f"config key 'memorization.target_fraction' must be [low, high], got {[lo, hi]}")
    ablation = config["ablations"]["lora_ranks"]
    unknown = sorted(set(ablation["domains"] or ()) - set(config["domains"]))
    if unknown:
        raise ConfigError(
            f"config key 'ablations.lora_ranks.domains' has {unknown}, which are not domains of this run; "
            f"allowed values: {', '.join(map(repr, config['domains']))}, or null for every domain"
        )
    scoring_step = config["contamination"]["step"]
    if scoring_step is not None and scoring_step not in steps:
        raise ConfigError(f"config key 'contamination.step' = {scoring_step} is not one of 'checkpoints.steps' {steps}")
    for key, chosen in config["figures"].items():
        absent = [t for t in ([chosen] if isinstance(chosen, int) else chosen or []) if t not in steps]
        if absent:
            raise ConfigError(f"config key 'figures.{key}' has t* {absent} that are not in 'checkpoints.steps' {steps}")


def _check_paper_sources(config: dict[str, Any]) -> None:
    """Semantic checks of the hub and local sources: paths, per-domain data and benchmark, eviction, unsafe code."""
    ckpt = config["checkpoints"]
    if ckpt["source"] == "local" and "{step}" not in ckpt["path_pattern"]:
        raise ConfigError(f"config key 'checkpoints.path_pattern' must contain {{step}}, got {ckpt['path_pattern']!r}")
    if ckpt["evict_after_use"] and ckpt["source"] != "hub":
        raise ConfigError(
            "config key 'checkpoints.evict_after_use' needs checkpoints.source 'hub' (only hub downloads are evicted)"
        )
    if ckpt["max_cached"] is not None and not ckpt["evict_after_use"]:
        raise ConfigError(
            "config key 'checkpoints.max_cached' needs 'checkpoints.evict_after_use: true' "
            "(nothing is evicted otherwise)"
        )
    for name, domain in config["domains"].items():
        if "data" not in domain or "benchmark" not in domain:
            raise ConfigError(
                f"missing config key 'domains.{name}.data' or 'domains.{name}.benchmark', "
                f"required when checkpoints.source is {ckpt['source']!r}"
            )
        tuned = sorted(set(config["evaluation"]["tuning"]) - {"none"})
        if "sft" not in domain["data"] and tuned:
            raise ConfigError(
                f"missing config key 'domains.{name}.data.sft', required when evaluation.tuning has {tuned} "
                "(zero-shot runs, evaluation.tuning: [none], need none)"
            )
        if "test" in domain["data"]:
            raise ConfigError(
                f"config key 'domains.{name}.data.test' is not used: "
                f"the test items are the docs of 'domains.{name}.benchmark' (lm-eval's doc order)"
            )
        task = domain["benchmark"]["task"]
        if task in UNSAFE_TASKS and not config["evaluation"]["confirm_run_unsafe_code"]:
            raise ConfigError(
                f"config key 'domains.{name}.benchmark.task' = {task!r} runs model-written code: "
                "set 'evaluation.confirm_run_unsafe_code: true' to allow it"
            )
