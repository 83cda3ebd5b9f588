"""Each Table 2 dataset and SFT set as a tiny local file in its real format (datasets.md), read by the loaders."""

import json
from pathlib import Path

import datasets as hf_datasets
import pyarrow as pa
import pytest
import yaml
from helpers.formats import json_array, jsonl, parquet
from helpers.rows import MEDIAWIKI

from grokmon.workflow import datasets as gd


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_datasets_cache"))


def _by_id(samples):
    return sorted(samples, key=lambda s: s["id"])


# ---------------- pretraining sources ----------------


def test_open_web_math(tmp_path):
    rows = [
        {
            "url": f"https://m.org/{i}",
            "text": f"Lemma {i}. $x^{i}$",
            "date": "2023-01-0{i}",
            "metadata": json.dumps({"extraction_info": {"found_math": True}, "score": 0.9}),
        }
        for i in range(1, 6)
    ]
    f = parquet(tmp_path / "data" / "train-00000-of-00114-abc.parquet", rows)
    spec = {"data_files": str(tmp_path / "data" / "train-*.parquet"), "format": "parquet", "n": 10}
    got = gd.load_text_samples(spec, seed=0)
    assert _by_id(got) == [{"id": str(i), "text": f"Lemma {i + 1}. $x^{i + 1}$"} for i in range(5)]
    assert gd.load_text_samples(spec, seed=0) == got  # same seed, same list in the same order
    assert [s["id"] for s in gd.load_text_samples(spec, seed=1)] != [s["id"] for s in got]
    # url as the stable id; the n cap takes a prefix of the seeded order
    spec_url = {"data_files": f, "format": "parquet", "id_field": "url"}
    full = gd.load_text_samples(spec_url, seed=3)
    assert sorted(s["id"] for s in full) == [r["url"] for r in rows]
    assert gd.load_text_samples({**spec_url, "n": 2}, seed=3) == full[:2]


def test_starcoderdata_python(tmp_path):
    rows = [
        {
            "id": "sc-1",
            "content": "def f():\n    return 1\n",
            "max_stars_repo_path": "a/f.py",
            "max_stars_repo_name": "o/a",
            "max_stars_count": 3,
        },
        {
            "id": "sc-2",
            "content": "",
            "max_stars_repo_path": "b.py",
            "max_stars_repo_name": "o/b",
            "max_stars_count": None,
        },
        {
            "id": "sc-3",
            "content": "import os\n",
            "max_stars_repo_path": "c.py",
            "max_stars_repo_name": "o/c",
            "max_stars_count": None,
        },
    ]
    parquet(tmp_path / "starcoderdata" / "python" / "train-00000-of-00059.parquet", rows)
    parquet(
        tmp_path / "starcoderdata" / "git-commits-cleaned" / "train-00000-of-00001.parquet",
        [{"commit": "x", "message": "y"}],
    )
    # one language directory at a time, as the card requires (other subsets have other columns)
    spec = {
        "data_files": str(tmp_path / "starcoderdata" / "python" / "*.parquet"),
        "format": "parquet",
        "text_field": "content",
        "id_field": "id",
    }
    assert _by_id(gd.load_text_samples(spec, seed=0)) == [
        {"id": "sc-1", "text": "def f():\n    return 1\n"},
        {"id": "sc-3", "text": "import os\n"},
    ]  # the empty file is skipped


def test_dolma_books_truncated(tmp_path):
    book = "CHAPTER I.\n" + "word " * 2000
    rows = [
        {
            "id": "g1",
            "text": book,
            "source": "gutenberg",
            "added": "2023",
            "created": "1850",
            "metadata": {"title": "T"},
        },
        {
            "id": "g2",
            "text": "Short book.",
            "source": "gutenberg",
            "added": "2023",
            "created": "1900",
            "metadata": {"title": "S"},
        },
    ]
    f = parquet(tmp_path / "000_00000.parquet", rows)
    got = gd.load_text_samples({"data_files": f, "format": "parquet", "max_chars": 16}, seed=0)
    assert _by_id(got) == [{"id": "0", "text": "CHAPTER I.\nword "}, {"id": "1", "text": "Short book."}]


