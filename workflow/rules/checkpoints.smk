# Checkpoints: each analysed step becomes checkpoints/{step}/checkpoint.json pointing to a model dir.
# Hub checkpoints can be evicted from the HF cache after use (checkpoints.evict_after_use):
# evict_checkpoint waits for every job that reads the model, then deletes that revision. The pointer
# stays (not temp(): a regenerated pointer would rerun every job of the checkpoint); a job that must
# rerun later needs the revision downloaded again first (docs/reproducing-the-paper.md). checkpoints.max_cached = W
# bounds the disk: fetching a checkpoint waits until the one W places earlier is evicted.
EVICT = config["checkpoints"]["evict_after_use"]
EVICTED = each(out("checkpoints/{step}/evicted.json"), step=STEPS) if EVICT else []


if config["checkpoints"]["source"] == "toy":
    # Pretraining in segments, one job per analysed step (grokmon.workflow.toy.pretrain: resume_from / stop_at /
    # state_path), so each checkpoint's analysis starts as soon as it exists; the steps after the last analysed
    # one (if any) are the rest segment; toy_pretrain_log joins the parts into one log and monitor table.
    TOY_STEPS = config["toy"]["pretrain"]["steps"]
    SEGMENTS = [*STEPS, "rest"] if TOY_STEPS > STEPS[-1] else STEPS

    localrules:
        toy_pretrain_log,

    rule toy_pretrain:
        input:
            corpus=out("data/corpus.jsonl"),
            probes=each(out("data/{domain}/train.jsonl"), domain=DOMAINS),
            state=previous_train_state,
        output:
            pointer=out("checkpoints/{step}/checkpoint.json"),
            state=out("checkpoints/segments/{step}/train_state.pt"),
            log_tsv=out("checkpoints/segments/{step}/pretrain_log.tsv"),
            monitor=out("checkpoints/segments/{step}/monitor.csv"),
        log:
            out("logs/toy_pretrain/{step}.log"),
        benchmark:
            out("benchmarks/toy_pretrain/{step}.tsv")
        # The segments are the run's critical path: each starts before the analysis jobs that are ready with it.
        priority: 50
        conda:
            "../../envs/torch.yaml"
        resources:
            **rule_resources("toy_pretrain", gpu=True),
        params:
            toy=section("toy"),
            virtual_experts=section("virtual_experts"),
            steps=STEPS,
            seed=replicate_seed,
            stop_at=lambda wc: int(wc.step),
            models=lambda wc: out("checkpoints/models").format(seed=wc.seed),
        script:
            "../scripts/toy_pretrain.py"

    # The rest segment: toy_pretrain's job after the last analysed step, to the end of pretraining (no checkpoint).
    use rule toy_pretrain as toy_pretrain_rest with:
        output:
            log_tsv=out("checkpoints/segments/rest/pretrain_log.tsv"),
            monitor=out("checkpoints/segments/rest/monitor.csv"),
        log:
            out("logs/toy_pretrain/rest.log"),
        benchmark:
            out("benchmarks/toy_pretrain/rest.tsv")
        params:
            stop_at=TOY_STEPS,

    rule toy_pretrain_log:
        input:
            logs=each(
                out("checkpoints/segments/{segment}/pretrain_log.tsv"),
                segment=SEGMENTS,
            ),
            monitors=each(
                out("checkpoints/segments/{segment}/monitor.csv"), segment=SEGMENTS
            ),
        output:
            log_tsv=out("checkpoints/pretrain_log.tsv"),
            monitor=out("checkpoints/monitor.csv"),
        log:
            out("logs/toy_pretrain_log.log"),
        benchmark:
            out("benchmarks/toy_pretrain_log.tsv")
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/toy_pretrain_log.py"

elif config["checkpoints"]["source"] == "hub":

    REVISIONS = hub_revisions()

    localrules:
        preflight,

    # Before the first download or GPU job: revisions, datasets, tokens and disk room (grokmon.workflow.preflight).
    rule preflight:
        output:
            run_out("preflight.json"),
        log:
            run_out("logs/preflight.log"),
        benchmark:
            run_out("benchmarks/preflight.tsv")
        conda:
            "../../envs/torch.yaml"
        params:
            config=config,
        script:
            "../scripts/preflight.py"

    rule fetch_checkpoint:
        input:
            cache_slot,
            PREFLIGHT,
        output:
            out("checkpoints/{step}/checkpoint.json"),
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
        benchmark:
            out("benchmarks/evict_checkpoint/{step}.tsv")
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
        benchmark:
            out("benchmarks/local_checkpoint/{step}.tsv")
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/local_checkpoint.py"
