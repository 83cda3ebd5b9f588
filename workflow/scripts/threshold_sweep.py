"""Epsilon or delta sweep (paper Figs. 10-11): memorization groups and their post-t* distance trend per setting."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.ablations import sweeps
from grokmon.files.atomic import load_npz
from grokmon.workflow import ablation_figures
from grokmon.workflow.io import read_json, write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    params, kind = snakemake.params, snakemake.wildcards.sweep
    tables, summaries, series = [], [], []
    n_steps = len(params.steps)
    for d, domain in enumerate(params.domains):
        run = read_json(snakemake.input.epsilon[d])
        settings = sweeps.sweep_settings(
            kind,
            params.sweeps[kind],
            params.sweeps["epsilon_relative"],
            run["epsilon"],
            run["delta"],
            params.sweeps["delta_epsilon"],
        )
        routing = [load_npz(p)["routing"] for p in snakemake.input.routes[d * n_steps : (d + 1) * n_steps]]
        table, curves = sweeps.sweep_table(
            load_npz(snakemake.input.loss[d])["loss"],
            routing,
            params.steps,
            settings,
            cut=params.cut,
            max_pairs=params.sweeps["max_pairs"],
            seed=params.seed,
        )
        tables.append(table.assign(domain=domain))
        summaries.append(sweeps.sweep_summary(table).assign(domain=domain))
        series.append(curves.assign(domain=domain))
    table, summary, curves = (pd.concat(frames, ignore_index=True) for frames in (tables, summaries, series))
    write_tsv(snakemake.output.groups, table)
    write_tsv(snakemake.output.summary, summary)
    write_tsv(snakemake.output.series, curves)
    ablation_figures.sweep_figure(curves, summary, kind, snakemake.output.figure)


main(snakemake)
