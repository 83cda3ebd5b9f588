# Shared helpers: config validation, paths, wildcard constraints. Everything else lives in rules.
from grokmon.config import validate_config
from grokmon.jobs import export_package_path

# Jobs import the grokmon package from this checkout, also inside conda environments (--sdm conda).
export_package_path(workflow.basedir)

config.update(
    validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))
)

RUN = config["run"]
STEPS = config["checkpoints"]["steps"]
DOMAINS = list(config["domains"])
SPLITS = ["train", "validation", "test"]


wildcard_constraints:
    step=r"\d+",
    domain="|".join(DOMAINS),
    split="|".join(SPLITS),


def out(path):
    """Path of an artifact of this run."""
    return f"results/{RUN}/{path}"


def checkpoint_pointer(wildcards):
    """checkpoint.json of the {step} wildcard's checkpoint."""
    return out(f"checkpoints/{wildcards.step}/checkpoint.json")


def per_step(pattern):
    """Input function: `pattern` (with {step} and {domain}) over every analysed checkpoint."""

    def inputs(wildcards):
        return expand(pattern, step=STEPS, domain=wildcards.domain)

    return inputs


def rule_resources(rule, gpu=False):
    """Resources of `rule`: gpu=1 if it runs a model, plus config resources.<rule> (mem_mb, runtime); --set-resources wins."""
    return {**({"gpu": 1} if gpu else {}), **config["resources"].get(rule, {})}


def section(name):
    """A config section as a plain dict, for params (so a change reruns the rule)."""
    return dict(config.get(name, {}))


def per_domain(pattern):
    """`pattern` (with {domain}) for every domain of the run."""
    return expand(pattern, domain=DOMAINS)
