"""Pretrain one segment of the tiny OLMoE (or its dense twin, toy.model.kind) on the toy corpus: from the previous
segment's training state (or from scratch) up to an analysed step, saving its checkpoint (or, for the rest segment,
up to toy.pretrain.steps)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.monitor.pathway_monitor import PathwayMonitor
from grokmon.routing.virtual_experts import set_virtual_experts
from grokmon.workflow.checkpoints import write_checkpoint_pointer
from grokmon.workflow.io import read_jsonl
from grokmon.workflow.jobs import start_job
from grokmon.workflow.toy.model import toy_model_config, train_tokenizer
from grokmon.workflow.toy.pretrain import pretrain


def main(snakemake):
    start_job(snakemake, seed=snakemake.params.seed)
    toy, stop_at, models = snakemake.params.toy, snakemake.params.stop_at, snakemake.params.models
    corpus = [row["text"] for row in read_jsonl(snakemake.input.corpus)]
    tokenizer = train_tokenizer(corpus)
    config = toy_model_config(tokenizer, **toy["model"])
    if config.model_type != "olmoe":  # the run's virtual_experts settings, saved with every checkpoint
        set_virtual_experts(config, **snakemake.params.virtual_experts)
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
        save_steps=snakemake.params.steps,
        seed=snakemake.params.seed,
        log_path=snakemake.output.log_tsv,
        callback=monitor,
        resume_from=snakemake.input.state or None,
        stop_at=stop_at,
        state_path=getattr(snakemake.output, "state", None),
        **pretrain_args,
    )
    if hasattr(snakemake.output, "pointer"):
        pointer, revision = snakemake.output.pointer, f"toy-step{stop_at}"
        write_checkpoint_pointer(pointer, step=stop_at, revision=revision, model_path=f"{models}/{stop_at}")


main(snakemake)
