"""The paper's benchmark tasks: grading functions on hand examples, and all four tasks run offline on local rows."""

import datasets as hf_datasets
import pytest
import yaml
from datasets import Dataset
from helpers.formats import parquet
from helpers.rows import CSQA, MMLU_CHEMISTRY
from tiny_models import tiny_olmoe
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from grokmon.workflow import lm_eval_tasks
from grokmon.workflow.evaluation import evaluate
from grokmon.workflow.lm_eval_tasks import dart_math, humaneval_plus


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_datasets_cache"))


ADD_ONE = {
    "prompt": "def add_one(x):\n",
    "entry_point": "add_one",
    "test": "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-3) == -2\n",
}


# ---------------- HumanEval+ grading ----------------


def test_humaneval_program_and_run():
    assert humaneval_plus.program(ADD_ONE, "    return x + 1") == (
        "def add_one(x):\n    return x + 1\n\ndef check(candidate):\n    assert candidate(1) == 2\n"
        "    assert candidate(-3) == -2\n\n\ncheck(add_one)\n"
    )
    assert humaneval_plus.process_results(ADD_ONE, ["    return x + 1"]) == {"pass@1": 1.0}
    assert humaneval_plus.process_results(ADD_ONE, ["    return x * 2"]) == {"pass@1": 0.0}  # 1 -> 2 but -3 -> -6
    assert humaneval_plus.process_results(ADD_ONE, ["    return x +"]) == {"pass@1": 0.0}  # syntax error
    assert humaneval_plus.run_program("import sys\nsys.exit(0)\n")
    assert not humaneval_plus.run_program("while True:\n    pass\n", timeout_s=0.5)


def test_humaneval_runs_in_a_scratch_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert humaneval_plus.run_program("open('left_behind.txt', 'w').write('x')\n")
    assert list(tmp_path.iterdir()) == []


# ---------------- DART-Math grading ----------------


@pytest.mark.parametrize(
    "response, answer, correct",
    [
        ("So $x = \\boxed{3}$.", "3", True),
        ("First \\boxed{2}, then corrected: \\boxed{\\frac{1}{2}}", "\\frac12", True),  # last box, normalised
        ("x = 5. The answer is: 5", "5", True),  # MetaMathQA style
        ("The answer is: 4\nThe answer is: 6.", "6", True),
        ("\\boxed{0.5}", "\\frac{1}{2}", True),  # hendrycks strip_string maps exactly "0.5" to \frac{1}{2}
        ("\\boxed{0.25}", "\\frac{1}{4}", False),  # ... but has no general numeric equivalence
        ("I think it is 3", "3", False),  # no boxed, no "The answer is"
        ("\\boxed{ 3 }", "3", True),
    ],
)
def test_dart_math_grading(response, answer, correct):
    assert dart_math.is_correct(response, answer) is correct
    assert dart_math.process_results({"answer": answer}, [response]) == {"exact_match": int(correct)}


def test_dart_math_extract_answer():
    assert dart_math.extract_answer("a \\boxed{x^{2}} b") == "x^{2}"
    assert dart_math.extract_answer("The answer is: 12.") == "12"
    assert dart_math.extract_answer("nothing") is None


DART_ROWS = [
    {"query": "What is $1+1$?", "gt_ans": "2", "query_metadata": {"level": 1}, "resp": "\\boxed{2}"},
    {"query": "What is $1+1$?", "gt_ans": "2", "query_metadata": {"level": 1}, "resp": "It is \\boxed{2}"},
    {"query": "Solve $2x=6$.", "gt_ans": "3", "query_metadata": {"level": 2}, "resp": "\\boxed{3}"},
    {"query": "What is $1+1$?", "gt_ans": "2", "query_metadata": {"level": 1}, "resp": "2"},
]


def test_dart_math_process_docs_dedupes_by_query():
    docs = dart_math.process_docs(Dataset.from_list(DART_ROWS))
    assert docs.to_list() == [
        {"id": 0, "question": "What is $1+1$?", "answer": "2"},
        {"id": 2, "question": "Solve $2x=6$.", "answer": "3"},
    ]


# ---------------- task YAMLs ----------------


