"""The README's code examples are the files the tests run, word for word."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def code_block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_library_example_in_readme_is_the_tested_file():
    assert code_block_after("## Use the metrics in your own code") == (REPO / "docs/library-example.py").read_text()


def test_every_paper_figure_is_mapped_to_an_output():
    for item in ("Fig. 1", "Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6", "Fig. 7", "Fig. 8", "Fig. 9", "Fig. 10", "Fig. 11", "Table 1", "Table 2", "Table 3"):
        assert re.search(rf"^\| {re.escape(item)} \|", README, re.M), item
