"""One verdict per paper claim, domain and accuracy source, decided by the numbers and their controls, pooled over
the run's seeds."""

import pandas as pd

from grokmon.io import read_tsv, write_text, write_tsv
from grokmon.jobs import start_job
from grokmon.verdicts import claim_verdicts, verdicts_markdown


def per_seed_tables(paths, seeds, domains):
    """{domain: [table of each seed]} from paths ordered seed-major (expand over seeds, then domains)."""
    tables = [read_tsv(path) for path in paths]
    return {d: [tables[i * len(domains) + j] for i in range(len(seeds))] for j, d in enumerate(domains)}


def main(snakemake):
    start_job(snakemake)
    seeds, sources, domains = snakemake.params.seeds, snakemake.params.sources, snakemake.params.domains
    groups = per_seed_tables(snakemake.input.groups, seeds, domains)
    per_source = len(seeds) * len(domains)  # series paths are source-major: expand over sources, seeds, domains
    tables = []
    for i, source in enumerate(sources):
        series = per_seed_tables(snakemake.input.series[i * per_source: (i + 1) * per_source], seeds, domains)
        table = claim_verdicts(
            groups=groups, series=series, checkpoints=snakemake.params.correlation["checkpoints"], seed=seeds[0]
        )
        tables.append(table)
    write_tsv(snakemake.output.tsv, pd.concat(tables, keys=sources, names=["accuracy_source", None]).reset_index(0))
    sections = [f"### Accuracy source: {source}\n\n{verdicts_markdown(t)}" for source, t in zip(sources, tables)]
    write_text(snakemake.output.md, "\n".join(sections))


main(snakemake)
