# Pathway distance and consistency per checkpoint (paper Sec. 4.1-4.2), per Pretrain@t* group.


rule pathways:
    input:
        train=out("routes/{step}/{domain}/train.npz"),
        validation=out("routes/{step}/{domain}/validation.npz"),
        test=out("routes/{step}/{domain}/test.npz"),
        routers=out("routes/{step}/routers.npz"),
        t_star=out("memorization/{domain}/t_star.tsv"),
    output:
        groups=out("pathways/{step}/{domain}.tsv"),
        layers=out("pathways/{step}/{domain}.layers.tsv"),
    log:
        out("logs/pathways/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/pathways/{step}/{domain}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        pathways=section("pathways"),
        seed=replicate_seed,
    script:
        "../scripts/pathways.py"


rule collect_pathways:
    input:
        groups=per_step(out("pathways/{step}/{domain}.tsv")),
        layers=per_step(out("pathways/{step}/{domain}.layers.tsv")),
    output:
        groups=out("pathways/{domain}.groups.tsv"),
        layers=out("pathways/{domain}.layers.tsv"),
    log:
        out("logs/collect_pathways/{domain}.log"),
    benchmark:
        out("benchmarks/collect_pathways/{domain}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        steps=STEPS,
    script:
        "../scripts/collect_pathways.py"


rule cross_domain:
    input:
        train=each(out("routes/{{step}}/{domain}/train.npz"), domain=DOMAINS),
    output:
        out("pathways/{step}/cross_domain.tsv"),
    log:
        out("logs/cross_domain/{step}.log"),
    benchmark:
        out("benchmarks/cross_domain/{step}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        pathways=section("pathways"),
        seed=replicate_seed,
        domains=DOMAINS,
    script:
        "../scripts/cross_domain.py"
