# Light LoRA instruction tuning of every checkpoint (paper Sec. 3.1, App. B): the adapter is the artifact.


rule lora:
    input:
        checkpoint=checkpoint_pointer,
        sft=out("data/{domain}/sft.jsonl"),
    output:
        adapter=directory(out("lora/{step}/{domain}")),
    params:
        lora=section("lora"),
        seed=config["seed"],
        device=config["device"],
        dtype=config["dtype"],
    resources:
        **GPU_RULE_RESOURCES,
    log:
        out("logs/lora/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/lora/{step}/{domain}.tsv")
    script:
        "../scripts/lora.py"
