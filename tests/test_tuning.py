import math

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from tiny_models import tiny_olmoe, tiny_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from grokmon.workflow import io, tuning

TEMPLATE = "Q: {prompt}\nA:"
WORDS = ["cat", "dog", "sun", "red", "big", "top", "fox", "owl", "ant", "bee"]
SFT = [{"prompt": f"rev {w}", "response": w[::-1]} for w in WORDS] + [
    {"prompt": f"up {w}", "response": w.upper()} for w in WORDS
]
FAST = dict(rank=4, lr=1e-2, epochs=3, batch_size=4, prompt_template=TEMPLATE, progress=False)


class CharTok:
    """Stand-in tokenizer: one id per character (its code point), EOS = 0, no special tokens added."""

    eos_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [ord(c) for c in text]}


def test_encode_pair_masks_the_prompt():
    ids, labels = tuning.encode_pair(CharTok(), "ab", "cd", prompt_template="<{prompt}>")
    assert ids == [ord(c) for c in "<ab> cd"] + [0]
    assert labels == [-100] * 4 + [ord(c) for c in " cd"] + [0]
    # another prompt of the same length: identical labels, the prompt never enters the loss
    assert tuning.encode_pair(CharTok(), "xy", "cd", prompt_template="<{prompt}>")[1] == labels
    assert tuning.encode_pair(CharTok(), "ab", "cd", prompt_template="<{prompt}>", loss_on="all")[1] == ids


def test_encode_pair_target_delimiter_is_what_precedes_the_answer():
    # "12+7=19" in a corpus without a space after "=": the continuation is "19", never " 19"
    ids, labels = tuning.encode_pair(CharTok(), "12+7=", "19", target_delimiter="")
    assert ids == [ord(c) for c in "12+7=19"] + [0]
    assert labels == [-100] * 5 + [ord("1"), ord("9"), 0]
    assert tuning.encode_pair(CharTok(), "12+7=", "19")[1][5:] == [ord(c) for c in " 19"] + [0]


def test_encode_pair_truncates_and_moves_trailing_space():
    ids, labels = tuning.encode_pair(CharTok(), "ab", "cd", prompt_template="{prompt}: ", max_length=5)
    # "ab:" is the context; the template's trailing space joins the continuation "  cd" (as lm-eval scores it)
    assert ids == [ord(c) for c in "ab:  "]
    assert labels == [-100] * 3 + [ord(" ")] * 2
    with pytest.raises(ValueError, match="loss_on"):
        tuning.encode_pair(CharTok(), "a", "b", loss_on="prompt")
    with pytest.raises(ValueError, match="prompt_template"):
        tuning.encode_pair(CharTok(), "a", "b", prompt_template="Q: {question}")


def test_render_prompt_keeps_other_braces():
    assert tuning.render_prompt("{x} {prompt}|{prompt}", "ab") == "{x} ab|ab"


