"""One verdict per paper claim and domain (and the grokking precondition), decided by tests and controls, pooled over the run's seeds."""

from grokmon.io import read_tsv, write_text, write_tsv
from grokmon.jobs import start_job
from grokmon.verdicts import VerdictSettings, claim_verdicts, verdicts_markdown


def per_seed_tables(paths, seeds, domains):
    """{domain: [table of each seed]} from paths ordered seed-major (expand over seeds, then domains)."""
    tables = [read_tsv(path) for path in paths]
    return {d: [tables[i * len(domains) + j] for i in range(len(seeds))] for j, d in enumerate(domains)}


def main(snakemake):
    start_job(snakemake)
    seeds, domains, window = snakemake.params.seeds, snakemake.params.domains, snakemake.params.correlation
    inputs = snakemake.input
    table = claim_verdicts(
        **{name: per_seed_tables(getattr(inputs, name), seeds, domains) for name in ("groups", "series", "matching", "t_star", "t_sharp")},
        checkpoints=window["checkpoints"],
        last_k=window.get("last_k"),
        rise_floor=window.get("rise_floor"),
        settings=VerdictSettings.from_config(snakemake.params.verdicts),
    )
    write_tsv(snakemake.output.tsv, table)
    write_text(snakemake.output.md, verdicts_markdown(table))


main(snakemake)
