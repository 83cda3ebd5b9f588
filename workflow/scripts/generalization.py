"""Generalization step t# of every test item from its correctness at every checkpoint (paper Sec. 3.1)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import numpy as np
import pandas as pd

from grokmon.files.atomic import save_npz
from grokmon.metrics.generalization import accuracy_curve, generalization_index
from grokmon.workflow.io import read_jsonl, read_tsv, write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    params, steps = snakemake.params.generalization, np.asarray(snakemake.params.steps)
    per_step = [sorted(read_jsonl(path), key=lambda r: r["doc_id"]) for path in snakemake.input.records]
    if snakemake.input.keep:  # Min-K%++ filter on: leave out the likely contaminated items
        kept = set(read_tsv(snakemake.input.keep).query("keep == 1")["doc_id"])
        per_step = [[r for r in records if r["doc_id"] in kept] for records in per_step]
    doc_ids = [r["doc_id"] for r in per_step[0]]
    if any([r["doc_id"] for r in records] != doc_ids for records in per_step):
        raise ValueError("evaluation records of different checkpoints cover different items")
    correct = np.array([[int(r["correct"]) for r in records] for records in per_step], dtype=np.int8)
    t_index = generalization_index(
        correct,
        min_accuracy=params["min_accuracy"],
        max_errors=params["max_errors"],
        include_final=params["include_final"],
    )
    save_npz(snakemake.output.correct, steps=steps, doc_id=np.asarray(doc_ids), correct=correct)
    write_tsv(
        snakemake.output.t_sharp,
        pd.DataFrame({"doc_id": doc_ids, "t_index": t_index, "t_sharp": np.where(t_index >= 0, steps[t_index], -1)}),
    )
    write_tsv(snakemake.output.accuracy, pd.DataFrame({"step": steps, "accuracy": accuracy_curve(correct)}))


main(snakemake)
