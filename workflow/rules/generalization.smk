# Generalization step t# of every test item (paper Sec. 3.1) and its groups Test@t#.


rule generalization:
    input:
        records=per_step(out("eval/{step}/{domain}.jsonl")),
        keep=contamination_keep,
    output:
        correct=out("generalization/{domain}/correct.npz"),
        t_sharp=out("generalization/{domain}/t_sharp.tsv"),
        accuracy=out("generalization/{domain}/accuracy.tsv"),
    log:
        out("logs/generalization/{domain}.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        generalization=section("generalization"),
        steps=STEPS,
    script:
        "../scripts/generalization.py"
