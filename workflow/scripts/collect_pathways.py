"""Stack one domain's per-checkpoint pathway tables into one table with a step column."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    steps = snakemake.params.steps
    for name in ("groups", "layers"):
        tables = [read_tsv(path).assign(step=step) for step, path in zip(steps, snakemake.input[name])]
        write_tsv(snakemake.output[name], pd.concat(tables, ignore_index=True))


main(snakemake)
