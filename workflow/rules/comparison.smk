# With compare_with: RUN2 (e.g. the dense control against the MoE demo), Table 1 of seed SEEDS[0] and the verdicts
# of this run beside those of results/RUN2/ (which must have been run first).
COMPARE_WITH = config["compare_with"]
COMPARISON = [run_out(f"comparison/{COMPARE_WITH}.md")] if COMPARE_WITH else []

if COMPARE_WITH:

    rule comparison:
        input:
            table1=expand(out("correlation/table1.tsv"), seed=SEEDS[0]),
            verdicts=run_out("verdicts/claims.tsv"),
            other_table1=f"results/{COMPARE_WITH}/seed{SEEDS[0]}/correlation/table1.tsv",
            other_verdicts=f"results/{COMPARE_WITH}/verdicts/claims.tsv",
        output:
            reported(
                run_out(f"comparison/{COMPARE_WITH}.md"),
                "comparison",
                "Comparison with another run",
                subcategory=None,
            ),
        log:
            run_out(f"logs/comparison/{COMPARE_WITH}.log"),
        benchmark:
            run_out(f"benchmarks/comparison/{COMPARE_WITH}.tsv")
        conda:
            "../../envs/analysis.yaml"
        params:
            labels=[COMPARE_WITH, RUN],
        script:
            "../scripts/comparison.py"
