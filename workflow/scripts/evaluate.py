"""Evaluate one checkpoint (with its LoRA adapter, fully tuned, or as is) on one domain's benchmark;
one record per item."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pathlib import Path

from grokmon.routing.devices import resolve_device
from grokmon.workflow.checkpoints import read_checkpoint_pointer
from grokmon.workflow.evaluation import evaluate
from grokmon.workflow.io import write_jsonl
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    params, task = snakemake.params, Path(snakemake.input.task)
    inputs = snakemake.input.keys()
    records = evaluate(
        snakemake.input.model if "model" in inputs else read_checkpoint_pointer(snakemake.input.checkpoint)["path"],
        [task.stem],
        adapter_path=snakemake.input.adapter if "adapter" in inputs else None,
        include_path=str(task.parent.resolve()),
        device=resolve_device(params.device),
        dtype=params.dtype,
        batch_size=params.evaluation["batch_size"],
        limit=params.evaluation["limit"],
        confirm_run_unsafe_code=params.evaluation["confirm_run_unsafe_code"],
        seed=params.seed,
    )
    write_jsonl(snakemake.output.records, records[task.stem])


main(snakemake)
