"""The paper's Fig. 3 schematic drawn from this run: two samples' pathways at their t* and at T, and their
routing embeddings across adjacent layers."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.files.atomic import load_npz
from grokmon.metrics import pathways
from grokmon.workflow import ablation_figures
from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    params, steps = snakemake.params, list(snakemake.params.steps)
    samples, step = ablation_figures.fig3_choice(read_tsv(snakemake.input.t_star), steps)
    shown = [steps[0] if step is None else step, steps[-1]]
    routing = {s: load_npz(snakemake.input.routes[steps.index(s)])["routing"] for s in shown}
    routers = {s: load_npz(snakemake.input.routers[steps.index(s)])["weights"] for s in shown}
    rows = []
    for s in shown:
        strings = pathways.pathway_strings(routing[s][samples], cut=params.cut)
        rows += [{"step": s, "sample": i, "pathway": p} for i, p in zip(samples, strings)]
    write_tsv(snakemake.output.table, pd.DataFrame(rows))
    group = "no Pretrain@t* group before T" if step is None else f"Pretrain@{step}"
    title = f"{params.domain}: samples {samples[0]} and {samples[1]} ({group}) at steps {shown[0]} and T = {shown[1]}"
    ablation_figures.fig3_schematic(routing, routers, samples, params.cut, title, snakemake.output.figure)


main(snakemake)
