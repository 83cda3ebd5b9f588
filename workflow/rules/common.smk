# Shared helpers: config validation, paths, wildcard constraints. Everything else lives in rules.
import atexit
import os
import sys

from grokmon.workflow.checkpoints import read_revisions
from grokmon.workflow.config import (
    ConfigError,
    lora_ranks,
    tuning_keys,
    validate_config,
)
from grokmon.workflow.jobs import export_package_path
from grokmon.workflow import job_server
from grokmon.workflow.numerics import apply as apply_cpu_numerics

# Jobs import the grokmon package from this checkout, also inside conda environments (--sdm conda).
export_package_path(workflow.basedir)

# The schema in the repository (not workflow.source_path's cached copy): it $refs paper_data.schema.yaml there.
# A config error stops snakemake with its message alone: it prints a sys.exit message without traceback frames.
try:
    config.update(
        validate_config(
            config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml"
        )
    )
except ConfigError as error:
    sys.exit(str(error))

# Every job (local, conda, SLURM: sbatch --export=ALL) inherits the CPU numerics of config key cpu_numerics.
apply_cpu_numerics(config["cpu_numerics"])

# A local run starts a warm job server: the jobs' imports are paid once, not per job (config job_server).
JOB_SERVER = []
# So does the snakemake of a SLURM group job with several members, for them (it runs without hooks: the server
# stops when it exits).
if config["job_server"] and job_server.runs_group_members(sys.argv):
    JOB_SERVER.append(job_server.start(workflow.basedir))
    atexit.register(lambda: JOB_SERVER and job_server.stop(*JOB_SERVER.pop()))


onstart:
    if config["job_server"] and workflow.local_exec:
        JOB_SERVER.append(job_server.start(workflow.basedir))


onsuccess:
    while JOB_SERVER:
        job_server.stop(*JOB_SERVER.pop())


onerror:
    while JOB_SERVER:
        job_server.stop(*JOB_SERVER.pop())


RUN = config["run"]
SEEDS = config["seeds"]
STEPS = config["checkpoints"]["steps"]
DOMAINS = list(config["domains"])
SPLITS = ["train", "validation", "test"]
# One adapter per distinct tuning (SFT data and its rendering): domains with the same one share it.
TUNING = tuning_keys(config)
# Accuracy sources (evaluation.tuning): each gets its own evaluation, t#, matching, series, Table 1 rows and verdicts.
SOURCES = config["evaluation"]["tuning"]
# LoRA-rank ablation (Table 4, ablations.lora_ranks): each rank is an accuracy source (lora for lora.rank, else
# lora_r{rank}) with its own tunings on the ablation's domains, evaluated and correlated like lora.
RANKS = lora_ranks(config)
# {source: {domain: tuning}} of the tuned sources; {tuning: lora keys it overrides} (rank and alpha).
SOURCE_TUNING = {"lora": TUNING, "full": TUNING} | {
    r.source: r.tunings for r in RANKS if r.recipe
}
RECIPE = {key: r.recipe for r in RANKS for key in r.tunings.values()}
# The first domain of each tuning: its SFT pairs and target_delimiter are the tuning's.
TUNED_DOMAIN = {
    key: domain
    for tunings in SOURCE_TUNING.values()
    for domain, key in reversed(list(tunings.items()))
}


wildcard_constraints:
    seed=r"\d+",
    step=r"\d+",
    domain="|".join(DOMAINS),
    split="|".join(SPLITS),
    source="|".join(dict.fromkeys([*SOURCES, *(r.source for r in RANKS)])),
    tuning="|".join(TUNED_DOMAIN),


def out(path):
    """Path pattern of an artifact of one seed's replicate of this run (with the {seed} wildcard)."""
    return f"results/{RUN}/seed{{seed}}/{path}"


def run_out(path):
    """Path of an artifact of the whole run, over all its seeds."""
    return f"results/{RUN}/{path}"


# Hub runs check revisions, datasets and disk before the first download (rule preflight).
PREFLIGHT = (
    [run_out("preflight.json")] if config["checkpoints"]["source"] == "hub" else []
)


def reported(path, caption, category="Figures", subcategory="seed {seed}"):
    """`path` as a report entry: caption workflow/report/<caption>.rst, under `category` and `subcategory` (None: none)."""
    return report(
        path,
        caption=f"../report/{caption}.rst",
        category=category,
        subcategory=subcategory,
    )


def each(pattern, **values):
    """expand() of `pattern` over `values`, leaving the other wildcards ({seed}, {{step}}) in place."""
    return expand(pattern, allow_missing=True, **values)


def replicate_seed(wildcards):
    """The {seed} wildcard as an int: the seed of this replicate's data, training, tuning and pair sampling."""
    return int(wildcards.seed)


def checkpoint_pointer(wildcards):
    """checkpoint.json of the {seed} and {step} wildcards' checkpoint."""
    return out("checkpoints/{step}/checkpoint.json").format(
        seed=wildcards.seed, step=wildcards.step
    )


