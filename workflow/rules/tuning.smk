# Light LoRA instruction tuning of every checkpoint (paper Sec. 3.1, App. B): the adapter is the artifact.


rule lora:
    input:
        checkpoint=checkpoint_pointer,
        sft=out("data/{domain}/sft.jsonl"),
    output:
        adapter=directory(out("lora/{step}/{domain}")),
    log:
        out("logs/lora/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/lora/{step}/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("lora", gpu=True),
    params:
        lora=section("lora"),
        seed=replicate_seed,
        device=config["device"],
        dtype=config["dtype"],
    script:
        "../scripts/lora.py"
