"""Point checkpoints/{step}/checkpoint.json at a local Hugging Face model directory (checkpoints.path_pattern)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pathlib import Path

from grokmon.workflow.checkpoints import write_checkpoint_pointer
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    step, model = int(snakemake.wildcards.step), Path(snakemake.input.model).resolve()
    if not (model / "config.json").is_file():
        raise ValueError(
            f"checkpoints.path_pattern: {model} (step {step}) has no config.json, so it is not a model directory"
        )
    write_checkpoint_pointer(snakemake.output[0], step=step, revision="local", model_path=model)


main(snakemake)
