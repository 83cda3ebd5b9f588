"""Save the router weight matrices (a dense model's virtual expert embeddings) of one checkpoint:
float32[n_layers, n_experts, hidden]."""

from grokmon.capture import load_model, router_weights
from grokmon.checkpoints import read_checkpoint_pointer
from grokmon.io import save_npz
from grokmon.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    path = read_checkpoint_pointer(snakemake.input.checkpoint)["path"]
    model, _ = load_model(path, device="cpu", dtype="auto", virtual_experts=snakemake.params.virtual_experts)
    save_npz(snakemake.output[0], weights=router_weights(model))


main(snakemake)
