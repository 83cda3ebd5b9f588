"""Tests for grokmon.workflow.toy: the synthetic world, the character tokenizer, the tiny OLMoE config and
pretraining."""

import dataclasses
import re
import string

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from grokmon.routing.capture import capture_routes, load_model, router_weights
from grokmon.workflow import io
from grokmon.workflow.config import TOY_TARGET_DELIMITERS
from grokmon.workflow.toy import (
    DOMAINS,
    PROMPT_TEMPLATE,
    TEST_SIZES,
    ToySizes,
    build_world,
    pretrain,
    save_checkpoint,
    tiny_dense_config,
    tiny_olmoe_config,
    toy_model_config,
    train_tokenizer,
    write_world,
)


@pytest.fixture(scope="module")
def world():
    return build_world(0, TEST_SIZES)


@pytest.fixture(scope="module")
def tokenizer(world):
    return train_tokenizer(t for d in world.values() for t in d.corpus)


# ---------------------------------------------------------------- world


def test_world_is_deterministic_for_a_seed_and_differs_across_seeds(world):
    assert build_world(0, TEST_SIZES) == world
    other = build_world(1, TEST_SIZES)
    for name in DOMAINS:
        assert other[name].corpus != world[name].corpus
        assert other[name].benchmark != world[name].benchmark


def test_world_has_the_requested_counts_and_tasks(world):
    assert tuple(world) == DOMAINS
    for name, dom in world.items():
        assert len(dom.corpus) == len(set(dom.corpus)) == TEST_SIZES.corpus[name]
        assert (len(dom.train), len(dom.validation), len(dom.sft), len(dom.benchmark)) == (30, 10, 16, 12)
        assert len({r["id"] for r in dom.train + dom.validation + dom.benchmark}) == 30 + 10 + 12
    assert [world[n].task for n in DOMAINS] == ["generate", "generate", "multiple_choice", "generate"]
    assert [world[n].n_choices for n in DOMAINS] == [None, None, 8, None]


def test_heldout_items_never_appear_in_the_corpus(world):
    for dom in world.values():
        corpus = set(dom.corpus)
        assert not corpus & {r["text"] for r in dom.validation}
        prefixes = [b["question"] + (" " if dom.task == "multiple_choice" else "") for b in dom.benchmark]
        assert not [t for t in dom.corpus for p in prefixes if t.startswith(p)]
        assert not [r for r in dom.validation for p in prefixes if r["text"].startswith(p)]
        assert not {s["prompt"] for s in dom.sft} & {b["question"] for b in dom.benchmark}


def test_tracked_train_and_sft_come_from_the_corpus(world):
    for dom in world.values():
        corpus = set(dom.corpus)
        assert all(r["text"] in corpus for r in dom.train)
        sep, end = TOY_TARGET_DELIMITERS[dom.name], "." if dom.task == "multiple_choice" else ""
        assert all(s["prompt"] + sep + s["response"] + end in corpus for s in dom.sft)


def test_answer_char_splits_question_from_answer(world):
    assert world["math"].train[0]["text"][world["math"].train[0]["answer_char"] - 1] == "="
    for dom in world.values():
        for row in dom.train + dom.validation:
            question, answer = row["text"][: row["answer_char"]], row["text"][row["answer_char"] :]
            assert question[-1] in "=>" or question.endswith(" ")
            assert answer and not answer.startswith(" ")


def _sum(question):
    a, b = re.fullmatch(r"(\d+)\+(\d+)=", question).groups()
    return str(int(a) + int(b))


def _run_program(question):
    v, d, w, e, v2, op, w2, u = re.fullmatch(r"(\w)=(\d);(\w)=(\d);(\w)([-+*])=(\w);p\((\w)\)>", question).groups()
    assert (v2, w2) == (v, w) and v != w and u in (v, w)
    env = {v: int(d), w: int(e)}
    env[v] = {"+": env[v] + env[w], "-": env[v] - env[w], "*": env[v] * env[w]}[op]
    return str(env[u])


def test_math_and_code_answers_follow_the_rule(world):
    assert _run_program("x=3;y=5;x-=y;p(x)>") == "-2" and _sum("12+7=") == "19"
    for name, rule in (("math", _sum), ("code", _run_program)):
        dom = world[name]
        assert all(b["answer"] == rule(b["question"]) for b in dom.benchmark)
        assert all(s["response"] == rule(s["prompt"]) for s in dom.sft)
        for row in dom.train + dom.validation:
            assert row["text"][row["answer_char"] :] == rule(row["text"][: row["answer_char"]])


