"""Capture per-sample mean NLL and mean routing weights of one checkpoint on one domain's three splits."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.routing.capture import capture_routes, load_model
from grokmon.routing.devices import resolve_device
from grokmon.workflow.checkpoints import read_checkpoint_pointer
from grokmon.workflow.io import read_jsonl
from grokmon.workflow.jobs import start_job
from grokmon.workflow.texts import split_texts


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params
    pointer = read_checkpoint_pointer(snakemake.input.checkpoint)
    model, tokenizer = load_model(
        pointer["path"],
        device=resolve_device(params.device),
        dtype=params.dtype,
        virtual_experts=params.virtual_experts,
    )
    for split in ("train", "validation", "test"):
        rows = read_jsonl(snakemake.input[split])
        texts = split_texts(split, rows)
        # toy train/validation rows carry where their answer starts: capture answer_nll too (memorization.loss_span)
        answer_chars = (
            [row["answer_char"] for row in rows]
            if split != "test" and all("answer_char" in row for row in rows)
            else None
        )
        capture = capture_routes(
            model,
            tokenizer,
            texts,
            batch_size=params.routes["batch_size"],
            max_length=params.routes["max_length"],
            answer_chars=answer_chars,
            include_special_tokens=params.routes["include_special_tokens"],
        )
        capture.save(snakemake.output[split])


main(snakemake)
