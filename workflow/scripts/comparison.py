"""Table 1 and the verdicts of two runs side by side (compare_with run first, this run second)."""

from grokmon.workflow.job_server import hand_off

hand_off()  # a local run's warm job server runs this job, if one answers (grokmon.workflow.job_server)

from grokmon.files.atomic import write_text
from grokmon.workflow.comparison import comparison_markdown
from grokmon.workflow.io import read_tsv
from grokmon.workflow.jobs import start_job


def main(snakemake):
    start_job(snakemake)
    other, this = snakemake.params.labels
    inputs = snakemake.input
    table1 = {other: read_tsv(inputs.other_table1), this: read_tsv(inputs.table1[0])}
    verdicts = {other: read_tsv(inputs.other_verdicts), this: read_tsv(inputs.verdicts)}
    write_text(snakemake.output[0], comparison_markdown(table1, verdicts))


main(snakemake)
