"""Join the pretraining segments' log and monitor parts into checkpoints/pretrain_log.tsv and monitor.csv."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.io import concat_tables
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    concat_tables(snakemake.input.logs, snakemake.output.log_tsv)
    concat_tables(snakemake.input.monitors, snakemake.output.monitor)


main(snakemake)
