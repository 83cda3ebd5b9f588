"""Match Pretrain@t* groups to Test@t# groups by mean pairwise embedding similarity (paper Sec. 3.2)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.metrics.matching import load_embedder
from grokmon.routing.devices import resolve_device
from grokmon.workflow.io import read_jsonl, read_tsv, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tables import matching_table


def main(snakemake):
    log = start_job(snakemake)
    params = snakemake.params.matching
    device = resolve_device(snakemake.params.device)
    embed = load_embedder(device=device, max_seq_length=params["max_seq_length"], batch_size=params["batch_size"])
    table = matching_table(
        read_tsv(snakemake.input.t_star),
        read_tsv(snakemake.input.t_sharp),
        [row["text"] for row in read_jsonl(snakemake.input.train)],
        [row["question"] for row in read_jsonl(snakemake.input.test)],
        embed,
        min_group_size=params["min_group_size"],
    )
    log.info("%d matched pairs", len(table))
    write_tsv(snakemake.output[0], table)


main(snakemake)
