"""Find (HF cache) or download one hub revision of the model and point checkpoints/{step}/checkpoint.json at it."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.checkpoints import fetch_hub_checkpoint, write_checkpoint_pointer
from grokmon.workflow.jobs import start_job


def main(snakemake):
    log = start_job(snakemake)
    params, step = snakemake.params, int(snakemake.wildcards.step)
    path = fetch_hub_checkpoint(params.repo, params.revision, cache_dir=params.cache_dir)
    log.info("step %d: %s@%s is at %s", step, params.repo, params.revision, path)
    write_checkpoint_pointer(snakemake.output[0], step=step, revision=params.revision, model_path=path)


main(snakemake)
