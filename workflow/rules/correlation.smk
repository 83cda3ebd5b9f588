# Correlate every metric with benchmark accuracy across checkpoints (paper Sec. 4.3, Table 1).


rule series:
    input:
        accuracy=out("generalization/{domain}/accuracy.tsv"),
        loss=out("memorization/{domain}/loss.npz"),
        t_star=out("memorization/{domain}/t_star.tsv"),
        validation=per_step(out("routes/{step}/{domain}/validation.npz")),
        pathways=out("pathways/{domain}.groups.tsv"),
    output:
        out("correlation/{domain}.series.tsv"),
    log:
        out("logs/series/{domain}.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        correlation=section("correlation"),
        steps=STEPS,
    script:
        "../scripts/series.py"


rule table1:
    input:
        series=expand(out("correlation/{domain}.series.tsv"), domain=DOMAINS),
    output:
        report(
            out("correlation/table1.tsv"),
            caption="../report/table1.rst",
            category="Table 1: correlation with accuracy",
        ),
    log:
        out("logs/table1.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        correlation=section("correlation"),
        domains=DOMAINS,
    script:
        "../scripts/table1.py"


rule verdicts:
    input:
        groups=per_domain(out("pathways/{domain}.groups.tsv")),
        series=per_domain(out("correlation/{domain}.series.tsv")),
    output:
        tsv=out("verdicts/claims.tsv"),
        md=report(
            out("verdicts/claims.md"),
            caption="../report/verdicts.rst",
            category="Does the paper's claim hold in this run?",
        ),
    log:
        out("logs/verdicts.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        domains=DOMAINS,
        correlation=section("correlation"),
        seed=config["seed"],
    script:
        "../scripts/verdicts.py"
