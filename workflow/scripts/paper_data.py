"""Sample one domain's data (paper Table 2 and its SFT set) and list its benchmark items in lm-eval's doc order.

train/validation: seeded samples {"id", "text"} (validation texts that are also train texts are dropped:
the paper's validation set is disjoint); sft: {"prompt", "response"} (no pairs without data.sft: a zero-shot
run); benchmark: one row per doc of the domain's lm-eval task, row i = doc_id i, {"id", "question", "answer"}
or {"id", "question", "choices", "label"}.
"""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import tempfile

from grokmon.workflow.datasets import load_sft_pairs, load_text_samples
from grokmon.workflow.io import write_jsonl
from grokmon.workflow.jobs import start_job
from grokmon.workflow.lm_eval_tasks import write_task_variant


def benchmark_rows(benchmark: dict, domain: str) -> list[dict]:
    """The eval docs of the benchmark's lm-eval task (its hub dataset or local data_files), in doc_id order."""
    from lm_eval.tasks import TaskManager, get_task_dict

    with tempfile.TemporaryDirectory(prefix="grokmon_benchmark_") as tasks:
        path = write_task_variant(
            benchmark["task"],
            tasks,
            name=f"{domain}_items",
            data_files=benchmark["data_files"],
            data_format=benchmark["format"],
        )
        task = get_task_dict([path.stem], TaskManager(include_path=tasks, include_defaults=False))[path.stem]
        return [_row(task, doc_id, doc, benchmark, domain) for doc_id, doc in enumerate(task.eval_docs)]


def _row(task, doc_id: int, doc: dict, benchmark: dict, domain: str) -> dict:
    """One benchmark row: the item's id and text, and its target as lm-eval scores it."""
    fields = {"question_field": benchmark["question_field"], "id_field": benchmark["id_field"]}
    for key, name in fields.items():
        if name is not None and name not in doc:
            raise ValueError(
                f"domains.{domain}.benchmark.{key}: the docs have no field {name!r} (fields: {sorted(doc)})"
            )
    question = task.doc_to_text(doc) if fields["question_field"] is None else doc[fields["question_field"]]
    if not isinstance(question, str):
        raise ValueError(
            f"domains.{domain}.benchmark.question_field: doc {doc_id} holds {type(question).__name__}, not text"
        )
    row = {"id": doc_id if fields["id_field"] is None else doc[fields["id_field"]], "question": question}
    target = task.doc_to_target(doc)
    if task.OUTPUT_TYPE != "multiple_choice":
        return row | {"answer": str(target)}
    choices = list(task.doc_to_choice(doc))
    return row | {"choices": choices, "label": target if isinstance(target, int) else choices.index(target)}


def main(snakemake):
    log = start_job(snakemake, seed=snakemake.params.seed)
    params, output, domain = snakemake.params, snakemake.output, snakemake.wildcards.domain
    data, seed = params.data, params.seed
    train = load_text_samples(data["train"], seed)
    seen = {s["text"] for s in train}
    validation = [s for s in load_text_samples(data["validation"], seed) if s["text"] not in seen]
    if not train or not validation:
        raise ValueError(f"domains.{domain}.data: {len(train)} train and {len(validation)} disjoint validation samples")
    sft = load_sft_pairs(data["sft"], seed) if "sft" in data else []
    rows = benchmark_rows(params.benchmark, domain)
    log.info(
        "%s: %d train, %d validation, %d sft, %d benchmark items",
        domain,
        len(train),
        len(validation),
        len(sft),
        len(rows),
    )
    write_jsonl(output.train, train)
    write_jsonl(output.validation, validation)
    write_jsonl(output.sft, sft)
    write_jsonl(output.benchmark, rows)


main(snakemake)
