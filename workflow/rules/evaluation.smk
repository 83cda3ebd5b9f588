# Benchmark every checkpoint with lm-evaluation-harness, logging per-item correctness, once per accuracy
# source (evaluation.tuning): base + LoRA adapter, the checkpoint zero-shot, or the fully tuned model.


if config["checkpoints"]["source"] == "toy":

    rule benchmark_task:
        input:
            benchmark=out("data/{domain}/benchmark.jsonl"),
        output:
            out("eval/tasks/{domain}/{domain}_benchmark.yaml"),
        log:
            out("logs/benchmark_task/{domain}.log"),
        benchmark:
            out("benchmarks/benchmark_task/{domain}.tsv")
        conda:
            "../../envs/torch.yaml"
        params:
            domain=lambda wc: config["domains"][wc.domain],
            prompt_template=lambda wc: config["lora"]["prompt_template"],
            target_delimiter=lambda wc: config["domains"][wc.domain]["target_delimiter"],
            evaluation=section("evaluation"),
        script:
            "../scripts/benchmark_task.py"

else:

    # The paper's lm-eval task of the domain (grokmon.workflow.lm_eval_tasks), with the config's overrides.
    rule benchmark_task:
        output:
            out("eval/tasks/{domain}/{domain}_benchmark.yaml"),
        log:
            out("logs/benchmark_task/{domain}.log"),
        benchmark:
            out("benchmarks/benchmark_task/{domain}.tsv")
        conda:
            "../../envs/torch.yaml"
        params:
            benchmark=lambda wc: config["domains"][wc.domain]["benchmark"],
        script:
            "../scripts/benchmark_task.py"


rule evaluate:
    input:
        unpack(tuned_model),
        checkpoint=checkpoint_pointer,
        task=out("eval/tasks/{domain}/{domain}_benchmark.yaml"),
    output:
        records=out("eval/{source}/{step}/{domain}.jsonl"),
    log:
        out("logs/evaluate/{source}/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/evaluate/{source}/{step}/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("evaluate", gpu=True),
    params:
        evaluation=section("evaluation"),
        device=config["device"],
        dtype=config["dtype"],
        seed=replicate_seed,
    script:
        "../scripts/evaluate.py"
