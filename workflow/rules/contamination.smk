# Min-K%++ contamination filter of the test items (paper App. A), on when contamination.enabled: every
# benchmark item is scored under one checkpoint and the top `fraction` are left out of generalization.

CONTAMINATION = config["contamination"]
CONTAMINATION_STEP = (
    STEPS[-1] if CONTAMINATION["step"] is None else CONTAMINATION["step"]
)


rule contamination:
    input:
        checkpoint=out(f"checkpoints/{CONTAMINATION_STEP}/checkpoint.json"),
        benchmark=out("data/{domain}/benchmark.jsonl"),
    output:
        out("contamination/{domain}.tsv"),
    log:
        out("logs/contamination/{domain}.log"),
    benchmark:
        out("benchmarks/contamination/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("contamination", gpu=True),
    params:
        contamination={k: v for k, v in CONTAMINATION.items() if k != "enabled"},
        device=config["device"],
        dtype=config["dtype"],
    script:
        "../scripts/contamination.py"
