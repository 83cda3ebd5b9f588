"""Paper Figs. 4, 5, 6 and 9: pathway distance, layers, consistency and the cut sweep of every domain
(rule pathway_figures)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.files.atomic import load_npz
from grokmon.workflow import figures
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    inp, out, domains, chosen = snakemake.input, snakemake.output, snakemake.params.domains, snakemake.params.chosen
    groups = dict(zip(domains, map(read_tsv, inp.groups)))
    loss = {d: load_npz(p)["loss"] for d, p in zip(domains, inp.loss)}
    t_star = dict(zip(domains, map(read_tsv, inp.t_star)))
    figures.fig4_distance(groups, loss, t_star, out.fig4, chosen["distance_groups"])
    figures.fig5_layers(dict(zip(domains, map(read_tsv, inp.layers))), groups, out.fig5, chosen["layers_group"])
    figures.fig6_consistency(groups, loss, t_star, out.fig6, chosen["consistency_groups"])
    figures.fig9_cut_sweep(groups, out.fig9)


main(snakemake)
