"""Check the hub run before its first job (grokmon.workflow.preflight); fail with every problem found,
else record what was checked."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import dataclasses

from grokmon.workflow.io import write_json
from grokmon.workflow.jobs import start_job
from grokmon.workflow.preflight import preflight


def main(snakemake):
    log = start_job(snakemake)
    report = preflight(snakemake.params.config)
    if not report.ok:
        raise SystemExit("preflight failed:\n  " + "\n  ".join(report.problems))
    log.info("preflight ok: %s", report.summary())
    write_json(snakemake.output[0], dataclasses.asdict(report))


main(snakemake)
