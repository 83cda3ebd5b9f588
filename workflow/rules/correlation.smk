# Correlate every metric with benchmark accuracy across checkpoints (paper Sec. 4.3, Table 1), per accuracy source.


rule series:
    input:
        accuracy=out("generalization/{source}/{domain}/accuracy.tsv"),
        loss=out("memorization/{domain}/loss.npz"),
        t_star=out("memorization/{domain}/t_star.tsv"),
        validation=per_step(out("routes/{step}/{domain}/validation.npz")),
        pathways=out("pathways/{domain}.groups.tsv"),
    output:
        out("correlation/{source}/{domain}.series.tsv"),
    log:
        out("logs/series/{source}/{domain}.log"),
    benchmark:
        out("benchmarks/series/{source}/{domain}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        correlation=section("correlation"),
        steps=STEPS,
    script:
        "../scripts/series.py"


rule table1:
    input:
        series=each(
            out("correlation/{source}/{domain}.series.tsv"),
            source=SOURCES,
            domain=DOMAINS,
        ),
    output:
        reported(
            out("correlation/table1.tsv"),
            "table1",
            "Table 1: correlation with accuracy",
        ),
    log:
        out("logs/table1.log"),
    benchmark:
        out("benchmarks/table1.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        correlation=section("correlation"),
        sources=SOURCES,
        domains=DOMAINS,
        ranks=None,  # one long table over the sources (table4: side by side per rank)
    script:
        "../scripts/table1.py"


# One verdict per paper claim (and the grokking precondition) and accuracy source, pooled over every seed of the run.
rule verdicts:
    input:
        groups=expand(out("pathways/{domain}.groups.tsv"), seed=SEEDS, domain=DOMAINS),
        series=expand(
            out("correlation/{source}/{domain}.series.tsv"),
            source=SOURCES,
            seed=SEEDS,
            domain=DOMAINS,
        ),
        matching=expand(
            out("matching/{source}/{domain}.tsv"),
            source=SOURCES,
            seed=SEEDS,
            domain=DOMAINS,
        ),
        t_star=expand(
            out("memorization/{domain}/t_star.tsv"), seed=SEEDS, domain=DOMAINS
        ),
        t_sharp=expand(
            out("generalization/{source}/{domain}/t_sharp.tsv"),
            source=SOURCES,
            seed=SEEDS,
            domain=DOMAINS,
        ),
    output:
        tsv=run_out("verdicts/claims.tsv"),
        md=reported(
            run_out("verdicts/claims.md"),
            "verdicts",
            "Does the paper's claim hold in this run?",
            subcategory=None,
        ),
    log:
        run_out("logs/verdicts.log"),
    benchmark:
        run_out("benchmarks/verdicts.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        seeds=SEEDS,
        sources=SOURCES,
        domains=DOMAINS,
        correlation=section("correlation"),
        verdicts=section("verdicts"),
    script:
        "../scripts/verdicts.py"
