"""Memorization step t* of every training sample from its loss at every checkpoint (paper Sec. 3.1)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import numpy as np
import pandas as pd

from grokmon.files.atomic import save_npz
from grokmon.metrics.memorization import calibrate_epsilon, memorization_index, memorized_fraction_before_final
from grokmon.workflow.io import read_jsonl, write_json, write_tsv
from grokmon.workflow.jobs import start_job
from grokmon.workflow.route_losses import loss_matrix


def main(snakemake):
    log = start_job(snakemake)
    params, steps = snakemake.params.memorization, np.asarray(snakemake.params.steps)
    loss = loss_matrix(snakemake.input.routes, params["loss_span"])
    domain = snakemake.wildcards.domain
    epsilon = params["epsilon"]
    if isinstance(epsilon, dict):
        epsilon = epsilon[domain]
    calibration = None
    if epsilon == "auto":
        calibration = calibrate_epsilon(
            loss,
            delta=params["delta"],
            step=params["epsilon_step"],
            target=tuple(params["target_fraction"]),
            on_unreachable="best",
        )
        if not calibration.in_target:
            log.warning(
                "epsilon calibration missed the target %s: %.1f%% memorized before the last checkpoint",
                params["target_fraction"],
                100 * calibration.fraction,
            )
        epsilon = calibration.epsilon
    t_index = memorization_index(loss, epsilon, params["delta"], include_final=params["include_final"])
    fraction = memorized_fraction_before_final(t_index, len(steps))
    # samples whose loss meets epsilon and delta only at T: not memorized unless memorization.include_final
    at_final = int((memorization_index(loss, epsilon, params["delta"], include_final=True) == len(steps) - 1).sum())
    status = "counted as memorized" if params["include_final"] else "not memorized"
    log.info(
        "epsilon=%.4g: %.1f%% memorized before T; %d sample(s) only at T (%s)",
        epsilon,
        100 * fraction,
        at_final,
        status,
    )
    ids = [row["id"] for row in read_jsonl(snakemake.input.train)]
    save_npz(snakemake.output.loss, steps=steps, loss=loss.astype(np.float32))
    write_tsv(
        snakemake.output.t_star,
        pd.DataFrame(
            {
                "sample": np.arange(len(ids)),
                "id": ids,
                "t_index": t_index,
                "t_star": np.where(t_index >= 0, steps[t_index], -1),
                "final_loss": loss[-1],
            }
        ),
    )
    write_json(
        snakemake.output.epsilon,
        {
            "epsilon": float(epsilon),
            "delta": params["delta"],
            "calibrated": calibration is not None,
            "fraction_before_final": fraction,
            "only_at_final": at_final,
            "include_final": params["include_final"],
            "in_target": None if calibration is None else bool(calibration.in_target),
            "target_fraction": params["target_fraction"],
        },
    )


main(snakemake)
