"""Save the router weight matrices (a dense model's virtual expert embeddings) of one checkpoint,
float32[n_layers, n_experts, hidden], and every parameter tensor's L2 norm (paper Table 3), from the one load of the
checkpoint."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.ablations.parameters import tensor_norms
from grokmon.files.atomic import save_npz
from grokmon.routing.capture import load_model, router_weights
from grokmon.workflow.checkpoints import read_checkpoint_pointer
from grokmon.workflow.io import write_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    path = read_checkpoint_pointer(snakemake.input.checkpoint)["path"]
    model, _ = load_model(path, device="cpu", dtype="auto", virtual_experts=snakemake.params.virtual_experts)
    save_npz(snakemake.output[0], weights=router_weights(model))
    norms = tensor_norms(model)
    # full float64 digits (write_tsv keeps 6): late-training changes between checkpoints can be ~1e-5 relative
    write_tsv(snakemake.output.parameters, norms.assign(norm=norms["norm"].map("{:.17g}".format)))


main(snakemake)
