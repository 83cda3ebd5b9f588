# Match memorized train groups to generalized test groups by meaning (paper Sec. 3.2).


rule matching:
    input:
        t_star=out("memorization/{domain}/t_star.tsv"),
        t_sharp=out("generalization/{domain}/t_sharp.tsv"),
        train=out("data/{domain}/train.jsonl"),
        test=out("data/{domain}/benchmark.jsonl"),
    output:
        out("matching/{domain}.tsv"),
    log:
        out("logs/matching/{domain}.log"),
    conda:
        "../../envs/torch.yaml"
    params:
        matching=section("matching"),
        device=config["device"],
    script:
        "../scripts/matching.py"
