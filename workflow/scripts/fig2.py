"""Paper Fig. 2: the matched memorization and generalization pairs of one domain and accuracy source (rule fig2)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.files.atomic import load_npz
from grokmon.workflow import figures
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    inp = snakemake.input
    loss, correct = load_npz(inp.loss), load_npz(inp.correct)
    figures.fig2_matched_pairs(
        loss["loss"],
        loss["steps"],
        read_tsv(inp.t_star),
        correct["correct"],
        read_tsv(inp.t_sharp),
        read_tsv(inp.matching),
        snakemake.wildcards.domain,
        snakemake.output[0],
    )


main(snakemake)
