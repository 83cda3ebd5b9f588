"""Write the lm-evaluation-harness task of one domain's benchmark: the toy's local JSONL, or the paper's task."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pathlib import Path

from grokmon.workflow.evaluation import write_local_task
from grokmon.workflow.jobs import start_job
from grokmon.workflow.lm_eval_tasks import write_task_variant


def main(snakemake):
    start_job(snakemake)
    params, out = snakemake.params, Path(snakemake.output[0])
    if "benchmark" in params.keys():  # noqa: SIM118 - `in` on snakemake's Params looks at values, not names
        b = params.benchmark
        written = write_task_variant(
            b["task"], out.parent, name=out.stem, data_files=b["data_files"], data_format=b["format"], **b["overrides"]
        )
    else:
        written = write_local_task(
            out.stem,
            Path(snakemake.input.benchmark).resolve(),
            out.parent,
            task=params.domain["task"],
            prompt_template=params.prompt_template,
            target_delimiter=params.target_delimiter,
            max_gen_toks=params.evaluation["max_gen_toks"],
        )
    assert Path(written) == out, (written, out)


main(snakemake)
