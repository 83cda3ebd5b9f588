"""Pretrain the tiny OLMoE (or its dense twin, toy.model.kind) on the toy corpus, saving a checkpoint at every analysed
step."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from pathlib import Path

from grokmon.monitor.pathway_monitor import PathwayMonitor
from grokmon.routing.virtual_experts import set_virtual_experts
from grokmon.workflow.checkpoints import write_checkpoint_pointer
from grokmon.workflow.io import read_jsonl
from grokmon.workflow.jobs import start_job
from grokmon.workflow.toy.model import toy_model_config, train_tokenizer
from grokmon.workflow.toy.pretrain import pretrain


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    toy, steps = snakemake.params.toy, snakemake.params.steps
    corpus = [row["text"] for row in read_jsonl(snakemake.input.corpus)]
    tokenizer = train_tokenizer(corpus)
    config = toy_model_config(tokenizer, **toy["model"])
    if config.model_type != "olmoe":  # the run's virtual_experts settings, saved with every checkpoint
        set_virtual_experts(config, **snakemake.params.virtual_experts)
    models = Path(snakemake.output.log_tsv).parent / "models"
    per_domain = max(1, toy["monitor"]["probe_size"] // len(snakemake.input.probes))
    probe = [row["text"] for path in snakemake.input.probes for row in read_jsonl(path)[:per_domain]]
    monitor = PathwayMonitor(
        probe, tokenizer, every=toy["monitor"]["every"], csv_path=snakemake.output.monitor, seed=snakemake.params.seed
    )
    pretrain_args = {k: v for k, v in toy["pretrain"].items() if k != "steps"}
    pretrain(
        corpus,
        tokenizer,
        config,
        out_dir=models,
        steps=toy["pretrain"]["steps"],
        save_steps=steps,
        seed=snakemake.params.seed,
        log_path=snakemake.output.log_tsv,
        callback=monitor,
        **pretrain_args,
    )
    for step, pointer in zip(steps, snakemake.output.pointers):
        write_checkpoint_pointer(pointer, step=step, revision=f"toy-step{step}", model_path=str(models / str(step)))


main(snakemake)
