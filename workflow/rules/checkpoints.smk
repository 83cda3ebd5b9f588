# Checkpoints: each analysed step becomes checkpoints/{step}/checkpoint.json pointing to a model dir.
# Hub checkpoints can be evicted from the HF cache after use (checkpoints.evict_after_use): then the
# pointer is temp() and evict_checkpoint waits for every job that reads the model; a later job that needs
# the model again finds no pointer and fetches it again.
EVICT = config["checkpoints"]["evict_after_use"]
EVICTED = expand(out("checkpoints/{step}/evicted.json"), step=STEPS) if EVICT else []


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
            **rule_resources("toy_pretrain", gpu=True),
        params:
            toy=section("toy"),
            steps=STEPS,
            seed=config["seed"],
        script:
            "../scripts/toy_pretrain.py"

elif config["checkpoints"]["source"] == "hub":

    REVISIONS = hub_revisions()
    POINTER = out("checkpoints/{step}/checkpoint.json")

    rule fetch_checkpoint:
        output:
            temp(POINTER) if EVICT else POINTER,
        log:
            out("logs/fetch_checkpoint/{step}.log"),
        benchmark:
            out("benchmarks/fetch_checkpoint/{step}.tsv")
        conda:
            "../../envs/torch.yaml"
        resources:
            **rule_resources("fetch_checkpoint"),
        params:
            repo=config["checkpoints"]["repo"],
            revision=lambda wc: REVISIONS[int(wc.step)],
            cache_dir=config["checkpoints"]["cache_dir"],
        script:
            "../scripts/fetch_checkpoint.py"

    rule evict_checkpoint:
        input:
            checkpoint_consumers,
        output:
            out("checkpoints/{step}/evicted.json"),
        log:
            out("logs/evict_checkpoint/{step}.log"),
        priority: 100
        conda:
            "../../envs/torch.yaml"
        params:
            repo=config["checkpoints"]["repo"],
            revision=lambda wc: REVISIONS[int(wc.step)],
            cache_dir=config["checkpoints"]["cache_dir"],
        script:
            "../scripts/evict_checkpoint.py"

else:

    rule local_checkpoint:
        input:
            model=lambda wc: config["checkpoints"]["path_pattern"].format(step=wc.step),
        output:
            out("checkpoints/{step}/checkpoint.json"),
        log:
            out("logs/local_checkpoint/{step}.log"),
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/local_checkpoint.py"
