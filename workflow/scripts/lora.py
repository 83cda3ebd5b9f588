"""Instruction tuning of one checkpoint on one domain's SFT pairs: LoRA (rule lora, the adapter only) or full
fine-tuning with the same recipe (rule full_tune: params.full, the whole model)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.routing.devices import resolve_device
from grokmon.workflow.checkpoints import read_checkpoint_pointer
from grokmon.workflow.io import read_jsonl
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tuning import LORA_ONLY, train_full, train_lora


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    params, full = snakemake.params, snakemake.params.full
    recipe = {k: v for k, v in params.lora.items() if not (full and k in LORA_ONLY)}
    (train_full if full else train_lora)(
        read_checkpoint_pointer(snakemake.input.checkpoint)["path"],
        read_jsonl(snakemake.input.sft),
        snakemake.output[0],
        seed=params.seed,
        device=resolve_device(params.device),
        dtype=params.dtype,
        target_delimiter=params.target_delimiter,
        **recipe,
    )


main(snakemake)
