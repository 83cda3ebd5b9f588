"""Delete one hub revision from the HF cache once every job that reads it is done; record the bytes freed."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.checkpoints import evict_checkpoint, revision_job
from grokmon.workflow.io import write_json


def main(snakemake):
    step, freed = revision_job(snakemake, evict_checkpoint)
    write_json(snakemake.output[0], {"step": step, "revision": snakemake.params.revision, "bytes_freed": freed})


main(snakemake)
