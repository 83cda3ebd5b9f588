# Match memorized train groups to generalized test groups by meaning (paper Sec. 3.2), per accuracy source.


rule matching:
    input:
        t_star=out("memorization/{domain}/t_star.tsv"),
        t_sharp=out("generalization/{source}/{domain}/t_sharp.tsv"),
        train=out("data/{domain}/train.jsonl"),
        test=out("data/{domain}/benchmark.jsonl"),
    output:
        out("matching/{source}/{domain}.tsv"),
    log:
        out("logs/matching/{source}/{domain}.log"),
    benchmark:
        out("benchmarks/matching/{source}/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    params:
        matching=section("matching"),
        device=config["device"],
    script:
        "../scripts/matching.py"
