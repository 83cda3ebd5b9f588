"""Paper Fig. 1: samples first memorized at each checkpoint and each accuracy source's benchmark accuracy, per domain
(rule fig1)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow import figures
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    inp, sources, domains = snakemake.input, snakemake.params.sources, snakemake.params.domains
    n = len(domains)  # accuracy paths are source-major: expand over sources, then domains
    accuracy = {s: dict(zip(domains, map(read_tsv, inp.accuracy[i * n : (i + 1) * n]))) for i, s in enumerate(sources)}
    figures.fig1_memorization(dict(zip(domains, map(read_tsv, inp.t_star))), accuracy, snakemake.output[0])


main(snakemake)
