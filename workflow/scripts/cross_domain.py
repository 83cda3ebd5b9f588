"""Pathway distance within and across domains at one checkpoint (paper Fig. 12, a control)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.files.atomic import load_npz
from grokmon.workflow.io import write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tables import cross_domain_table


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params.pathways
    routing = {d: load_npz(path)["routing"] for d, path in zip(snakemake.params.domains, snakemake.input.train)}
    write_tsv(
        snakemake.output[0],
        cross_domain_table(routing, cut=params["cut"], max_pairs=params["max_pairs"], seed=snakemake.params.seed),
    )


main(snakemake)