def test_mediawiki_dolma_keyword_filter(tmp_path):
    jsonl(tmp_path / "mediawiki" / "wikibooks.jsonl.gz", MEDIAWIKI[:2], gz=True)
    jsonl(tmp_path / "mediawiki" / "wikiversity.jsonl.gz", MEDIAWIKI[2:], gz=True)
    base = {"data_files": str(tmp_path / "mediawiki" / "**"), "format": "json", "id_field": "id"}
    on_text = {**base, "keyword": {"field": "text", "contains": "Organic Chemistry"}}
    assert sorted(s["id"] for s in gd.load_text_samples(on_text, seed=0)) == ["0-11", "0-14"]
    on_title = {**base, "keyword": {"field": "metadata.title", "contains": "Organic Chemistry"}}
    assert sorted(s["id"] for s in gd.load_text_samples(on_title, seed=0)) == ["0-11", "0-14"]
    any_case = {**base, "keyword": {"field": "text", "contains": "Organic Chemistry", "ignore_case": True}}
    got = gd.load_text_samples({**any_case, "n": 2}, seed=5)
    assert len(got) == 2 and {s["id"] for s in got} < {"0-11", "0-13", "0-14"}
    assert _by_id(gd.load_text_samples(any_case, seed=5)) == [
        {"id": r["id"], "text": r["text"]} for r in MEDIAWIKI if r["id"] != "0-12"
    ]


def test_streaming_with_shuffle_buffer(tmp_path):
    rows = [{"id": f"d{i:02d}", "text": f"doc {i}", "source": "open-web-math"} for i in range(30)]
    jsonl(tmp_path / "open-web-math" / "046.jsonl.gz", rows[:15], gz=True)  # OLMoE-mix shard layout
    jsonl(tmp_path / "open-web-math" / "051.jsonl.gz", rows[15:], gz=True)
    spec = {
        "data_files": str(tmp_path / "open-web-math" / "*.jsonl.gz"),
        "format": "json",
        "streaming": True,
        "shuffle_buffer": 8,
        "id_field": "id",
        "n": 10,
    }
    got = gd.load_text_samples(spec, seed=0)
    assert len(got) == 10 and all(s["text"] == f"doc {int(s['id'][1:])}" for s in got)
    assert gd.load_text_samples(spec, seed=0) == got
    assert gd.load_text_samples(spec, seed=1) != got
    assert [s["id"] for s in got] != [f"d{i:02d}" for i in range(10)]  # shuffled, not the file order
    # no buffer: the file order, ids are the stream's row indexes
    plain = gd.load_text_samples({**spec, "shuffle_buffer": 0, "id_field": None, "n": 3}, seed=0)
    assert plain == [{"id": "0", "text": "doc 0"}, {"id": "1", "text": "doc 1"}, {"id": "2", "text": "doc 2"}]
    with pytest.raises(ValueError, match="id_field"):
        gd.load_text_samples({**spec, "id_field": None}, seed=0)


# ---------------- test benchmarks (their texts: capture, matching, contamination) ----------------


def test_dart_math_pool_dedupes_queries(tmp_path):
    rows = [
        {
            "query": "What is $1+1$?",
            "gt_ans": "2",
            "query_metadata": {"level": 1},
            "resp": "It is \\boxed{2}.",
            "query4test": False,
            "domain": "Algebra",
        },
        {
            "query": "What is $1+1$?",
            "gt_ans": "2",
            "query_metadata": {"level": 1},
            "resp": "So \\boxed{2}.",
            "query4test": False,
            "domain": "Algebra",
        },
        {
            "query": "Solve $2x=6$.",
            "gt_ans": "3",
            "query_metadata": {"level": 2},
            "resp": "x=\\boxed{3}",
            "query4test": False,
            "domain": "Algebra",
        },
    ]
    f = parquet(tmp_path / "data" / "train-00000-of-00005.parquet", rows)
    spec = {"data_files": f, "format": "parquet", "text_field": "query", "dedupe": True}
    got = gd.load_text_samples(spec, seed=0)
    assert sorted(s["text"] for s in got) == ["Solve $2x=6$.", "What is $1+1$?"]
    assert {s["id"] for s in got if s["text"] == "Solve $2x=6$."} == {"2"}
    for seed in range(6):  # the duplicate keeps its first row (index 0) whatever the seeded order
        assert {s["id"] for s in gd.load_text_samples(spec, seed=seed) if s["text"] == "What is $1+1$?"} == {"0"}
    assert len(gd.load_text_samples({**spec, "dedupe": False}, seed=0)) == 3
    with pytest.raises(ValueError, match="query_metadata"):
        gd.load_text_samples({**spec, "text_field": "query_metadata"}, seed=0)  # a struct is not text


