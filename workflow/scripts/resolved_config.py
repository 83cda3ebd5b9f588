"""Write the validated config, defaults filled in, next to the run's results."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

import yaml

from grokmon.files.atomic import write_text
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    write_text(snakemake.output[0], yaml.safe_dump(dict(snakemake.params.config), sort_keys=False))


main(snakemake)
