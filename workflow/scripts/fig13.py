"""Routing entropy against pathway edit distance over pairs of training samples at the last checkpoint
(paper Fig. 13, a control)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.claims import controls
from grokmon.files.atomic import load_npz
from grokmon.workflow import figures
from grokmon.workflow.io import write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params
    pairs, stats, rows = {}, {}, []
    for domain, path in zip(params.domains, snakemake.input.train, strict=True):
        routing = load_npz(path)["routing"]
        pairs[domain] = controls.entropy_distance_pairs(
            routing, cut=params.cut, max_pairs=params.max_pairs, seed=params.seed
        )
        stats[domain] = s = controls.entropy_distance_summary(*pairs[domain])
        rows.append(
            {
                "domain": domain,
                "step": int(params.step),
                "cut": float(params.cut),
                "n_pairs": s["n"],
                "pearson": s["pearson"],
                "pearson_p": s["pearson_p"],
                "spearman": s["spearman"],
                "spearman_p": s["spearman_p"],
                "r_squared": s["r_squared"],
                "mean_distance": s["mean_distance"],
                "mean_entropy": s["mean_entropy"],
            }
        )
    write_tsv(snakemake.output.table, pd.DataFrame(rows))
    figures.fig13_entropy_distance(pairs, stats, snakemake.output.figure)


main(snakemake)