def test_dart_math_nested_int_is_not_text(tmp_path):
    f = parquet(tmp_path / "d.parquet", [{"query": "q", "query_metadata": {"level": 1}}])
    with pytest.raises(ValueError, match="'query_metadata.level' holds int"):
        gd.load_text_samples({"data_files": f, "format": "parquet", "text_field": "query_metadata.level"}, seed=0)


def test_humanevalplus(tmp_path):
    rows = [
        {
            "task_id": f"HumanEval/{i}",
            "prompt": f'def f{i}(x):\n    """Return x+{i}."""\n',
            "canonical_solution": f"    return x + {i}\n",
            "entry_point": f"f{i}",
            "test": f"def check(candidate):\n    assert candidate(1) == {1 + i}\n",
        }
        for i in range(3)
    ]
    f = parquet(tmp_path / "data" / "test-00000-of-00001-5973903632b82d40.parquet", rows)
    spec = {"data_files": f, "format": "parquet", "split": "test", "text_field": "prompt", "id_field": "task_id"}
    assert _by_id(gd.load_text_samples(spec, seed=0)) == [{"id": r["task_id"], "text": r["prompt"]} for r in rows]


def split_files(root: Path, *splits: str) -> dict[str, str]:
    """data_files of a hub-style parquet dataset under `root`: {split: "root/data/{split}-*.parquet"}."""
    return {split: str(root / "data" / f"{split}-*.parquet") for split in splits}


def test_commonsense_qa_validation(tmp_path):
    rows = [
        {
            "id": "075e483d21c29a511267ef62bedc0461",
            "question": "Where would you keep a pen?",
            "question_concept": "pen",
            "choices": {"label": list("ABCDE"), "text": ["desk", "sea", "sky", "oven", "mud"]},
            "answerKey": "A",
        },
        {
            "id": "61fe6e879ff18686d7552425a36344c8",
            "question": "What do cats chase?",
            "question_concept": "cat",
            "choices": {"label": list("ABCDE"), "text": ["mice", "cars", "stars", "books", "rain"]},
            "answerKey": "A",
        },
    ]
    parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", rows)
    parquet(tmp_path / "data" / "train-00000-of-00001.parquet", rows[:1])
    files = split_files(tmp_path, "train", "validation")
    spec = {"data_files": files, "format": "parquet", "split": "validation", "text_field": "question", "id_field": "id"}
    assert _by_id(gd.load_text_samples(spec, seed=0)) == [
        {"id": "075e483d21c29a511267ef62bedc0461", "text": "Where would you keep a pen?"},
        {"id": "61fe6e879ff18686d7552425a36344c8", "text": "What do cats chase?"},
    ]


def test_mmlu_college_chemistry(tmp_path):
    schema = pa.schema(
        [
            ("question", pa.string()),
            ("subject", pa.string()),
            ("choices", pa.list_(pa.string())),
            ("answer", pa.int64()),
        ]
    )
    rows = [
        {
            "question": f"Q{i}: which gas?",
            "subject": "college_chemistry",
            "choices": ["H2", "O2", "N2", "He"],
            "answer": i % 4,
        }
        for i in range(4)
    ]
    f = parquet(tmp_path / "college_chemistry" / "test-00000-of-00001.parquet", rows, schema)
    spec = {"data_files": f, "format": "parquet", "split": "test", "text_field": "question", "n": 3}
    got = gd.load_text_samples(spec, seed=0)
    assert len(got) == 3 and all(s["text"] == f"Q{s['id']}: which gas?" for s in got)
    with pytest.raises(ValueError, match="'answer' holds int"):
        gd.load_text_samples({**spec, "text_field": ["question", "answer"]}, seed=0)


# ---------------- validation corpora ----------------


