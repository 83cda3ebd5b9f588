"""One verdict per paper claim and domain, decided by the numbers and their controls."""

from grokmon.io import read_tsv, write_text, write_tsv
from grokmon.jobs import start_job
from grokmon.verdicts import claim_verdicts, verdicts_markdown


def main(snakemake):
    start_job(snakemake)
    domains = snakemake.params.domains
    table = claim_verdicts(
        groups={d: read_tsv(p) for d, p in zip(domains, snakemake.input.groups)},
        series={d: read_tsv(p) for d, p in zip(domains, snakemake.input.series)},
        checkpoints=snakemake.params.correlation["checkpoints"],
        seed=snakemake.params.seed,
    )
    write_tsv(snakemake.output.tsv, table)
    write_text(snakemake.output.md, verdicts_markdown(table))


main(snakemake)
