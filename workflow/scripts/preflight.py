"""Check the hub run before its first job (grokmon.preflight); fail with every problem found,
else record what was checked."""

from grokmon.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.job_server)

import dataclasses

from grokmon.io import write_json
from grokmon.jobs import start_job
from grokmon.preflight import preflight


def main(snakemake):
    log = start_job(snakemake)
    report = preflight(snakemake.params.config)
    if not report.ok:
        raise SystemExit("preflight failed:\n  " + "\n  ".join(report.problems))
    log.info("preflight ok: %s", report.summary())
    write_json(snakemake.output[0], dataclasses.asdict(report))


main(snakemake)
