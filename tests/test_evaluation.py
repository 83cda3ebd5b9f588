import pytest
import torch
import yaml
from lm_eval.tasks import TaskManager
from lm_eval.utils import apply_template
from peft import PeftModel
from tiny_models import tiny_olmoe, tiny_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from grokmon.workflow import evaluation, io, tuning

TEMPLATE = "Q: {prompt}\nA:"
GEN = [("3+4", "7"), ("12+7", "19"), ("Ab+Cd", "Ab2Cd1"), ("Fe+O", "Fe1O2"), ("9+9", "18")]
# choices of equal length, tokenizer trained on unrelated text: an untrained model has no length cue
MC = [
    ("cat eats", ["fish", "rock", "airy"], 0),
    ("sky is", ["gray", "blue", "loud"], 1),
    ("ice is", ["warm", "damp", "cold"], 2),
    ("owl says", ["hoot", "moos", "quak"], 0),
    ("sun is", ["dark", "hot!", "damp"], 1),
]
PAIRS = [(q, a) for q, a in GEN] + [(q, c[label]) for q, c, label in MC]
MAX_GEN_TOKS = 16


@pytest.mark.parametrize(
    "template, question",
    [
        ("Q: {prompt}\nA:", "12+7"),
        ("{prompt}", "{{x}} {% if %} {# c #}"),
        ("{x} {{y}} {%z%} {#w#} {prompt} }} {prompt}", "a{b}"),
        ("{% raw %}{prompt}{% endraw %}", "q"),
    ],
)
def test_jinja_prompt_renders_like_the_tuning_template(template, question):
    rendered = apply_template(evaluation.jinja_prompt(template), {"question": question})
    assert rendered == tuning.render_prompt(template, question)


def test_jinja_prompt_hand_example():
    assert evaluation.jinja_prompt("Q: {prompt}\nA:") == "Q: {{question}}\nA:"
    assert evaluation.jinja_prompt("{x}{prompt}") == '{{ "{" }}x}{{question}}'
    with pytest.raises(ValueError, match="prompt_template"):
        evaluation.jinja_prompt("Q: {question}")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    io.write_jsonl(root / "gen.jsonl", [{"id": f"g{i}", "question": q, "answer": a} for i, (q, a) in enumerate(GEN)])
    io.write_jsonl(
        root / "mc.jsonl",
        [{"id": f"m{i}", "question": q, "choices": c, "label": label} for i, (q, c, label) in enumerate(MC)],
    )
    tasks = root / "tasks"
    evaluation.write_local_task(
        "tiny_gen",
        root / "gen.jsonl",
        tasks,
        task="generate",
        prompt_template=TEMPLATE,
        max_gen_toks=MAX_GEN_TOKS,
        target_delimiter="",
    )
    evaluation.write_local_task("tiny_mc", root / "mc.jsonl", tasks, task="multiple_choice", prompt_template=TEMPLATE)
    return tasks


def test_written_tasks_load_in_lm_eval(bench):
    config = yaml.safe_load((bench / "tiny_gen.yaml").read_text())
    assert config["dataset_kwargs"]["data_files"]["test"].startswith("/")
    assert config["generation_kwargs"] == {"until": ["\n"], "max_gen_toks": MAX_GEN_TOKS, "do_sample": False}
    manager = TaskManager(include_path=str(bench), include_defaults=False)
    assert {"tiny_gen", "tiny_mc"} <= set(manager.all_tasks)
    tasks = manager.load(["tiny_gen", "tiny_mc"])["tasks"]
    gen, mc = tasks["tiny_gen"], tasks["tiny_mc"]
    doc = next(iter(gen.test_docs()))
    assert (gen.doc_to_text(doc), gen.doc_to_target(doc)) == ("Q: 3+4\nA:", "7")
    doc = list(mc.test_docs())[2]
    assert (mc.doc_to_text(doc), mc.doc_to_choice(doc), mc.doc_to_target(doc)) == ("Q: ice is\nA:", MC[2][1], 2)
    assert mc.config.target_delimiter == " " and mc.OUTPUT_TYPE == "multiple_choice"
    assert gen.config.target_delimiter == ""  # as the corpus writes "3+4=7"


