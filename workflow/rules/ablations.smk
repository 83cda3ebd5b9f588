# The paper's schematic, theory and ablations: Fig. 3 (from this run's pathways), Fig. 8 (synthetic one-layer MoE),
# Figs. 10-11 (epsilon and delta sweeps from the saved losses and routes), Table 3 (parameter norms per checkpoint)
# and Table 4 (Table 1 per LoRA rank, when ablations.lora_ranks lists ranks).

ABLATIONS = [
    out("figures/fig3_schematic.png"),
    out("figures/fig8_theory.png"),
    *each(out("figures/threshold_sweep_{sweep}.png"), sweep=["epsilon", "delta"]),
    out("figures/table3_parameters.png"),
    *([out("correlation/table4.tsv")] if RANKS else []),
]


rule fig3:
    input:
        t_star=out(f"memorization/{DOMAINS[0]}/t_star.tsv"),
        routes=each(out(f"routes/{{step}}/{DOMAINS[0]}/train.npz"), step=STEPS),
        routers=each(out("routes/{step}/routers.npz"), step=STEPS),
    output:
        figure=reported(out("figures/fig3_schematic.png"), "fig3"),
        table=out("pathways/fig3_example.tsv"),
    log:
        out("logs/figures/fig3.log"),
    benchmark:
        out("benchmarks/fig3.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        domain=DOMAINS[0],
        steps=STEPS,
        cut=config["pathways"]["cut"],
    script:
        "../scripts/fig3.py"


rule theory:
    output:
        figure=reported(out("figures/fig8_theory.png"), "fig8"),
        seeds=out("theory/fig8_seeds.tsv"),
        correlation=out("theory/fig8_correlation.tsv"),
    log:
        out("logs/theory.log"),
    benchmark:
        out("benchmarks/theory.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        theory=section("theory"),
        seed=replicate_seed,
    script:
        "../scripts/theory.py"


rule threshold_sweep:
    input:
        loss=per_domain(out("memorization/{domain}/loss.npz")),
        epsilon=per_domain(out("memorization/{domain}/epsilon.json")),
        routes=[
            p
            for d in DOMAINS
            for p in each(out(f"routes/{{step}}/{d}/train.npz"), step=STEPS)
        ],
    output:
        figure=reported(out("figures/threshold_sweep_{sweep}.png"), "threshold_sweep"),
        groups=out("ablations/{sweep}_sweep.tsv"),
        summary=out("ablations/{sweep}_summary.tsv"),
        series=out("ablations/{sweep}_series.tsv"),
    log:
        out("logs/ablations/{sweep}_sweep.log"),
    benchmark:
        out("benchmarks/threshold_sweep/{sweep}.tsv")
    wildcard_constraints:
        sweep="epsilon|delta",
    conda:
        "../../envs/report.yaml"
    params:
        sweeps=section("sweeps"),
        domains=DOMAINS,
        steps=STEPS,
        cut=config["pathways"]["cut"],
        seed=replicate_seed,
    script:
        "../scripts/threshold_sweep.py"


rule table3:
    input:
        norms=each(out("routes/{step}/parameters.tsv"), step=STEPS),
    output:
        figure=reported(out("figures/table3_parameters.png"), "table3"),
        table=out("parameters/table3.tsv"),
        changes=out("parameters/norms.tsv"),
    log:
        out("logs/table3.log"),
    benchmark:
        out("benchmarks/table3.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        steps=STEPS,
    script:
        "../scripts/table3.py"


# Table 4: each rank's series (accuracy source lora or lora_r{rank}, rules evaluate to series) through Table 1's code.
rule table4:
    input:
        series=[
            out(f"correlation/{r.source}/{domain}.series.tsv")
            for r in RANKS
            for domain in r.tunings
        ],
    output:
        reported(out("correlation/table4.tsv"), "table4", "Table 4: LoRA rank"),
    log:
        out("logs/table4.log"),
    benchmark:
        out("benchmarks/table4.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        correlation=section("correlation"),
        sources=[r.source for r in RANKS],
        ranks=[r.rank for r in RANKS],
        domains=list(RANKS[0].tunings) if RANKS else [],
    script:
        "../scripts/table1.py"
