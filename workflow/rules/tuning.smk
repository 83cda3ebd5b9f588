# Light instruction tuning of every checkpoint (paper Sec. 3.1, App. B), one rule per tuned accuracy source
# (evaluation.tuning): lora saves the adapter only; full saves a whole fine-tuned model. One job per distinct
# tuning ({tuning}: SFT data and rendering, common.smk TUNING; a rank of the rank ablation, RANKS, is another
# tuning with its own recipe): domains tuned alike share it.


rule lora:
    input:
        checkpoint=checkpoint_pointer,
        sft=tuning_sft,
    output:
        adapter=directory(out("lora/{step}/{tuning}")),
    log:
        out("logs/lora/{step}/{tuning}.log"),
    benchmark:
        out("benchmarks/lora/{step}/{tuning}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("lora", gpu=True),
    params:
        lora=lora_recipe,
        target_delimiter=lambda wc: config["domains"][TUNED_DOMAIN[wc.tuning]][
            "target_delimiter"
        ],
        seed=replicate_seed,
        device=config["device"],
        dtype=config["dtype"],
        full=False,  # the adapter only
    script:
        "../scripts/lora.py"


# Full fine-tuning with the lora recipe (accuracy source `full`): a full model copy per (step, tuning).
rule full_tune:
    input:
        checkpoint=checkpoint_pointer,
        sft=tuning_sft,
    output:
        model=directory(out("full/{step}/{tuning}")),
    log:
        out("logs/full_tune/{step}/{tuning}.log"),
    benchmark:
        out("benchmarks/full_tune/{step}/{tuning}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("full_tune", gpu=True),
    params:
        lora=section("lora"),
        target_delimiter=lambda wc: config["domains"][TUNED_DOMAIN[wc.tuning]][
            "target_delimiter"
        ],
        seed=replicate_seed,
        device=config["device"],
        dtype=config["dtype"],
        full=True,  # the whole model, without the LoRA-only keys of the recipe
    script:
        "../scripts/lora.py"
