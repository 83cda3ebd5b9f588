"""Table 1: Pearson and Spearman correlation of every metric with benchmark accuracy, per accuracy source and domain
(params.ranks None: rule table1, long form); or Table 4 (params.ranks, rule table4): the same per LoRA rank, one
source per rank, side by side."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tables import correlation_table, rank_table


def main(snakemake):
    start_job(snakemake)
    sources, domains, paths = snakemake.params.sources, snakemake.params.domains, list(snakemake.input.series)
    params = snakemake.params.correlation
    tables = []
    for i in range(len(sources)):  # paths are source-major: expand over sources, then domains
        series = {d: read_tsv(p) for d, p in zip(domains, paths[i * len(domains) : (i + 1) * len(domains)])}
        table = correlation_table(
            series,
            params["checkpoints"],
            last_k=params["last_k"],
            rise_floor=params["rise_floor"],
            loss_samples=params["loss_samples"],
        )
        tables.append(table)
    if snakemake.params.ranks is not None:
        table = rank_table(dict(zip(snakemake.params.ranks, tables)))
    else:
        table = pd.concat(tables, keys=sources, names=["accuracy_source", None]).reset_index(0)
    write_tsv(snakemake.output[0], table)


main(snakemake)