def test_competition_math_two_fields(tmp_path):
    rows = [
        {"problem": "Compute $2+2$.", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{4}$"},
        {"problem": "Find $x$.", "level": "Level ?", "type": "Algebra", "solution": ""},
    ]
    f = parquet(tmp_path / "data" / "train-00000-of-00001-7320a6f3aba8ebd2.parquet", rows)
    spec = {"data_files": f, "format": "parquet", "text_field": ["problem", "solution"]}
    assert _by_id(gd.load_text_samples(spec, seed=0)) == [
        {"id": "0", "text": "Compute $2+2$.\n\n$\\boxed{4}$"},
        {"id": "1", "text": "Find $x$."},  # an empty field adds no separator
    ]


def test_leetcode_jsonl(tmp_path):
    row = {
        "task_id": "two-sum",
        "question_id": 1,
        "difficulty": "Easy",
        "tags": ["Array", "Hash Table"],
        "problem_description": "Given nums...",
        "starter_code": "class Solution:\n",
        "estimated_date": "2015-08-07",
        "prompt": "import math\n",
        "completion": "class Solution: ...",
        "entry_point": "Solution().twoSum",
        "test": "def check(candidate): ...",
        "input_output": [{"input": "nums = [2,7]", "output": "[0, 1]"}],
        "query": "Solve two sum.",
        "response": "Use a dict.",
    }
    jsonl(tmp_path / "LeetCodeDataset-train.jsonl", [row, {**row, "task_id": "x", "question_id": 9}])
    jsonl(tmp_path / "LeetCodeDataset-test.jsonl", [{**row, "task_id": "t", "question_id": 2, "query": "Q2"}])
    spec = {
        "data_files": {
            "train": str(tmp_path / "LeetCodeDataset-train.jsonl"),
            "test": str(tmp_path / "LeetCodeDataset-test.jsonl"),
        },
        "format": "json",
        "split": "test",
        "text_field": ["query", "response"],
        "id_field": "question_id",
    }
    assert gd.load_text_samples(spec, seed=0) == [{"id": "2", "text": "Q2\n\nUse a dict."}]
    assert sorted(s["id"] for s in gd.load_text_samples({**spec, "split": "train"}, seed=0)) == ["1", "9"]


def test_flan2021_commonsense(tmp_path):
    rows = [
        {
            "inputs": "Is fire hot?",
            "targets": "yes",
            "task_source": "Flan2021",
            "task_name": "cosmos_qa",
            "template_type": "zs_opt",
        }
    ]
    f = parquet(tmp_path / "train.parquet", rows)
    spec = {"data_files": f, "format": "parquet", "text_field": ["inputs", "targets"]}
    assert gd.load_text_samples(spec, seed=0) == [{"id": "0", "text": "Is fire hot?\n\nyes"}]


def test_chemistry_bookshelves(tmp_path):
    rows = [
        {
            "title": "1.1: Atoms",
            "url": "https://chem.libretexts.org/1",
            "text": "Atoms are small.",
            "__index_level_0__": 41,
        }
    ]
    f = parquet(tmp_path / "data" / "train-00000-of-00001-e213dd8d81332749.parquet", rows)
    got = gd.load_text_samples({"data_files": f, "format": "parquet", "id_field": "__index_level_0__"}, seed=0)
    assert got == [{"id": "41", "text": "Atoms are small."}]


# ---------------- SFT sets ----------------


def test_metamathqa_json_array(tmp_path):
    rows = [
        {
            "query": f"What is {i}+{i}?",
            "response": f"{i}+{i}={2 * i}. The answer is: {2 * i}",
            "type": "GSM_AnsAug",
            "original_question": f"What is {i}+{i}?",
        }
        for i in range(6)
    ]
    f = json_array(tmp_path / "MetaMathQA-395K.json", rows)
    spec = {"data_files": f, "format": "json", "prompt_field": "query", "response_field": "response", "n": 4}
    got = gd.load_sft_pairs(spec, seed=0)
    assert len(got) == 4 and got == gd.load_sft_pairs(spec, seed=0)
    expected = {(r["query"], r["response"]) for r in rows}
    assert {(p["prompt"], p["response"]) for p in got} < expected
    assert {(p["prompt"], p["response"]) for p in gd.load_sft_pairs({**spec, "n": None}, seed=0)} == expected


def test_codealpaca_parquet(tmp_path):
    parquet(
        tmp_path / "data" / "train-00000-of-00001.parquet",
        [{"prompt": "Reverse a list.", "completion": "xs[::-1]"}, {"prompt": "Add.", "completion": ""}],
    )
    parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [{"prompt": "Sum.", "completion": "sum(xs)"}])
    files = split_files(tmp_path, "train", "test")
    spec = {"data_files": files, "format": "parquet", "prompt_field": "prompt", "response_field": "completion"}
    assert gd.load_sft_pairs(spec, seed=0) == [{"prompt": "Reverse a list.", "response": "xs[::-1]"}]
    assert gd.load_sft_pairs({**spec, "split": "test"}, seed=0) == [{"prompt": "Sum.", "response": "sum(xs)"}]


