"""Run as a script (by helpers.dag.planned_jobs): builds the workflow's DAG through Snakemake's Python API, as
`snakemake -n` does, and prints its jobs that need to run as one JSON line of helpers.dag.Job fields.

Its one argument is JSON: {"snakefile", "workdir", "configfile", "targets": [...], "config": {...}, "forcerun": [...]}.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def needrun_jobs(
    snakefile: str, workdir: str, configfile: str, targets: list[str], config: dict, forcerun: list[str]
) -> list[dict]:
    """The jobs of the DAG that need to run (`forcerun`: these rules' jobs too), as dicts of rule, wildcards, input,
    output, resources and parents (the positions in this list of the jobs whose output it reads)."""
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[Path(configfile)], config=config),
            snakefile=Path(snakefile),
            workdir=Path(workdir),
        )
        workflow = workflow_api.dag(DAGSettings(targets=set(targets), forcerun=set(forcerun))).workflow_api._workflow
        workflow._prepare_dag(forceall=False, ignore_incomplete=False, lock_warn_only=True)
        workflow._build_dag()
        jobs = list(workflow.dag.needrun_jobs())
        position = {job: i for i, job in enumerate(jobs)}
        return [
            {
                "rule": job.rule.name,
                "wildcards": {key: str(value) for key, value in job.wildcards_dict.items()},
                "input": [str(path) for path in job.input],
                "output": [str(path) for path in job.output],
                "resources": {key: value for key, value in job.resources.items() if not key.startswith("_")},
                "parents": sorted(position[parent] for parent in workflow.dag.dependencies[job] if parent in position),
            }
            for job in jobs
        ]


if __name__ == "__main__":
    print(json.dumps(needrun_jobs(**json.loads(sys.argv[1])), default=str))
