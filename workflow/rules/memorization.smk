# Memorization step t* of every training sample (paper Sec. 3.1) and its groups Pretrain@t*.


rule memorization:
    input:
        routes=per_step(out("routes/{step}/{domain}/train.npz")),
        train=out("data/{domain}/train.jsonl"),
    output:
        loss=out("memorization/{domain}/loss.npz"),
        t_star=out("memorization/{domain}/t_star.tsv"),
        epsilon=out("memorization/{domain}/epsilon.json"),
    log:
        out("logs/memorization/{domain}.log"),
    benchmark:
        out("benchmarks/memorization/{domain}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        memorization=section("memorization"),
        steps=STEPS,
    script:
        "../scripts/memorization.py"
