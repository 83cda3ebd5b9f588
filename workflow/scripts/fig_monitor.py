"""The live monitor's probe metrics over the toy pretraining, the analysed checkpoints marked (rule fig_monitor)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pandas import read_csv

from grokmon.workflow import figures
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    figures.monitor_curves(read_csv(snakemake.input.monitor), snakemake.params.steps, snakemake.output[0])


main(snakemake)
