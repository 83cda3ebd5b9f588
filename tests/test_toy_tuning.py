"""Tuning must not lower what a toy checkpoint already answers (issue #11): LoRA-tuned accuracy against zero-shot
accuracy at the last checkpoint of a config/test.yaml-size toy, in every domain, with the real lm-eval tasks."""

import pytest

from grokmon.workflow.config import TOY_TARGET_DELIMITERS
from grokmon.workflow.evaluation import evaluate, summarize, write_local_task
from grokmon.workflow.io import write_jsonl
from grokmon.workflow.toy import ToySizes, build_world, pretrain, tiny_olmoe_config, train_tokenizer
from grokmon.workflow.tuning import train_lora

# config/test.yaml's world and model, 100 benchmark items, 600 pretraining steps
SIZES = ToySizes(
    corpus={"math": 300, "code": 300, "commonsense": 200, "domain": 150}, train=40, validation=20, sft=24, benchmark=100
)
MODEL = dict(hidden_size=32, num_layers=2, num_heads=2, num_experts=4, top_k=2, expert_size=32)
# config/test.yaml's LoRA (rank 4, lr 5e-3) for the demo's 3 epochs at batch 4: 24 pairs, 18 steps
RECIPE = dict(lr=0.005, batch_size=4, epochs=3, max_length=64, prompt_template="{prompt}", device="cpu", progress=False)
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """(checkpoint dir, task dir, world): the last checkpoint of a toy pretraining and each domain's lm-eval task."""
    root = tmp_path_factory.mktemp("toy_tuning")
    world = build_world(0, SIZES)
    corpus = [text for dom in world.values() for text in dom.corpus]
    tokenizer = train_tokenizer(corpus)
    pretrain(
        corpus,
        tokenizer,
        tiny_olmoe_config(tokenizer, **MODEL),
        out_dir=root / "ckpt",
        steps=600,
        save_steps=[600],
        batch_size=32,
        lr=0.006,
        warmup=50,
        progress=False,
    )
    for name, dom in world.items():
        write_jsonl(root / f"{name}.jsonl", dom.benchmark)
        write_local_task(
            name,
            root / f"{name}.jsonl",
            root / "tasks",
            task=dom.task,
            prompt_template="{prompt}",
            max_gen_toks=8,
            target_delimiter=TOY_TARGET_DELIMITERS[name],
        )
    return root / "ckpt" / "600", root / "tasks", world


def accuracy(toy, domain, adapter=None) -> float:
    checkpoint, tasks, _ = toy
    records = evaluate(checkpoint, [domain], adapter_path=adapter, include_path=tasks, device="cpu", batch_size=32)
    return summarize(records[domain])


def lora_accuracy(toy, domain, tmp_path, target_delimiter: str) -> float:
    checkpoint, _, world = toy
    out = tmp_path / f"lora_{domain}"
    train_lora(checkpoint, world[domain].sft, out, rank=4, alpha=8, target_delimiter=target_delimiter, **RECIPE)
    return accuracy(toy, domain, adapter=out)


@pytest.fixture(scope="module")
def zero_shot(toy):
    return {domain: accuracy(toy, domain) for domain in toy[2]}


def test_lora_keeps_zero_shot_accuracy_in_every_domain(toy, zero_shot, tmp_path):
    assert zero_shot["domain"] >= 0.6  # the checkpoint answers well somewhere, so a loss would show
    # measured: zero-shot math .10, code .28, commonsense .10 (chance .125), domain .86; LoRA .09, .29, .09, .88
    for domain, before in zero_shot.items():
        after = lora_accuracy(toy, domain, tmp_path, TOY_TARGET_DELIMITERS[domain])
        assert after >= before - TOLERANCE - 1e-9, (domain, before, after)


def test_a_space_the_corpus_never_has_before_the_answer_costs_accuracy(toy, zero_shot, tmp_path):
    """The cause of the toy's lower accuracy after LoRA: SFT answers after " " where the corpus has "Ab+Cd>Ab3Cd1"
    (measured: .86 zero-shot, .59 after LoRA on "Ab+Cd> Ab3Cd1")."""
    after = lora_accuracy(toy, "domain", tmp_path, " ")
    assert after < zero_shot["domain"] - 0.2, (zero_shot["domain"], after)
