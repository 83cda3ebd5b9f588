"""Delete one hub revision from the HF cache once every job that reads it is done; record the bytes freed."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.checkpoints import evict_checkpoint
from grokmon.workflow.io import write_json
from grokmon.workflow.jobs import start_job


def main(snakemake):
    log = start_job(snakemake)
    params, step = snakemake.params, int(snakemake.wildcards.step)
    freed = evict_checkpoint(params.repo, params.revision, cache_dir=params.cache_dir)
    log.info("step %d: evicted %s@%s, %d bytes freed", step, params.repo, params.revision, freed)
    write_json(snakemake.output[0], {"step": step, "revision": params.revision, "bytes_freed": freed})


main(snakemake)