def test_element_compounds_follow_one_hidden_valence_per_element(world):
    dom = world["domain"]
    valence = {}
    for text in dom.corpus:
        x, y, x2, vy, y2, vx = re.fullmatch(
            r"([A-Z][a-z])\+([A-Z][a-z])>([A-Z][a-z])([1-4])([A-Z][a-z])([1-4])", text
        ).groups()
        assert (x2, y2) == (x, y)
        for element, v in ((x, vx), (y, vy)):
            assert valence.setdefault(element, v) == v
    for b in dom.benchmark:
        x, y = b["question"][:-1].split("+")
        assert b["answer"] == f"{x}{valence[y]}{y}{valence[x]}"


def test_commonsense_benchmark_answers_compose_entity_category_value(world):
    dom = world["commonsense"]
    facts = [re.fullmatch(r"(\w+) (is a|\w+) (\w+)\.", t).groups() for t in dom.corpus]
    category = {s: o for s, r, o in facts if r == "is a"}
    value = {(s, r): o for s, r, o in facts if s.islower()}
    assert len(set(category.values())) == 8 and len(value) == 8 * 4
    assert {s for s, r, o in facts} == set(category) | set(category.values())  # entities are capitalised
    for b in dom.benchmark:
        entity, relation = b["question"].split(" ")
        assert b["choices"][b["label"]] == value[category[entity], relation]
        assert sorted(b["choices"]) == sorted(v for (c, r), v in value.items() if r == relation)
    entity_facts = [(s, r, o) for s, r, o in facts if s in category and r != "is a"]
    entity_facts += [re.fullmatch(r"(\w+) (\w+) (\w+)\.", row["text"]).groups() for row in dom.validation]
    assert len(entity_facts) == 80 - len(category) - 32 + 10
    assert all(o == value[category[s], r] for s, r, o in entity_facts)


def test_bad_sizes_raise_naming_sizes():
    with pytest.raises(ValueError, match="sizes.train"):
        build_world(0, dataclasses.replace(TEST_SIZES, train=61))
    with pytest.raises(ValueError, match="sizes: code"):
        build_world(0, dataclasses.replace(TEST_SIZES, corpus={**TEST_SIZES.corpus, "code": 18_000}))
    with pytest.raises(ValueError, match="sizes.corpus"):
        build_world(0, ToySizes(corpus={"math": 10}, train=1, validation=1, sft=1, benchmark=1))
    with pytest.raises(ValueError, match="sizes.sft"):
        build_world(0, dataclasses.replace(TEST_SIZES, sft=100))


def test_write_world_writes_every_split_and_a_shuffled_corpus(world, tmp_path):
    write_world(world, tmp_path, seed=0)
    for name, dom in world.items():
        assert io.read_jsonl(tmp_path / name / "benchmark.jsonl") == dom.benchmark
        assert io.read_jsonl(tmp_path / name / "train.jsonl") == dom.train
        assert io.read_jsonl(tmp_path / name / "validation.jsonl") == dom.validation
        assert io.read_jsonl(tmp_path / name / "sft.jsonl") == dom.sft
    assert io.read_json(tmp_path / "commonsense" / "task.json") == {"task": "multiple_choice", "n_choices": 8}
    assert io.read_json(tmp_path / "math" / "task.json") == {"task": "generate", "n_choices": None}
    rows = io.read_jsonl(tmp_path / "corpus.jsonl")
    ordered = [{"domain": n, "text": t} for n, d in world.items() for t in d.corpus]
    assert rows != ordered
    assert sorted(rows, key=lambda r: (r["domain"], r["text"])) == sorted(
        ordered, key=lambda r: (r["domain"], r["text"])
    )


# ---------------------------------------------------------------- tokenizer and config


def test_tokenizer_covers_every_string_of_the_world(world, tokenizer):
    strings = [PROMPT_TEMPLATE]
    for dom in world.values():
        strings += dom.corpus + [r["text"] for r in dom.validation]
        strings += [s["prompt"] for s in dom.sft] + [s["response"] for s in dom.sft]
        strings += [b["question"] for b in dom.benchmark] + [b.get("answer", "") for b in dom.benchmark]
        strings += [c for b in dom.benchmark for c in b.get("choices", [])]
    for s in strings:
        ids = tokenizer(s)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert ids[0] == tokenizer.bos_token_id and len(ids) == len(s) + 1  # one token per character
        assert tokenizer.decode(ids, skip_special_tokens=True) == s


