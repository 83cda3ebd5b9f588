# Light instruction tuning of every checkpoint (paper Sec. 3.1, App. B), one rule per tuned accuracy source
# (evaluation.tuning): lora saves the adapter only; full saves a whole fine-tuned model.


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
        target_delimiter=lambda wc: config["domains"][wc.domain]["target_delimiter"],
        seed=replicate_seed,
        device=config["device"],
        dtype=config["dtype"],
    script:
        "../scripts/lora.py"


# Full fine-tuning with the lora recipe (accuracy source `full`): a full model copy per (step, domain).
rule full_tune:
    input:
        checkpoint=checkpoint_pointer,
        sft=out("data/{domain}/sft.jsonl"),
    output:
        model=directory(out("full/{step}/{domain}")),
    log:
        out("logs/full_tune/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/full_tune/{step}/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("full_tune", gpu=True),
    params:
        lora=section("lora"),
        target_delimiter=lambda wc: config["domains"][wc.domain]["target_delimiter"],
        seed=replicate_seed,
        device=config["device"],
        dtype=config["dtype"],
    script:
        "../scripts/lora.py"
