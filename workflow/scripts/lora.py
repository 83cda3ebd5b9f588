"""LoRA instruction tuning of one checkpoint on one domain's SFT pairs; saves the adapter only."""

from grokmon.checkpoints import read_checkpoint_pointer
from grokmon.io import read_jsonl
from grokmon.devices import resolve_device
from grokmon.jobs import start_job
from grokmon.tuning import train_lora


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    params = snakemake.params
    train_lora(
        read_checkpoint_pointer(snakemake.input.checkpoint)["path"],
        read_jsonl(snakemake.input.sft),
        snakemake.output.adapter,
        seed=params.seed,
        device=resolve_device(params.device),
        dtype=params.dtype,
        **params.lora,
    )


main(snakemake)
