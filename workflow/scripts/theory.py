"""The paper's theory experiment (App. C.4, Fig. 8): routing-kernel d_eff against pathway distance over seeds."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.ablations.theory import TheorySettings, theory_experiment
from grokmon.workflow import ablation_figures
from grokmon.workflow.io import write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    log = start_job(snakemake)
    section = dict(snakemake.params.theory)
    if "router_scale" in section:
        section["router_scale"] = tuple(section["router_scale"])
    table, stats = theory_experiment(TheorySettings(**section), seed=snakemake.params.seed)
    log.info(
        "distance vs d_eff/n over %d seeds: Pearson %.3f, Spearman %.3f",
        stats["n"],
        stats["pearson"],
        stats["spearman"],
    )
    write_tsv(snakemake.output.seeds, table)
    write_tsv(snakemake.output.correlation, pd.DataFrame([stats]))
    ablation_figures.fig8_theory(table, stats, snakemake.output.figure)


main(snakemake)
