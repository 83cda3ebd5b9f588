# One forward pass per (checkpoint, domain): per-sample mean NLL and mean full-softmax routing
# weights per layer, for the training samples, the validation samples and the test items.


rule routes:
    input:
        checkpoint=checkpoint_pointer,
        train=out("data/{domain}/train.jsonl"),
        validation=out("data/{domain}/validation.jsonl"),
        test=out("data/{domain}/benchmark.jsonl"),
    output:
        train=out("routes/{step}/{domain}/train.npz"),
        validation=out("routes/{step}/{domain}/validation.npz"),
        test=out("routes/{step}/{domain}/test.npz"),
    log:
        out("logs/routes/{step}/{domain}.log"),
    benchmark:
        out("benchmarks/routes/{step}/{domain}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("routes", gpu=True),
    params:
        routes=section("routes"),
        virtual_experts=section("virtual_experts"),
        device=config["device"],
        dtype=config["dtype"],
    script:
        "../scripts/routes.py"


rule router_matrices:
    input:
        checkpoint=checkpoint_pointer,
    output:
        out("routes/{step}/routers.npz"),
        parameters=out("routes/{step}/parameters.tsv"),
    log:
        out("logs/router_matrices/{step}.log"),
    benchmark:
        out("benchmarks/router_matrices/{step}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        **rule_resources("router_matrices"),
    params:
        virtual_experts=section("virtual_experts"),
    script:
        "../scripts/router_matrices.py"
