"""The README's and the docs' code examples are the files the tests run, word for word; the paper map is whole."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grokmon.workflow.cli import read_texts

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PAPER_MAP = (REPO / "docs/paper-map.md").read_text()
MONITOR_DOC = (REPO / "docs/monitor.md").read_text()


def code_block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_library_example_in_readme_is_the_tested_file():
    assert code_block_after("## Use the metrics in your own code") == (REPO / "docs/library-example.py").read_text()


def test_every_paper_figure_is_mapped_to_an_output():
    for item in (
        "Fig. 1",
        "Fig. 2",
        "Fig. 3",
        "Fig. 4",
        "Fig. 5",
        "Fig. 6",
        "Fig. 7",
        "Fig. 8",
        "Fig. 9",
        "Fig. 10",
        "Fig. 11",
        "Table 1",
        "Table 2",
        "Table 3",
    ):
        assert re.search(rf"^\| {re.escape(item)} \|", PAPER_MAP, re.M), item
    for item in ("Table 5", "Figs. 14-15"):  # the nanoMoE replication: its config and outputs
        assert re.search(
            rf"^\| {re.escape(item)} \(nanoMoE.*config/nanomoe\.yaml.*results/nanomoe/", PAPER_MAP, re.M
        ), item


@pytest.mark.parametrize(
    "doc, heading", [(README, "## Monitor a pretraining run"), (MONITOR_DOC, "## From the command line")]
)
def test_command_line_example_starts_from_a_probe_file_its_first_command_makes(tmp_path, doc, heading):
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    command = re.search(r"```bash\n(?:#[^\n]*\n)?(python -c [^\n]*> probe\.jsonl)\n", section).group(1)
    subprocess.run(command.replace("python", sys.executable, 1), shell=True, cwd=tmp_path, check=True)
    texts, lines = read_texts(str(tmp_path / "probe.jsonl"), "text")
    assert len(texts) == 64 and texts[:2] == ["0+1=1", "1+1=2"] and lines[-1] == 64
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    assert block.count("--data probe.jsonl") == 2  # both commands read that file
