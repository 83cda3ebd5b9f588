"""Capture per-sample mean NLL and mean routing weights of one checkpoint on one domain's three splits."""

from grokmon.capture import capture_routes, load_model
from grokmon.checkpoints import read_checkpoint_pointer
from grokmon.io import read_jsonl
from grokmon.devices import resolve_device
from grokmon.jobs import start_job
from grokmon.texts import split_texts


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params
    pointer = read_checkpoint_pointer(snakemake.input.checkpoint)
    model, tokenizer = load_model(pointer["path"], device=resolve_device(params.device), dtype=params.dtype)
    for split in ("train", "validation", "test"):
        texts = split_texts(split, read_jsonl(snakemake.input[split]))
        capture = capture_routes(model, tokenizer, texts, batch_size=params.routes["batch_size"], max_length=params.routes["max_length"])
        capture.save(snakemake.output[split])


main(snakemake)
