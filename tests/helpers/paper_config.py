"""config/olmoe.yaml (the paper's config) and tiny local stand-ins of its four domains' data, each source a file in its
hub format: the builders the paper-config tests, the end-to-end run and its SLURM twin share."""

from pathlib import Path

import yaml
from conftest import REPO

from helpers.formats import json_array, jsonl, parquet
from helpers.rows import CSQA, MEDIAWIKI, MMLU_CHEMISTRY

OLMOE = REPO / "config" / "olmoe.yaml"
PAPER = yaml.safe_load(OLMOE.read_text())  # config/olmoe.yaml as written (defaults not filled in)
GPU_RULES = {"routes", "lora", "evaluate", "contamination"}  # the rules that ask for a GPU
# Figures drawn for the largest groups (config `figures.*` null): for configs whose steps are not the paper's.
NO_FIGURE_GROUPS = {key: None for key in PAPER["figures"]}
# evalplus/humanevalplus rows (the code benchmark of domains())
HUMANEVAL = [
    {
        "task_id": f"HumanEval/{i}",
        "prompt": f"def f{i}(x):\n",
        "canonical_solution": f"    return {i}\n",
        "entry_point": f"f{i}",
        "test": f"def check(c):\n    assert c(0) == {i}\n",
    }
    for i in range(2)
]
# yahma/alpaca-cleaned rows (the SFT pairs of commonsense and domain_specific in domains())
ALPACA = [
    {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
    {"instruction": "Name a color.", "input": "", "output": "Blue"},
]


def domains(d: Path) -> dict:
    """The four paper domains, each source a tiny local file in its hub format (datasets.md)."""
    parquet(
        d / "owm" / "train-00000-of-00114.parquet",
        [{"url": f"https://m.org/{i}", "text": f"Lemma {i}.", "date": "2023", "metadata": "{}"} for i in range(4)],
    )
    comp = parquet(
        d / "comp.parquet",
        [{"problem": "Compute $2+2$.", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{4}$"}],
    )
    metamath = json_array(
        d / "MetaMathQA-395K.json",
        [{"query": "1+1?", "response": "The answer is: 2", "type": "GSM_AnsAug", "original_question": "1+1?"}],
    )
    dart = parquet(
        d / "dart.parquet",
        [
            {"query": "What is $1+1$?", "gt_ans": "2", "query_metadata": {"level": 1}, "resp": "\\boxed{2}"},
            {"query": "What is $1+1$?", "gt_ans": "2", "query_metadata": {"level": 1}, "resp": "2"},
            {"query": "Solve $2x=6$.", "gt_ans": "3", "query_metadata": {"level": 2}, "resp": "\\boxed{3}"},
        ],
    )
    star = parquet(
        d / "starcoderdata" / "python" / "train-00000-of-00059.parquet",
        [
            {
                "id": f"sc-{i}",
                "content": f"x = {i}\n",
                "max_stars_repo_path": "a.py",
                "max_stars_repo_name": "o/a",
                "max_stars_count": 1,
            }
            for i in range(3)
        ],
    )
    leet = {"task_id": "two-sum", "question_id": 1, "query": "Solve two sum.", "response": "Use a dict."}
    leet_train = jsonl(d / "LeetCodeDataset-train.jsonl", [leet])
    code_alpaca = parquet(d / "codealpaca.parquet", [{"prompt": "Reverse a list.", "completion": "xs[::-1]"}])
    humaneval = parquet(d / "humanevalplus.parquet", HUMANEVAL)
    books = parquet(
        d / "books.parquet",
        [
            {"id": "g1", "text": "CHAPTER I.\n" + "word " * 50, "source": "gutenberg"},
            {"id": "g2", "text": "Is fire hot?\n\nyes", "source": "gutenberg"},
        ],
    )  # also a validation text: dropped there
    flan = parquet(
        d / "flan.parquet",
        [
            {"inputs": "Is fire hot?", "targets": "yes", "task_name": "a"},
            {"inputs": "Is ice cold?", "targets": "yes", "task_name": "b"},
        ],
    )
    alpaca = json_array(d / "alpaca_data_cleaned.json", ALPACA)
    csqa = {"train": parquet(d / "csqa_train.parquet", CSQA[:1]), "validation": parquet(d / "csqa_val.parquet", CSQA)}
    jsonl(d / "mediawiki" / "wikibooks.jsonl.gz", MEDIAWIKI, gz=True)
    chem = parquet(
        d / "chem.parquet", [{"title": "1.1", "url": "u", "text": "Atoms are small.", "__index_level_0__": 41}]
    )
    mmlu_files = {
        "test": parquet(d / "mmlu_test.parquet", MMLU_CHEMISTRY),
        "dev": parquet(d / "mmlu_dev.parquet", MMLU_CHEMISTRY[:1]),
    }

    def pq(files, **kw):
        return {"data_files": files, "format": "parquet", **kw}

    alpaca_sft = {
        "data_files": alpaca,
        "format": "json",
        "prompt_field": "instruction",
        "input_field": "input",
        "response_field": "output",
    }
    return {
        "math": {
            "task": "generate",
            "data": {
                "train": pq(str(d / "owm" / "*.parquet"), id_field="url", n=3),
                "validation": pq(comp, text_field=["problem", "solution"]),
                "sft": {
                    "data_files": metamath,
                    "format": "json",
                    "prompt_field": "query",
                    "response_field": "response",
                },
            },
            "benchmark": {
                "task": "grokmon_dart_math",
                "data_files": {"train": dart},
                "question_field": "question",
                "id_field": "id",
            },
        },
        "code": {
            "task": "code",
            "data": {
                "train": pq(star, text_field="content", id_field="id"),
                "validation": {
                    "data_files": {"train": leet_train},
                    "format": "json",
                    "text_field": ["query", "response"],
                    "id_field": "question_id",
                },
                "sft": pq(code_alpaca, prompt_field="prompt", response_field="completion"),
            },
            "benchmark": {
                "task": "grokmon_humaneval_plus",
                "data_files": {"test": humaneval},
                "question_field": "prompt",
                "id_field": "task_id",
            },
        },
        "commonsense": {
            "task": "multiple_choice",
            "data": {
                "train": pq(books, id_field="id", max_chars=20),
                "validation": pq(flan, text_field=["inputs", "targets"]),
                "sft": alpaca_sft,
            },
            "benchmark": {"task": "commonsense_qa", "data_files": csqa, "question_field": "question", "id_field": "id"},
        },
        "domain_specific": {
            "task": "multiple_choice",
            "data": {
                "train": {
                    "data_files": str(d / "mediawiki" / "**"),
                    "format": "json",
                    "id_field": "id",
                    "keyword": {"field": "metadata.title", "contains": "Organic Chemistry"},
                },
                "validation": pq(chem, id_field="__index_level_0__"),
                "sft": alpaca_sft,
            },
            "benchmark": {"task": "mmlu_college_chemistry", "data_files": mmlu_files, "question_field": "question"},
        },
    }
