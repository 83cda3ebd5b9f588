"""Two runs side by side: Table 1 and verdicts (grokmon.workflow.comparison)."""

import pandas as pd
import pytest

from grokmon.workflow.comparison import comparison_markdown, side_by_side


def _table1(rows, source="lora"):
    table = pd.DataFrame(rows, columns=["domain", "metric", "pearson", "spearman", "n", "pearson_p"])
    return table.assign(accuracy_source=source)


def _verdicts(rows, source="lora"):
    table = pd.DataFrame(rows, columns=["domain", "number", "statement", "verdict", "evidence"])
    return table.assign(accuracy_source=source)


MOE = _table1([["math", "Training loss", 0.1, 0.2, 9, 0.5], ["math", "Pathway distance", -0.9, -0.8, 9, 0.01]])
DENSE = _table1([["math", "Pathway distance", 0.5, 0.25, 10, 0.1], ["math", "Training loss", 0.3, 0.4, 10, 0.2]])


def test_side_by_side_aligns_rows_by_key_and_names_columns_by_run():
    got = side_by_side({"demo": MOE, "dense": DENSE}, ["domain", "metric"], ["pearson", "n"])
    assert list(got.columns) == ["domain", "metric", "demo pearson", "demo n", "dense pearson", "dense n"]
    assert got["metric"].tolist() == ["Training loss", "Pathway distance"]  # the first run's order, not sorted
    assert got["dense pearson"].tolist() == [0.3, 0.5] and got["demo n"].tolist() == [9, 9]
    extra = _table1([["code", "Pathway distance", 0.0, 0.0, 5, 1.0]])
    got = side_by_side({"demo": MOE, "dense": extra}, ["domain", "metric"], ["pearson"])
    assert got["domain"].tolist() == ["math", "math", "code"]  # rows only the later run has come last
    assert got["demo pearson"].isna().tolist() == [False, False, True]
    assert got["dense pearson"].isna().tolist() == [True, True, False]


def test_comparison_markdown_has_both_tables_with_each_runs_numbers():
    verdicts = {
        "demo": _verdicts([["math", 1, "Pathway distance falls after memorization", "holds", "3/5 groups"]]),
        "dense": _verdicts([["math", 1, "Pathway distance falls after memorization", "does not hold", "1/5"]]),
    }
    md = comparison_markdown({"demo": MOE, "dense": DENSE}, verdicts)
    assert md.startswith("# demo vs dense\n")
    assert "| lora | math | Pathway distance | -0.90 / -0.80 (9) | +0.50 / +0.25 (10) |" in md
    assert "| lora | math | 1 | Pathway distance falls after memorization | holds | does not hold |" in md


def test_each_accuracy_source_is_matched_with_its_own_rows():
    moe = pd.concat([MOE, _table1([["math", "Training loss", -0.5, -0.6, 9, 0.1]], source="none")])
    dense = pd.concat([DENSE, _table1([["math", "Training loss", 0.7, 0.8, 10, 0.1]], source="none")])
    row = ["math", 5, "Training and validation loss do not track accuracy"]
    verdicts = {
        "demo": pd.concat([_verdicts([[*row, "undecided", ""]]), _verdicts([[*row, "does not hold", ""]], "none")]),
        "dense": pd.concat([_verdicts([[*row, "holds", ""]]), _verdicts([[*row, "undecided", ""]], "none")]),
    }
    md = comparison_markdown({"demo": moe, "dense": dense}, verdicts)
    table1_rows = [line for line in md.splitlines() if "| Training loss |" in line]
    assert table1_rows == [
        "| lora | math | Training loss | +0.10 / +0.20 (9) | +0.30 / +0.40 (10) |",
        "| none | math | Training loss | -0.50 / -0.60 (9) | +0.70 / +0.80 (10) |",
    ]
    claim5 = [line for line in md.splitlines() if "| 5 |" in line]
    assert claim5 == [
        "| lora | math | 5 | Training and validation loss do not track accuracy | undecided | holds |",
        "| none | math | 5 | Training and validation loss do not track accuracy | does not hold | undecided |",
    ]


def test_bad_tables_raise():
    with pytest.raises(ValueError, match="at least 2 runs"):
        side_by_side({"demo": MOE}, ["domain", "metric"], ["pearson"])
    with pytest.raises(ValueError, match=r"tables\['dense'\]: lacks columns \['n'\]"):
        side_by_side({"demo": MOE, "dense": DENSE.drop(columns="n")}, ["domain"], ["n"])