def test_alpaca_cleaned_instruction_plus_input(tmp_path):
    rows = [
        {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
        {"instruction": "Name a color.", "input": "", "output": "Blue"},
    ]
    f = json_array(tmp_path / "alpaca_data_cleaned.json", rows)
    spec = {
        "data_files": f,
        "format": "json",
        "prompt_field": "instruction",
        "input_field": "input",
        "response_field": "output",
    }
    assert sorted(gd.load_sft_pairs(spec, seed=0), key=lambda p: p["response"]) == [
        {"prompt": "Name a color.", "response": "Blue"},
        {"prompt": "Translate to French.\n\ncat", "response": "chat"},
    ]


# ---------------- spec checks ----------------


@pytest.mark.parametrize(
    "spec, word",
    [
        ({"format": "parquet"}, "data_files"),
        ({"data_files": "x.parquet", "format": "csv"}, "format"),
        ({"data_files": "x.parquet", "format": "parquet", "n": 0}, r"\.n"),
        ({"data_files": "x.parquet", "format": "parquet", "txt_field": "t"}, "txt_field"),
        ({"data_files": "x.parquet", "format": "parquet", "keyword": {"field": "text"}}, "keyword"),
        ({"data_files": "x.parquet", "format": "parquet", "text_field": []}, "text_field"),
        ({"data_files": "x.parquet", "format": "parquet", "max_chars": -1}, "max_chars"),
    ],
)
def test_bad_text_spec(spec, word):
    with pytest.raises(ValueError, match=word):
        gd.load_text_samples(spec, seed=0)


def test_missing_column_is_named(tmp_path):
    f = parquet(tmp_path / "t.parquet", [{"prompt": "a", "completion": "b"}])
    with pytest.raises(ValueError, match=r"\['response'\]"):
        gd.load_sft_pairs({"data_files": f, "format": "parquet"}, seed=0)


# ---------------- the config schema of one domain's data section ----------------

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "paper_data.schema.yaml"


def _schema_props(name):
    defs = yaml.safe_load(SCHEMA.read_text())["$defs"]
    return {**defs["source"]["properties"], **defs[name]["properties"]}


@pytest.mark.parametrize("name, defaults", [("text_samples", gd.TEXT_DEFAULTS), ("sft_pairs", gd.SFT_DEFAULTS)])
def test_schema_keys_and_defaults_match_the_loader(name, defaults):
    props = _schema_props(name)
    assert set(props) == set(defaults)
    assert {k: p["default"] for k, p in props.items() if "default" in p} == {
        k: v for k, v in defaults.items() if v is not None
    }


def _validate(section):
    from snakemake.utils import validate

    validate(section, str(SCHEMA))
    return section


def test_schema_fills_defaults_and_rejects_bad_sections():
    section = _validate(
        {
            "train": {
                "dataset": "open-web-math/open-web-math",
                "data_files": "data/train-0000[0-1]-*.parquet",
                "n": 10000,
            },
            "validation": {"data_files": "v.parquet", "format": "parquet", "text_field": ["problem", "solution"]},
            "test": {
                "dataset": "blester125/mediawiki-dolma",
                "keyword": {"field": "text", "contains": "Organic Chemistry"},
            },
            "sft": {
                "dataset": "yahma/alpaca-cleaned",
                "prompt_field": "instruction",
                "input_field": "input",
                "response_field": "output",
            },
        }
    )
    assert section["train"] == {
        "dataset": "open-web-math/open-web-math",
        "data_files": "data/train-0000[0-1]-*.parquet",
        "n": 10000,
        "split": "train",
        "streaming": False,
        "shuffle_buffer": 10000,
        "text_field": "text",
        "dedupe": False,
    }
    assert section["test"]["keyword"] == {"field": "text", "contains": "Organic Chemistry", "ignore_case": False}
    assert section["sft"]["split"] == "train" and "text_field" not in section["sft"]
    good = {"train": {"dataset": "a"}, "validation": {"dataset": "b"}, "sft": {"dataset": "c"}}
    for bad, why in [
        ({**good, "train": {"data_files": "x.csv", "format": "csv"}}, "'csv' is not one of"),
        ({**good, "train": {"data_files": "x.parquet"}}, "not valid under any"),  # no format
        ({**good, "train": {"split": "train"}}, "not valid under any"),  # no source
        ({**good, "train": {"dataset": "a", "prompt_field": "q"}}, "'prompt_field' was unexpected"),
        ({**good, "sft": {"dataset": "c", "text_field": "t"}}, "'text_field' was unexpected"),
        ({**good, "validation": {"dataset": "b", "n": 0}}, "less than the minimum"),
        ({"train": {"dataset": "a"}, "sft": {"dataset": "c"}}, "'validation' is a required"),
    ]:
        with pytest.raises(Exception, match=why):
            _validate(bad)
