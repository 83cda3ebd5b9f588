"""Table 1: Pearson and Spearman correlation of every metric with benchmark accuracy, per domain."""

from grokmon.io import read_tsv, write_tsv
from grokmon.jobs import start_job
from grokmon.tables import correlation_table


def main(snakemake):
    start_job(snakemake)
    series = {domain: read_tsv(path) for domain, path in zip(snakemake.params.domains, snakemake.input.series)}
    params = snakemake.params.correlation
    table = correlation_table(
        series,
        params["checkpoints"],
        last_k=params["last_k"],
        rise_floor=params["rise_floor"],
        loss_samples=params["loss_samples"],
    )
    write_tsv(snakemake.output[0], table)


main(snakemake)
