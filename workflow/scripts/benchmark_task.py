"""Write the lm-evaluation-harness task of one domain's benchmark (local JSONL)."""

from pathlib import Path

from grokmon.evaluation import write_local_task
from grokmon.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params
    written = write_local_task(
        f"{snakemake.wildcards.domain}_benchmark",
        Path(snakemake.input.benchmark).resolve(),
        Path(snakemake.output[0]).parent,
        task=params.domain["task"],
        prompt_template=params.prompt_template,
        max_gen_toks=params.evaluation["max_gen_toks"],
    )
    assert Path(written) == Path(snakemake.output[0]), (written, snakemake.output[0])


main(snakemake)
