"""One verdict per paper claim, domain and accuracy source (and the grokking precondition), decided by tests and
controls, pooled over the run's seeds."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.claims.verdicts import VerdictSettings, claim_verdicts, verdicts_markdown
from grokmon.files.atomic import write_text
from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job


def per_seed_tables(paths, seeds, domains):
    """{domain: [table of each seed]} from paths ordered seed-major (expand over seeds, then domains)."""
    tables = [read_tsv(path) for path in paths]
    return {d: [tables[i * len(domains) + j] for i in range(len(seeds))] for j, d in enumerate(domains)}


def main(snakemake):
    start_job(snakemake)
    seeds, sources, domains = snakemake.params.seeds, snakemake.params.sources, snakemake.params.domains
    inputs, window = snakemake.input, snakemake.params.correlation
    settings = VerdictSettings.from_config(snakemake.params.verdicts)
    shared = {name: per_seed_tables(getattr(inputs, name), seeds, domains) for name in ("groups", "t_star")}
    per_source = len(seeds) * len(domains)  # per-source paths are source-major: expand over sources, seeds, domains
    tables = []
    for i in range(len(sources)):
        part = slice(i * per_source, (i + 1) * per_source)
        own = {
            name: per_seed_tables(getattr(inputs, name)[part], seeds, domains)
            for name in ("series", "matching", "t_sharp")
        }
        table = claim_verdicts(
            **shared,
            **own,
            checkpoints=window["checkpoints"],
            last_k=window["last_k"],
            rise_floor=window["rise_floor"],
            settings=settings,
        )
        tables.append(table)
    write_tsv(snakemake.output.tsv, pd.concat(tables, keys=sources, names=["accuracy_source", None]).reset_index(0))
    sections = [f"### Accuracy source: {source}\n\n{verdicts_markdown(t)}" for source, t in zip(sources, tables)]
    write_text(snakemake.output.md, "\n".join(sections))


main(snakemake)
