# Generalization step t# of every test item (paper Sec. 3.1) and its groups Test@t#, per accuracy source.


rule generalization:
    input:
        records=per_step(out("eval/{source}/{step}/{domain}.jsonl")),
        keep=contamination_keep,
    output:
        correct=out("generalization/{source}/{domain}/correct.npz"),
        t_sharp=out("generalization/{source}/{domain}/t_sharp.tsv"),
        accuracy=out("generalization/{source}/{domain}/accuracy.tsv"),
    log:
        out("logs/generalization/{source}/{domain}.log"),
    benchmark:
        out("benchmarks/generalization/{source}/{domain}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        generalization=section("generalization"),
        steps=STEPS,
    script:
        "../scripts/generalization.py"
