"""One verdict per paper claim and domain, decided by the numbers and their controls, pooled over the run's seeds."""

from grokmon.io import read_tsv, write_text, write_tsv
from grokmon.jobs import start_job
from grokmon.verdicts import claim_verdicts, verdicts_markdown


def per_seed_tables(paths, seeds, domains):
    """{domain: [table of each seed]} from paths ordered seed-major (expand over seeds, then domains)."""
    tables = [read_tsv(path) for path in paths]
    return {d: [tables[i * len(domains) + j] for i in range(len(seeds))] for j, d in enumerate(domains)}


def main(snakemake):
    start_job(snakemake)
    seeds, domains = snakemake.params.seeds, snakemake.params.domains
    table = claim_verdicts(
        groups=per_seed_tables(snakemake.input.groups, seeds, domains),
        series=per_seed_tables(snakemake.input.series, seeds, domains),
        checkpoints=snakemake.params.correlation["checkpoints"],
        seed=seeds[0],
    )
    write_tsv(snakemake.output.tsv, table)
    write_text(snakemake.output.md, verdicts_markdown(table))


main(snakemake)
