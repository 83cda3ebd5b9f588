"""Paper Fig. 7: each metric against benchmark accuracy, all domains, with a linear fit (rule fig7)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.figures import fig7_scatter
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    fig7_scatter(dict(zip(snakemake.params.domains, map(read_tsv, snakemake.input.series))), snakemake.output[0])


main(snakemake)