def previous_train_state(wildcards):
    """The toy pretraining state that the segment ending at {step} (without it: the rest segment, after every
    analysed step) resumes: that of the analysed step before it; none for the first."""
    earlier = (
        [s for s in STEPS if s < int(wildcards.step)]
        if hasattr(wildcards, "step")
        else STEPS
    )
    if not earlier:
        return []
    return out(f"checkpoints/segments/{earlier[-1]}/train_state.pt").format(
        seed=wildcards.seed
    )


def per_step(pattern):
    """Input function: `pattern` (with {step} and the job's wildcards, e.g. {seed}, {domain}) over every analysed checkpoint."""

    def inputs(wildcards):
        return expand(pattern, step=STEPS, **dict(wildcards.items()))

    return inputs


def tuned_model(wildcards):
    """Inputs of evaluate for {source}: the LoRA adapter (lora, lora_r{rank}), the fully tuned model (full) or
    nothing (none), of the source's tuning of the domain."""
    if wildcards.source not in SOURCE_TUNING:
        return {}
    kind, path = (
        ("model", "full") if wildcards.source == "full" else ("adapter", "lora")
    )
    tuning = SOURCE_TUNING[wildcards.source][wildcards.domain]
    return {kind: out(f"{path}/{{step}}/{tuning}").format(**dict(wildcards.items()))}


def lora_recipe(wildcards):
    """The lora section with tuning {tuning}'s overrides (a rank of the rank ablation), for params."""
    return {**config["lora"], **RECIPE.get(wildcards.tuning, {})}


def tuning_sft(wildcards):
    """The SFT pairs of tuning {tuning}: those of its first domain."""
    return out("data/{domain}/sft.jsonl").format(
        seed=wildcards.seed, domain=TUNED_DOMAIN[wildcards.tuning]
    )


def rule_resources(rule, gpu=False):
    """Resources of `rule`: gpu=1 if it runs a model, plus config resources.<rule> (mem_mb, runtime); --set-resources wins."""
    return {**({"gpu": 1} if gpu else {}), **config["resources"].get(rule, {})}


def section(name):
    """A config section as a plain dict, for params (so a change reruns the rule)."""
    return dict(config.get(name, {}))


def per_domain(pattern):
    """`pattern` (with {domain}) for every domain of the run; other wildcards stay."""
    return each(pattern, domain=DOMAINS)


def repo_file(path):
    """`path` if it exists (absolute, or relative to the working directory), else relative to the repository."""
    return path if os.path.exists(path) else os.path.join(workflow.basedir, path)


def hub_revisions():
    """{step: branch} of every analysed step, from the checkpoints.revisions TSV (a missing step fails here)."""
    path = repo_file(config["checkpoints"]["revisions"])
    try:
        revisions = read_revisions(path)
    except (OSError, ValueError) as error:
        sys.exit(f"config key 'checkpoints.revisions': {error}")
    missing = [s for s in STEPS if s not in revisions]
    if missing:
        sys.exit(
            f"config key 'checkpoints.revisions' ({path}) has no revision for step(s) {missing}"
        )
    return revisions


def checkpoint_consumers(wildcards):
    """The pointer of checkpoint {step} and every artifact made from its model: eviction waits for them all."""
    made = [
        *rules.routes.output,
        *rules.router_matrices.output,
        *rules.evaluate.output,
    ]
    made += rules.lora.output if "lora" in SOURCES else []
    made += rules.full_tune.output if "full" in SOURCES else []
    if config["contamination"]["enabled"] and int(wildcards.step) == CONTAMINATION_STEP:
        made += rules.contamination.output
    paths = expand(
        made,
        seed=wildcards.seed,
        step=wildcards.step,
        domain=DOMAINS,
        source=SOURCES,
        tuning=list(TUNING.values()),
    )
    for r in RANKS:  # the rank ablation's adapters and evaluations, on its domains only
        for domain, tuning in r.tunings.items():
            names = dict(seed=wildcards.seed, step=wildcards.step)
            paths += expand(rules.lora.output, **names, tuning=tuning)
            paths += expand(
                rules.evaluate.output, **names, source=r.source, domain=domain
            )
    return [checkpoint_pointer(wildcards), *dict.fromkeys(paths)]


def cache_slot(wildcards):
    """With checkpoints.max_cached = W: the eviction record of the checkpoint W places earlier, which fetching
    {step} waits for (ancient: its later reruns do not refetch), else nothing."""
    window, i = config["checkpoints"]["max_cached"], STEPS.index(int(wildcards.step))
    if window is None or i < window:
        return []
    earlier = STEPS[i - window]
    return ancient(
        out("checkpoints/{step}/evicted.json").format(seed=wildcards.seed, step=earlier)
    )


def contamination_keep(wildcards):
    """The domain's kept-items table when the filter is on, else no input (generalization keeps every item)."""
    on = config["contamination"]["enabled"]
    keep = out("contamination/{domain}.tsv").format(
        seed=wildcards.seed, domain=wildcards.domain
    )
    return keep if on else []