def test_tokenizer_special_tokens_and_character_ids(tokenizer):
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<|pad|>", "<|endoftext|>", "<|unk|>"]
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        1,
        2,
    )
    assert len(tokenizer) == 3 + len(string.printable)  # the toy's texts are printable ASCII
    ids = tokenizer("12")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<|endoftext|>", "1", "2"]
    assert tokenizer("€")["input_ids"] == [1, 2]
    context = PROMPT_TEMPLATE.format(prompt="12+7=")
    whole = tokenizer(context + " 19")["input_ids"]
    assert whole == tokenizer(context)["input_ids"] + tokenizer(" 19", add_special_tokens=False)["input_ids"]


def test_tokenizer_merges_only_when_asked_and_pads_on_the_requested_side():
    merged = train_tokenizer(["abababab"] * 20, vocab_size=3 + len(string.printable) + 2, padding_side="left")
    assert len(merged) == 3 + len(string.printable) + 2
    assert len(merged("abababab", add_special_tokens=False)["input_ids"]) < 8
    batch = merged(["ab", "abababab"], padding=True)["input_ids"]
    assert batch[0][0] == merged.pad_token_id
    with pytest.raises(ValueError, match="padding_side"):
        train_tokenizer(["a"], padding_side="middle")


def test_tiny_olmoe_config(tokenizer):
    cfg = tiny_olmoe_config(tokenizer)
    assert (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (
        len(tokenizer),
        64,
        4,
        4,
    )
    assert (cfg.num_experts, cfg.num_experts_per_tok, cfg.intermediate_size) == (8, 2, 64)
    assert (cfg.router_aux_loss_coef, cfg.norm_topk_prob, cfg.max_position_embeddings) == (0.001, False, 128)
    assert (cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id, cfg.tie_word_embeddings) == (0, 1, 1, True)
    assert not tiny_olmoe_config(tokenizer, tie_embeddings=False).tie_word_embeddings
    with pytest.raises(ValueError, match="top_k"):
        tiny_olmoe_config(tokenizer, top_k=9)
    with pytest.raises(ValueError, match="num_heads"):
        tiny_olmoe_config(tokenizer, num_heads=3)


def test_dense_twin_matches_the_moe_parameter_count_minus_the_routers(tokenizer):
    moe, dense = toy_model_config(tokenizer), toy_model_config(tokenizer, kind="dense")
    assert (dense.model_type, dense.intermediate_size, dense.num_hidden_layers, dense.hidden_size) == (
        "olmo2",
        512,
        4,
        64,
    )
    assert dense.virtual_experts == {"n_experts": 8, "partition": "contiguous", "seed": 0}
    n_moe = sum(p.numel() for p in AutoModelForCausalLM.from_config(moe).parameters())
    n_dense = sum(p.numel() for p in AutoModelForCausalLM.from_config(dense).parameters())
    assert n_moe - n_dense == 4 * 8 * 64  # the routers: 4 layers x 8 experts x hidden 64
    assert n_dense / n_moe > 0.99
    assert tiny_dense_config(tokenizer, top_k=1, aux_loss_coef=0.5).to_dict() == dense.to_dict()  # MoE-only keys
    with pytest.raises(ValueError, match="toy.model.kind: expected one of moe, dense"):
        toy_model_config(tokenizer, kind="sparse")
    with pytest.raises(ValueError, match="num_heads"):
        tiny_dense_config(tokenizer, num_heads=3)


def test_pretrain_dense_twin_saves_checkpoints_read_as_virtual_experts(world, tokenizer, tmp_path):
    corpus = world["math"].corpus[:32]
    cfg = tiny_dense_config(tokenizer, hidden_size=32, num_layers=2, num_experts=4, expert_size=8)
    kwargs = dict(steps=6, save_steps=[6], batch_size=8, lr=1e-2, warmup=2, seed=0, progress=False)
    pretrain(corpus, tokenizer, cfg, out_dir=tmp_path / "ckpt", log_path=tmp_path / "log.tsv", **kwargs)
    log = io.read_tsv(tmp_path / "log.tsv")
    assert (log["aux_loss"] == 0).all() and log["loss"].iloc[-1] < log["loss"].iloc[0]
    model, tok = load_model(tmp_path / "ckpt" / "6", device="cpu")
    assert router_weights(model).shape == (2, 4, 32)
    capture = capture_routes(model, tok, corpus[:4], progress=False)
    assert capture.routing.shape == (4, 2, 4)


# ---------------------------------------------------------------- pretraining

STEPS = 30


@pytest.fixture(scope="module")
def tiny_run(world, tokenizer, tmp_path_factory):
    corpus = world["math"].corpus[:64]
    cfg = tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=2, num_experts=4, expert_size=32)
    kwargs = dict(steps=STEPS, save_steps=[10, STEPS], batch_size=16, lr=1e-2, warmup=5, seed=3, progress=False)
    runs = {}
    for label, seed, callback in (("a", 3, None), ("b", 3, _eval_callback), ("c", 4, None)):
        out = tmp_path_factory.mktemp(f"run_{label}")
        calls = []
        cb = (
            None
            if callback is None
            else (
                lambda step, model, calls=calls, callback=callback: (
                    calls.append(step),
                    callback(model, tokenizer, corpus),
                )
            )
        )
        model = pretrain(
            corpus,
            tokenizer,
            cfg,
            out_dir=out / "ckpt",
            log_path=out / "log.tsv",
            callback=cb,
            **{**kwargs, "seed": seed},
        )
        runs[label] = (out, model, calls)
    return corpus, runs


