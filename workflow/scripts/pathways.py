"""Pathway distance and consistency of one checkpoint, per Pretrain@t* group and control set (paper Sec. 4)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.files.atomic import load_npz
from grokmon.workflow.io import read_tsv, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.tables import pathway_tables


def main(snakemake):
    start_job(snakemake)
    params = snakemake.params.pathways
    groups, layers = pathway_tables(
        routing={split: load_npz(snakemake.input[split])["routing"] for split in ("train", "validation", "test")},
        router_weights=load_npz(snakemake.input.routers)["weights"],
        t_star=read_tsv(snakemake.input.t_star),
        cut=params["cut"],
        cut_sweep=params["cut_sweep"],
        max_pairs=params["max_pairs"],
        seed=snakemake.params.seed,
        min_group_size=params["min_group_size"],
    )
    write_tsv(snakemake.output.groups, groups)
    write_tsv(snakemake.output.layers, layers)


main(snakemake)
