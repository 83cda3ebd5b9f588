# Data per domain: analysed pretraining samples, validation samples, SFT pairs, benchmark items.


rule resolved_config:
    output:
        run_out("config.resolved.yaml"),
    log:
        run_out("logs/resolved_config.log"),
    benchmark:
        run_out("benchmarks/resolved_config.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        config=config,
    script:
        "../scripts/resolved_config.py"


if config["checkpoints"]["source"] == "toy":

    rule toy_world:
        output:
            corpus=out("data/corpus.jsonl"),
            files=each(
                out("data/{domain}/{name}.jsonl"),
                domain=DOMAINS,
                name=["train", "validation", "sft", "benchmark"],
            ),
        log:
            out("logs/toy_world.log"),
        benchmark:
            out("benchmarks/toy_world.tsv")
        conda:
            "../../envs/analysis.yaml"
        params:
            world=section("toy")["world"],
            seed=replicate_seed,
        script:
            "../scripts/toy_world.py"

else:

    rule paper_data:
        input:
            PREFLIGHT,
        output:
            train=out("data/{domain}/train.jsonl"),
            validation=out("data/{domain}/validation.jsonl"),
            sft=out("data/{domain}/sft.jsonl"),
            benchmark=out("data/{domain}/benchmark.jsonl"),
        log:
            out("logs/paper_data/{domain}.log"),
        benchmark:
            out("benchmarks/paper_data/{domain}.tsv")
        conda:
            "../../envs/torch.yaml"
        resources:
            **rule_resources("paper_data"),
        params:
            data=lambda wc: config["domains"][wc.domain]["data"],
            # the keys that decide which items exist, not the evaluation-only overrides
            benchmark=lambda wc: {
                k: v
                for k, v in config["domains"][wc.domain]["benchmark"].items()
                if k != "overrides"
            },
            seed=replicate_seed,
        script:
            "../scripts/paper_data.py"
