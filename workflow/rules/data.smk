# Data per domain: analysed pretraining samples, validation samples, SFT pairs, benchmark items.


rule resolved_config:
    output:
        out("config.resolved.yaml"),
    params:
        config=config,
    log:
        out("logs/resolved_config.log"),
    script:
        "../scripts/resolved_config.py"


if config["checkpoints"]["source"] == "toy":

    rule toy_world:
        output:
            corpus=out("data/corpus.jsonl"),
            files=expand(
                out("data/{domain}/{name}.jsonl"),
                domain=DOMAINS,
                name=["train", "validation", "sft", "benchmark"],
            ),
        params:
            world=section("toy")["world"],
            seed=config["seed"],
            domains=DOMAINS,
        log:
            out("logs/toy_world.log"),
        benchmark:
            out("benchmarks/toy_world.tsv")
        script:
            "../scripts/toy_world.py"

else:

    rule paper_data:
        output:
            train=out("data/{domain}/train.jsonl"),
            validation=out("data/{domain}/validation.jsonl"),
            sft=out("data/{domain}/sft.jsonl"),
            benchmark=out("data/{domain}/benchmark.jsonl"),
        params:
            data=lambda wc: config["domains"][wc.domain]["data"],
            seed=config["seed"],
        log:
            out("logs/paper_data/{domain}.log"),
        benchmark:
            out("benchmarks/paper_data/{domain}.tsv")
        script:
            "../scripts/paper_data.py"
