"""Paper Fig. 12: the cross-domain pathway distances at every analysed checkpoint (rule fig12)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow import figures
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    by_step = zip(snakemake.params.steps, map(read_tsv, snakemake.input.tables))
    figures.fig12_cross_domain(dict(by_step), snakemake.output[0])


main(snakemake)
