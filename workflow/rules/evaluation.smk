# Benchmark every tuned checkpoint with lm-evaluation-harness, logging per-item correctness.


rule benchmark_task:
    input:
        benchmark=out("data/{domain}/benchmark.jsonl"),
    output:
        out("eval/tasks/{domain}/{domain}_benchmark.yaml"),
    params:
        domain=lambda wc: config["domains"][wc.domain],
        prompt_template=lambda wc: config["lora"]["prompt_template"],
        evaluation=section("evaluation"),
    log:
        out("logs/benchmark_task/{domain}.log"),
    script:
        "../scripts/benchmark_task.py"


rule evaluate:
    input:
        checkpoint=checkpoint_pointer,
        adapter=out("lora/{step}/{domain}"),
        task=out("eval/tasks/{domain}/{domain}_benchmark.yaml"),
    output:
        records=out("eval/{step}/{domain}.jsonl"),
    params:
        evaluation=section("evaluation"),
        device=config["device"],
        dtype=config["dtype"],
        seed=config["seed"],
    resources:
        **GPU_RULE_RESOURCES,
    log:
        out("logs/evaluate/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/evaluate/{step}/{domain}.tsv")
    script:
        "../scripts/evaluate.py"