def test_collate_pads_right_and_masks_labels():
    batch = tuning.collate([([5, 6, 7], [-100, 6, 7]), ([8], [8])], pad_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def test_causal_lm_loss_hand_computed():
    # position 0 (uniform over 3) predicts label 1: p = 1/3; position 1 predicts label 0 with p = 2/4
    logits = torch.tensor([[[0.0, 0.0, 0.0], [math.log(2.0), 0.0, 0.0], [9.0, -9.0, 3.0]]])
    loss = tuning.causal_lm_loss(logits, torch.tensor([[-100, 1, 0]]))
    assert loss.item() == pytest.approx(math.log(6.0) / 2, abs=1e-6)
    # whatever sits at the first label position is never a target (the shift drops it)
    assert tuning.causal_lm_loss(logits, torch.tensor([[2, 1, 0]])).item() == pytest.approx(loss.item())
    assert tuning.causal_lm_loss(logits, torch.tensor([[-100, -100, 0]])).item() == pytest.approx(math.log(2.0))


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    tok = tiny_tokenizer([TEMPLATE.replace("{prompt}", r["prompt"]) + " " + r["response"] for r in SFT])
    path = tmp_path_factory.mktemp("base")
    tiny_olmoe(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def trained(base_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "adapter"
    return out, tuning.train_lora(base_dir, SFT, out, **FAST)


def _sft_loss(model, tok) -> float:
    examples = [tuning.encode_pair(tok, r["prompt"], r["response"], prompt_template=TEMPLATE) for r in SFT]
    batch = tuning.collate(examples, tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return tuning.causal_lm_loss(logits, batch["labels"]).item()


def test_train_lora_writes_only_the_adapter(trained):
    out, stats = trained
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "train_stats.json"} <= names
    assert names <= {"adapter_config.json", "adapter_model.safetensors", "train_stats.json", "README.md"}
    assert not [p for p in out.parent.iterdir() if p.name != "adapter"]  # no temp dir left beside it
    weights = load_file(out / "adapter_model.safetensors")
    assert weights and all("lora_A" in k or "lora_B" in k for k in weights)
    assert {k.split(".")[-3] for k in weights} == {"q_proj", "k_proj", "v_proj"}
    # 2 layers x 3 modules x (A: r x 32 + B: out x r); q: 32 out, k/v: 2 kv heads x 8 = 16 out
    assert stats["trainable_params"] == 2 * (3 * 4 * 32 + 4 * (32 + 16 + 16))
    assert stats["steps"] == 15 and stats["examples"] == 20 and stats["alpha"] == 8
    assert io.read_json(out / "train_stats.json") == stats


def test_adapter_reloads_lowers_loss_and_changes_logits(base_dir, trained):
    out, _ = trained
    tok = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    before = _sft_loss(base, tok)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), out).eval()
    after = _sft_loss(tuned, tok)
    assert after < before - 0.3, (before, after)
    ids = torch.tensor([tok("Q: rev cat\nA:")["input_ids"]])
    with torch.no_grad():
        delta = (tuned(input_ids=ids).logits - base(input_ids=ids).logits).abs().max().item()
    assert delta > 1e-2


def test_same_seed_same_adapter(base_dir, trained, tmp_path):
    out, stats = trained
    again = tuning.train_lora(base_dir, SFT, tmp_path / "again", **FAST)
    tuning.train_lora(base_dir, SFT, tmp_path / "other", seed=1, **FAST)
    a, b, c = (load_file(p / "adapter_model.safetensors") for p in (out, tmp_path / "again", tmp_path / "other"))
    assert all(torch.equal(a[k], b[k]) for k in a) and again["losses"] == stats["losses"]
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_train_lora_replaces_existing_dir_and_caps_steps(base_dir, tmp_path):
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    stats = tuning.train_lora(base_dir, SFT, out, max_steps=2, alpha=3, **FAST)
    assert stats["steps"] == 2 and stats["epochs"] == pytest.approx(2 / 5)
    assert not (out / "stale.txt").exists() and io.read_json(out / "adapter_config.json")["lora_alpha"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sft_rows=[]), "sft_rows"),
        (dict(sft_rows=[{"prompt": "a"}]), "sft_rows"),
        (dict(optimizer="lion"), "optimizer"),
        (dict(dtype="float8"), "dtype"),
        (dict(warmup_ratio=1.0), "warmup_ratio"),
        (dict(rank=0), "rank"),
    ],
)
def test_train_lora_rejects_bad_input(base_dir, tmp_path, kwargs, match):
    args = dict(sft_rows=SFT, **FAST) | kwargs
    with pytest.raises(ValueError, match=match):
        tuning.train_lora(base_dir, args.pop("sft_rows"), tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_train_full_tunes_every_parameter_and_saves_a_loadable_model(base_dir, tmp_path):
    recipe = {k: v for k, v in FAST.items() if k not in tuning.LORA_ONLY}
    stats = tuning.train_full(base_dir, SFT, tmp_path / "full", **recipe)
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    assert stats["trainable_params"] == sum(p.numel() for p in base.parameters())
    assert stats["steps"] == 15 and "rank" not in stats
    names = {p.name for p in (tmp_path / "full").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "train_stats.json"} <= names
    tok = AutoTokenizer.from_pretrained(tmp_path / "full")
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "full").eval()
    assert _sft_loss(tuned, tok) < _sft_loss(base, tok) - 0.3
    with pytest.raises(TypeError, match="rank"):
        tuning.train_full(base_dir, SFT, tmp_path / "bad", rank=4)
