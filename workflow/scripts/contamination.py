"""Min-K%++ score of every benchmark item under one checkpoint; keep = 0 for the top `fraction` (paper App. A)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import pandas as pd

from grokmon.routing.capture import load_model
from grokmon.routing.devices import resolve_device
from grokmon.workflow.checkpoints import read_checkpoint_pointer
from grokmon.workflow.contamination import drop_top_fraction, min_k_plus_plus
from grokmon.workflow.io import read_jsonl, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.texts import split_texts


def main(snakemake):
    log = start_job(snakemake)
    params, settings = snakemake.params, snakemake.params.contamination
    device = resolve_device(params.device)
    pointer = read_checkpoint_pointer(snakemake.input.checkpoint)
    model, tokenizer = load_model(pointer["path"], device=device, dtype=params.dtype)
    rows = read_jsonl(snakemake.input.benchmark)
    scores = min_k_plus_plus(
        model,
        tokenizer,
        split_texts("test", rows),
        k=settings["k"],
        batch_size=settings["batch_size"],
        max_length=settings["max_length"],
        device=device,
    )
    keep = drop_top_fraction(scores, settings["fraction"])
    log.info("step %d: kept %d of %d items (Min-K%%++ k=%s)", pointer["step"], keep.sum(), keep.size, settings["k"])
    table = pd.DataFrame(
        {"doc_id": range(len(rows)), "id": [r["id"] for r in rows], "score": scores, "keep": keep.astype(int)}
    )
    write_tsv(snakemake.output[0], table)


main(snakemake)
