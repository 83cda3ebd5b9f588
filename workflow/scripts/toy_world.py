"""Generate the toy world's four synthetic domains and write the data artifacts."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pathlib import Path

from grokmon.workflow.jobs import start_job
from grokmon.workflow.toy.world import ToySizes, build_world, write_world


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    seed = snakemake.params.seed
    world = build_world(seed, ToySizes(**snakemake.params.world))
    write_world(world, Path(snakemake.output.corpus).parent, seed=seed)


main(snakemake)
