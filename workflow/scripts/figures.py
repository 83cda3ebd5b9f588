"""Draw the paper's figures of this rule from the saved tables."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pandas import read_csv

from grokmon.files.atomic import load_npz
from grokmon.workflow import figures
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def by_domain(domains, paths, read):
    return {domain: read(path) for domain, path in zip(domains, paths)}


def main(snakemake):
    start_job(snakemake)
    inp, out = snakemake.input, snakemake.output
    if snakemake.rule == "fig1":
        sources, domains = snakemake.params.sources, snakemake.params.domains
        accuracy = {s: by_domain(domains, inp.accuracy[i * len(domains) :], read_tsv) for i, s in enumerate(sources)}
        figures.fig1_memorization(by_domain(domains, inp.t_star, read_tsv), accuracy, out[0])
    elif snakemake.rule == "fig2":
        loss, correct = load_npz(inp.loss), load_npz(inp.correct)
        figures.fig2_matched_pairs(
            loss["loss"],
            loss["steps"],
            read_tsv(inp.t_star),
            correct["correct"],
            read_tsv(inp.t_sharp),
            read_tsv(inp.matching),
            snakemake.wildcards.domain,
            out[0],
        )
    elif snakemake.rule == "fig7":
        figures.fig7_scatter(by_domain(snakemake.params.domains, inp.series, read_tsv), out[0])
    elif snakemake.rule == "fig12":
        figures.fig12_cross_domain(dict(zip(snakemake.params.steps, map(read_tsv, inp.tables))), out[0])
    elif snakemake.rule == "fig_monitor":
        figures.monitor_curves(read_csv(inp.monitor), snakemake.params.steps, out[0])
    else:
        domains = snakemake.params.domains
        groups = by_domain(domains, inp.groups, read_tsv)
        loss = {d: z["loss"] for d, z in by_domain(domains, inp.loss, load_npz).items()}
        t_star = by_domain(domains, inp.t_star, read_tsv)
        chosen = snakemake.params.chosen
        figures.fig4_distance(groups, loss, t_star, out.fig4, chosen["distance_groups"])
        figures.fig5_layers(by_domain(domains, inp.layers, read_tsv), groups, out.fig5, chosen["layers_group"])
        figures.fig6_consistency(groups, loss, t_star, out.fig6, chosen["consistency_groups"])
        figures.fig9_cut_sweep(groups, out.fig9)


main(snakemake)