def _eval_callback(model, tokenizer, corpus):
    model.eval()
    with torch.no_grad():
        model(**tokenizer(corpus[:4], return_tensors="pt", padding=True), output_router_logits=True)


def test_pretrain_lowers_the_loss_and_logs_the_schedule(tiny_run):
    _, runs = tiny_run
    log = io.read_tsv(runs["a"][0] / "log.tsv")
    assert list(log.columns) == ["step", "lr", "loss", "aux_loss"]
    assert log["step"].tolist() == list(range(1, STEPS + 1))
    assert log["lr"].iloc[0] == pytest.approx(1e-2 / 5) and log["lr"].iloc[4] == pytest.approx(1e-2)
    assert log["lr"].iloc[-1] == pytest.approx(1e-3)
    assert log["loss"].iloc[:3].mean() > 4.0  # about ln(103) at the start
    assert log["loss"].iloc[-3:].mean() < log["loss"].iloc[:3].mean() - 1.5
    assert (log["aux_loss"] > 0).all()


def test_pretrain_saves_reloadable_checkpoints_at_the_requested_steps(tiny_run, tokenizer):
    corpus, runs = tiny_run
    out, model, _ = runs["a"]
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["10", str(STEPS)]
    reloaded = AutoModelForCausalLM.from_pretrained(out / "ckpt" / str(STEPS))
    tok = AutoTokenizer.from_pretrained(out / "ckpt" / str(STEPS))
    assert tok("12+7=19")["input_ids"] == tokenizer("12+7=19")["input_ids"]
    enc = tok(corpus[:4], return_tensors="pt", padding=True)
    model.eval()
    with torch.no_grad():
        assert torch.equal(reloaded(**enc).logits, model(**enc).logits)
    early = AutoModelForCausalLM.from_pretrained(out / "ckpt" / "10")
    assert not torch.equal(early.lm_head.weight, reloaded.lm_head.weight)


def test_save_checkpoint_replaces_an_existing_dir(tiny_run, tokenizer, tmp_path):
    _, runs = tiny_run
    model = runs["c"][1]
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stale.txt").write_text("old")
    save_checkpoint(model, tokenizer, tmp_path / "7")
    assert [p.name for p in tmp_path.iterdir()] == ["7"]
    assert not (tmp_path / "7" / "stale.txt").exists()
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "7")
    assert torch.equal(reloaded.model.layers[0].mlp.gate.weight, model.model.layers[0].mlp.gate.weight)


def test_pretrain_is_seeded_and_a_callback_does_not_change_it(tiny_run):
    _, runs = tiny_run
    weights = {k: AutoModelForCausalLM.from_pretrained(runs[k][0] / "ckpt" / str(STEPS)).state_dict() for k in "abc"}
    assert all(torch.equal(weights["a"][n], weights["b"][n]) for n in weights["a"])
    assert not torch.equal(weights["a"]["lm_head.weight"], weights["c"]["lm_head.weight"])
    assert runs["b"][2] == list(range(1, STEPS + 1))


def test_pretrain_rejects_bad_arguments(tokenizer):
    cfg = tiny_olmoe_config(tokenizer, hidden_size=16, num_layers=1, num_experts=2, expert_size=8)
    with pytest.raises(ValueError, match="save_steps"):
        pretrain(["1+1=2"] * 4, tokenizer, cfg, out_dir="unused", steps=5, save_steps=[6], batch_size=2)
    with pytest.raises(ValueError, match="corpus"):
        pretrain([], tokenizer, cfg, out_dir="unused", steps=5, save_steps=[5])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        pretrain(["9" * 200] * 4, tokenizer, cfg, out_dir="unused", steps=5, save_steps=[5], batch_size=2)
