"""Router vs expert vs attention parameters (paper App. D, Table 3) from the per-checkpoint tensor norms."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.ablations import parameters
from grokmon.workflow import ablation_figures
from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    changes = parameters.norm_changes([read_tsv(p) for p in snakemake.input.norms], snakemake.params.steps)
    table = parameters.convergence_table(changes)
    paper = pd.DataFrame(
        [{"group": g, "paper_speed": s, "paper_stability": t} for g, (s, t) in parameters.PAPER_TABLE3.items()]
    )
    write_tsv(snakemake.output.changes, changes)
    write_tsv(snakemake.output.table, table.merge(paper, on="group", how="left"))
    ablation_figures.table3_figure(changes, table, snakemake.output.figure)


main(snakemake)