def test_task_yaml_paths_and_variant(tmp_path):
    assert lm_eval_tasks.task_yaml("commonsense_qa").name == "default.yaml"
    assert lm_eval_tasks.task_yaml("grokmon_dart_math") == lm_eval_tasks.TASK_DIR / "dart_math.yaml"
    defined = set(lm_eval_tasks.PACKAGED_TASKS) | set(lm_eval_tasks.BUILTIN_TASKS)
    assert {*lm_eval_tasks.PAPER_TASKS.values(), *lm_eval_tasks.NANOMOE_TASKS.values()} == defined
    with pytest.raises(ValueError, match="task must be"):
        lm_eval_tasks.task_yaml("humaneval")
    (tmp_path / "t.parquet").write_bytes(b"")
    path = lm_eval_tasks.write_task_variant(
        "mmlu_college_chemistry", tmp_path, data_files={"test": tmp_path / "t.parquet"}
    )
    assert yaml.safe_load(path.read_text()) == {
        "include": str(lm_eval_tasks.task_yaml("mmlu_college_chemistry")),
        "task": "mmlu_college_chemistry_local",
        "dataset_path": "parquet",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {"test": str(tmp_path / "t.parquet")}},
    }
    with pytest.raises(ValueError, match="data_files do not exist"):
        lm_eval_tasks.write_task_variant("commonsense_qa", tmp_path, data_files={"validation": tmp_path / "no.parquet"})


# ---------------- all four tasks, offline, with a tiny model ----------------

WORDS = ["<|pad|>", "<|endoftext|>", "<unk>", "A", "B", "C", "D", "E", "cat", "sat", "the", "mat"]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", unk_token="<unk>", model_max_length=256
    )
    tiny_olmoe(hf_tok, seed=0, num_hidden_layers=1).save_pretrained(d)
    hf_tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def local_tasks(tmp_path_factory):
    d = tmp_path_factory.mktemp("tasks")
    # HumanEval+: the prompt ends in an open comment line, so any one-line completion is inert: item 0 passes
    # (its body is right), item 1 fails (its body is wrong), whatever the untrained model writes.
    he = [
        {
            "task_id": f"HumanEval/{i}",
            "prompt": f"def add_one(x):\n    return x + {i + 1}\n# ",
            "canonical_solution": "",
            "entry_point": "add_one",
            "test": ADD_ONE["test"],
        }
        for i in range(2)
    ]
    small = {"generation_kwargs": {"until": ["\n"], "max_gen_toks": 4, "do_sample": False}}
    paths = [
        lm_eval_tasks.write_task_variant(
            "grokmon_humaneval_plus", d, data_files={"test": parquet(d / "he.parquet", he)}, **small
        ),
        lm_eval_tasks.write_task_variant(
            "grokmon_dart_math", d, data_files={"train": parquet(d / "dart.parquet", DART_ROWS)}, **small
        ),
        lm_eval_tasks.write_task_variant(
            "commonsense_qa",
            d,
            data_files={
                "train": parquet(d / "csqa_train.parquet", CSQA[:1]),
                "validation": parquet(d / "csqa_val.parquet", CSQA),
            },
        ),
        lm_eval_tasks.write_task_variant(
            "mmlu_college_chemistry",
            d,
            data_files={
                "test": parquet(d / "mmlu_test.parquet", MMLU_CHEMISTRY),
                "dev": parquet(d / "mmlu_dev.parquet", MMLU_CHEMISTRY[:1]),
            },
        ),
    ]
    return d, [p.stem for p in paths]


def test_four_paper_tasks_offline(tiny_model_dir, local_tasks):
    task_dir, names = local_tasks
    records = evaluate(tiny_model_dir, names, include_path=task_dir, confirm_run_unsafe_code=True)
    he, dart, csqa, mmlu = (records[n] for n in names)
    assert [(r["doc_id"], r["correct"]) for r in he] == [(0, 1), (1, 0)]
    assert [(r["doc_id"], r["id"], r["target"], r["correct"]) for r in dart] == [(0, 0, "2", 0), (1, 2, "3", 0)]
    assert [r["id"] for r in csqa] == ["q0", "q1", "q2"]
    # lm-eval logs the doc_to_target value: CSQA's answerKey letter, MMLU's answer int; response = argmax choice
    assert [r["target"] for r in csqa] == ["A", "B", "C"]
    assert [r["target"] for r in mmlu] == [0, 1, 2]
    assert all(r["correct"] == int("ABCDE"[r["response"]] == r["target"]) for r in csqa)
    assert all(r["correct"] == int(r["response"] == r["target"]) for r in mmlu)
    assert [r["doc_id"] for r in csqa] == [r["doc_id"] for r in mmlu] == [0, 1, 2]


def test_humaneval_needs_the_unsafe_code_confirmation(tiny_model_dir, local_tasks):
    task_dir, names = local_tasks
    with pytest.raises(ValueError, match="marked as unsafe"):
        evaluate(tiny_model_dir, names[:1], include_path=task_dir)
