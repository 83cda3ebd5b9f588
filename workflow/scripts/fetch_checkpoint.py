"""Find (HF cache) or download one hub revision of the model and point checkpoints/{step}/checkpoint.json at it."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.workflow.checkpoints import fetch_hub_checkpoint, revision_job, write_checkpoint_pointer


def main(snakemake):
    step, path = revision_job(snakemake, fetch_hub_checkpoint)
    write_checkpoint_pointer(snakemake.output[0], step=step, revision=snakemake.params.revision, model_path=path)


main(snakemake)
