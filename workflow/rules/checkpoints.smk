# Checkpoints: each analysed step becomes checkpoints/{step}/checkpoint.json pointing to a model dir.

if config["checkpoints"]["source"] == "toy":

    rule toy_pretrain:
        input:
            corpus=out("data/corpus.jsonl"),
        output:
            pointers=expand(out("checkpoints/{step}/checkpoint.json"), step=STEPS),
            log_tsv=out("checkpoints/pretrain_log.tsv"),
        log:
            out("logs/toy_pretrain.log"),
        benchmark:
            out("benchmarks/toy_pretrain.tsv")
        conda:
            "../../envs/torch.yaml"
        resources:
            **GPU_RULE_RESOURCES,
        params:
            toy=section("toy"),
            steps=STEPS,
            seed=config["seed"],
        script:
            "../scripts/toy_pretrain.py"

elif config["checkpoints"]["source"] == "hub":

    rule fetch_checkpoint:
        output:
            out("checkpoints/{step}/checkpoint.json"),
        log:
            out("logs/fetch_checkpoint/{step}.log"),
        benchmark:
            out("benchmarks/fetch_checkpoint/{step}.tsv")
        conda:
            "../../envs/torch.yaml"
        params:
            checkpoints=section("checkpoints"),
        script:
            "../scripts/fetch_checkpoint.py"

else:

    rule local_checkpoint:
        output:
            out("checkpoints/{step}/checkpoint.json"),
        log:
            out("logs/local_checkpoint/{step}.log"),
        conda:
            "../../envs/analysis.yaml"
        params:
            path_pattern=config["checkpoints"].get("path_pattern"),
        script:
            "../scripts/local_checkpoint.py"