def test_write_local_task_rejects_bad_input(bench, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    with pytest.raises(ValueError, match="task"):
        evaluation.write_local_task("t", data, tmp_path, task="cloze", prompt_template=TEMPLATE)
    with pytest.raises(ValueError, match="benchmark_path"):
        evaluation.write_local_task(
            "t", tmp_path / "missing.jsonl", tmp_path, task="generate", prompt_template=TEMPLATE
        )
    with pytest.raises(ValueError, match="name"):
        evaluation.write_local_task("a/b", data, tmp_path, task="generate", prompt_template=TEMPLATE)


def test_item_records_pick_first_filter_and_primary_metric():
    samples = [
        {
            "doc_id": 1,
            "doc": {"id": "b"},
            "target": "7",
            "filtered_resps": ["7"],
            "filter": "strict",
            "exact_match": 1.0,
        },
        {
            "doc_id": 0,
            "doc": {"id": "a"},
            "target": "5",
            "filtered_resps": ["4"],
            "filter": "strict",
            "exact_match": 0.0,
        },
        {
            "doc_id": 0,
            "doc": {"id": "a"},
            "target": "5",
            "filtered_resps": ["5"],
            "filter": "loose",
            "exact_match": 1.0,
        },
    ]
    assert evaluation.item_records(samples) == [
        {"doc_id": 0, "id": "a", "correct": 0, "target": "5", "response": "4"},
        {"doc_id": 1, "id": "b", "correct": 1, "target": "7", "response": "7"},
    ]
    mc = {
        "doc_id": 0,
        "doc": {"task_id": "HumanEval/3"},
        "target": 2,
        "filter": "none",
        "filtered_resps": [(-3.0, False), (-9.0, False), (-1.0, True)],
        "acc,none": 1.0,
        "acc_norm,none": 0.0,
    }
    expected = {"doc_id": 0, "id": "HumanEval/3", "correct": 1, "target": 2, "response": 2}
    assert evaluation.item_records([mc]) == [expected]
    with pytest.raises(ValueError, match="not 0 or 1"):
        evaluation.item_records([{**mc, "acc,none": 0.5}])
    with pytest.raises(ValueError, match="metrics"):
        evaluation.item_records([{"doc_id": 0, "filtered_resps": ["x"], "f1": 1.0}])


def test_summarize():
    assert evaluation.summarize([{"correct": c} for c in (1, 0, 1, 1)]) == 0.75
    with pytest.raises(ValueError, match="records"):
        evaluation.summarize([])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Untrained base, the same base fully trained on the 10 answers, and a LoRA adapter on the untrained base."""
    tok = tiny_tokenizer()  # trained on unrelated text: answers and choices are mostly single characters
    root = tmp_path_factory.mktemp("models")
    model = tiny_olmoe(tok)
    model.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    examples = [tuning.encode_pair(tok, q, a, prompt_template=TEMPLATE) for q, a in PAIRS]
    batch = tuning.collate(examples, tok.pad_token_id)
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        tuning.causal_lm_loss(logits, batch["labels"]).backward()
        opt.step()
        opt.zero_grad()
    model.eval().save_pretrained(root / "trained")
    tok.save_pretrained(root / "trained")
    sft = [{"prompt": q, "response": a} for q, a in PAIRS]
    tuning.train_lora(
        root / "base",
        sft,
        root / "lora",
        rank=8,
        lr=1e-2,
        epochs=5,
        dropout=0.0,
        prompt_template=TEMPLATE,
        progress=False,
    )
    return root


def _truth(model, tok) -> dict[str, list[tuple[int, object]]]:
    """Per item (correct, response) computed directly: greedy generation cut at the first newline;
    argmax log-likelihood."""
    gen = []
    for q, answer in GEN:
        ids = torch.tensor([tok(tuning.render_prompt(TEMPLATE, q))["input_ids"]])
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=MAX_GEN_TOKS,
            do_sample=False,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        text = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True).split("\n")[0].strip()
        gen.append((int(text == answer), text))
    mc = []
    for q, choices, label in MC:
        context = tuning.render_prompt(TEMPLATE, q)
        context_ids = tok(context)["input_ids"]
        lls = []
        for choice in choices:
            cont = tok(context + " " + choice)["input_ids"][len(context_ids) :]
            with torch.no_grad():
                logp = model(input_ids=torch.tensor([context_ids + cont])).logits[0].log_softmax(-1)
            lls.append(sum(logp[len(context_ids) - 1 + i, t].item() for i, t in enumerate(cont)))
        pred = max(range(len(choices)), key=lls.__getitem__)
        mc.append((int(pred == label), pred))
    return {"tiny_gen": gen, "tiny_mc": mc}


def _check_records(res, truth):
    assert set(res) == {"tiny_gen", "tiny_mc"}
    for task, items in (("tiny_gen", GEN), ("tiny_mc", MC)):
        records = res[task]
        assert [r["doc_id"] for r in records] == list(range(len(items)))
        assert [r["id"] for r in records] == [f"{task[5]}{i}" for i in range(len(items))]
        assert all(r["correct"] in (0, 1) for r in records)
        assert [(r["correct"], r["response"]) for r in records] == truth[task]
    assert [r["target"] for r in res["tiny_gen"]] == [a for _, a in GEN]
    assert [r["target"] for r in res["tiny_mc"]] == [label for _, _, label in MC]


def test_evaluate_trained_model_scores_one(models, bench):
    res = evaluation.evaluate(models / "trained", ["tiny_gen", "tiny_mc"], include_path=bench)
    assert evaluation.summarize(res["tiny_gen"]) == 1.0 and evaluation.summarize(res["tiny_mc"]) == 1.0
    tok = AutoTokenizer.from_pretrained(models / "trained")
    _check_records(res, _truth(AutoModelForCausalLM.from_pretrained(models / "trained").eval(), tok))
    assert [r["response"] for r in res["tiny_gen"]] == [a for _, a in GEN]


def test_evaluate_untrained_model_matches_direct_scoring(models, bench):
    res = evaluation.evaluate(models / "base", ["tiny_gen", "tiny_mc"], include_path=bench, batch_size=4)
    truth = _truth(
        AutoModelForCausalLM.from_pretrained(models / "base").eval(), AutoTokenizer.from_pretrained(models / "base")
    )
    _check_records(res, truth)
    assert evaluation.summarize(res["tiny_gen"]) == 0.0  # a random model does not produce "Ab2Cd1"


def test_evaluate_applies_the_adapter(models, bench):
    res = evaluation.evaluate(
        models / "base", ["tiny_gen", "tiny_mc"], adapter_path=models / "lora", include_path=bench
    )
    base = AutoModelForCausalLM.from_pretrained(models / "base")
    tuned = PeftModel.from_pretrained(base, models / "lora").eval()
    truth = _truth(tuned, AutoTokenizer.from_pretrained(models / "base"))
    _check_records(res, truth)
    untuned = _truth(
        AutoModelForCausalLM.from_pretrained(models / "base").eval(), AutoTokenizer.from_pretrained(models / "base")
    )
    assert truth["tiny_gen"] != untuned["tiny_gen"]


def test_evaluate_rejects_no_tasks(bench):
    with pytest.raises(ValueError, match="tasks"):
        evaluation.evaluate("/nonexistent", [], include_path=bench)
