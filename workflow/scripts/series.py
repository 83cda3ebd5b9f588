"""Per-checkpoint series of one domain: accuracy, losses and pathway metrics (the inputs of Table 1)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import numpy as np

from grokmon.files.atomic import load_npz
from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tables import domain_series


def main(snakemake):
    start_job(snakemake)
    series = domain_series(
        steps=np.asarray(snakemake.params.steps),
        accuracy=read_tsv(snakemake.input.accuracy)["accuracy"].to_numpy(),
        train_loss=load_npz(snakemake.input.loss)["loss"],
        t_star=read_tsv(snakemake.input.t_star),
        validation_loss=np.array([load_npz(path)["nll"].mean() for path in snakemake.input.validation]),
        pathway_groups=read_tsv(snakemake.input.pathways),
        window=snakemake.params.correlation["moving_average_window"],
        loss_samples=snakemake.params.correlation["loss_samples"],
    )
    write_tsv(snakemake.output[0], series)


main(snakemake)
