# grokmon: where to find grokking in MoE pretraining (arXiv 2506.21551), as a workflow.
# Method: take pretraining checkpoints -> capture per-sample loss and routing -> find when each
# training sample is memorized -> instruction-tune (LoRA; or zero-shot / full tuning) and benchmark each checkpoint -> find when
# each test item generalizes -> match train and test groups -> pathway distance and consistency
# -> correlate with accuracy -> figures and report.
from snakemake.utils import min_version

min_version("9.0")


# The tiny offline demo by default; `--configfile config/olmoe.yaml` replaces it (not merged).
if not config:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/checkpoints.smk"
include: "workflow/rules/routes.smk"
include: "workflow/rules/memorization.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/contamination.smk"
include: "workflow/rules/generalization.smk"
include: "workflow/rules/matching.smk"
include: "workflow/rules/pathways.smk"
include: "workflow/rules/correlation.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/ablations.smk"
include: "workflow/rules/comparison.smk"


# Every seed's replicate (results/{run}/seed{seed}/), per accuracy source where accuracy enters, then the
# verdicts over all seeds.
rule all:
    input:
        resolved_config=run_out("config.resolved.yaml"),
        table1=expand(out("correlation/table1.tsv"), seed=SEEDS),
        matching=expand(
            out("matching/{source}/{domain}.tsv"),
            seed=SEEDS,
            source=SOURCES,
            domain=DOMAINS,
        ),
        figures=expand(FIGURES, seed=SEEDS),
        ablations=expand(ABLATIONS, seed=SEEDS),
        evicted=expand(EVICTED, seed=SEEDS),
        verdicts=run_out("verdicts/claims.tsv"),
        comparison=COMPARISON,
