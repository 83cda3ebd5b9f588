# The paper's figures, registered in the Snakemake report with captions.

FIGURES = [
    out("figures/fig1_memorization.png"),
    *each(
        out("figures/{source}/fig2_matched_pairs_{domain}.png"),
        source=SOURCES,
        domain=DOMAINS,
    ),
    out("figures/fig4_distance.png"),
    out("figures/fig5_layers.png"),
    out("figures/fig6_consistency.png"),
    *each(out("figures/{source}/fig7_scatter.png"), source=SOURCES),
    out("figures/fig9_cut_sweep.png"),
    out("figures/fig12_cross_domain.png"),
    out("figures/fig13_entropy_distance.png"),
]
if config["checkpoints"]["source"] == "toy":
    FIGURES.append(out("figures/monitor.png"))


rule fig1:
    input:
        t_star=per_domain(out("memorization/{domain}/t_star.tsv")),
        accuracy=each(
            out("generalization/{source}/{domain}/accuracy.tsv"),
            source=SOURCES,
            domain=DOMAINS,
        ),
    output:
        reported(out("figures/fig1_memorization.png"), "fig1"),
    log:
        out("logs/figures/fig1.log"),
    benchmark:
        out("benchmarks/fig1.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        sources=SOURCES,
        domains=DOMAINS,
    script:
        "../scripts/fig1.py"


rule fig2:
    input:
        loss=out("memorization/{domain}/loss.npz"),
        t_star=out("memorization/{domain}/t_star.tsv"),
        correct=out("generalization/{source}/{domain}/correct.npz"),
        t_sharp=out("generalization/{source}/{domain}/t_sharp.tsv"),
        matching=out("matching/{source}/{domain}.tsv"),
    output:
        reported(
            out("figures/{source}/fig2_matched_pairs_{domain}.png"),
            "fig2",
            subcategory="seed {seed}, accuracy source {source}",
        ),
    log:
        out("logs/figures/{source}/fig2_{domain}.log"),
    benchmark:
        out("benchmarks/fig2/{source}/{domain}.tsv")
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/fig2.py"


rule pathway_figures:
    input:
        groups=per_domain(out("pathways/{domain}.groups.tsv")),
        layers=per_domain(out("pathways/{domain}.layers.tsv")),
        loss=per_domain(out("memorization/{domain}/loss.npz")),
        t_star=per_domain(out("memorization/{domain}/t_star.tsv")),
    output:
        fig4=reported(out("figures/fig4_distance.png"), "fig4"),
        fig5=reported(out("figures/fig5_layers.png"), "fig5"),
        fig6=reported(out("figures/fig6_consistency.png"), "fig6"),
        fig9=reported(out("figures/fig9_cut_sweep.png"), "fig9"),
    log:
        out("logs/figures/pathway_figures.log"),
    benchmark:
        out("benchmarks/pathway_figures.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        domains=DOMAINS,
        # the paper's groups (figures.*), or null: the largest
        chosen=section("figures"),
    script:
        "../scripts/pathway_figures.py"


rule fig7:
    input:
        series=per_domain(out("correlation/{source}/{domain}.series.tsv")),
    output:
        reported(
            out("figures/{source}/fig7_scatter.png"),
            "fig7",
            subcategory="seed {seed}, accuracy source {source}",
        ),
    log:
        out("logs/figures/{source}/fig7.log"),
    benchmark:
        out("benchmarks/fig7/{source}.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        domains=DOMAINS,
    script:
        "../scripts/fig7.py"


rule fig_monitor:
    input:
        monitor=out("checkpoints/monitor.csv"),
    output:
        reported(out("figures/monitor.png"), "monitor"),
    log:
        out("logs/figures/monitor.log"),
    benchmark:
        out("benchmarks/fig_monitor.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        steps=STEPS,
    script:
        "../scripts/fig_monitor.py"


rule fig12:
    input:
        tables=each(out("pathways/{step}/cross_domain.tsv"), step=STEPS),
    output:
        reported(out("figures/fig12_cross_domain.png"), "fig12"),
    log:
        out("logs/figures/fig12.log"),
    benchmark:
        out("benchmarks/fig12.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        steps=STEPS,
    script:
        "../scripts/fig12.py"


# Control: does routing entropy (load balancing) explain pathway distance? Paper Fig. 13, at the last checkpoint.
rule fig13:
    input:
        train=each(out(f"routes/{STEPS[-1]}/{{domain}}/train.npz"), domain=DOMAINS),
    output:
        figure=reported(out("figures/fig13_entropy_distance.png"), "fig13"),
        table=out("controls/entropy_distance.tsv"),
    log:
        out("logs/figures/fig13.log"),
    benchmark:
        out("benchmarks/fig13.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        domains=DOMAINS,
        cut=config["pathways"]["entropy_cut"],
        max_pairs=config["pathways"]["max_pairs"],
        seed=replicate_seed,
        step=STEPS[-1],
    script:
        "../scripts/fig13.py"
