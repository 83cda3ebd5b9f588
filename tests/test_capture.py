"""Routing capture and the MoE registry on tiny random OLMoE, Mixtral, Qwen2-MoE, Qwen3-MoE (and an unregistered GPT-2);
dense models: tests/test_virtual_experts.py."""

import numpy as np
import pytest
import torch
from tiny_models import (
    TEXTS,
    capture_padded,
    tiny_gpt2,
    tiny_mixtral,
    tiny_olmoe,
    tiny_qwen2_moe,
    tiny_qwen3_moe,
    tiny_tokenizer,
)

from grokmon.files import atomic
from grokmon.routing.architectures import UnsupportedArchitectureError, get_router_spec, moe_routers
from grokmon.routing.capture import RouteCapture, capture_routes, iter_capture, load_model, router_weights
from grokmon.workflow import io

# builder, model layer indices of the MoE layers, number of routed experts
ARCHS = {
    "olmoe": (tiny_olmoe, [0, 1], 8),
    "mixtral": (tiny_mixtral, [0, 1], 4),
    "qwen2_moe": (tiny_qwen2_moe, [0, 2], 6),  # layer 1 dense via mlp_only_layers
    "qwen3_moe": (tiny_qwen3_moe, [1, 3], 4),  # decoder_sparse_step=2
}


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module", params=sorted(ARCHS))
def arch(request, tok):
    build, layers, n_experts = ARCHS[request.param]
    return build(tok), layers, n_experts


def test_routing_equals_recomputation_from_router_logits(arch, tok):
    model, layers, n_experts = arch
    got = capture_padded(model, tok)
    enc = tok(TEXTS, return_tensors="pt", padding=True)  # right padding: default positions are right
    with torch.inference_mode():
        out = model(**enc, output_router_logits=True)
    b, t = enc.input_ids.shape
    n = enc.attention_mask.sum(1)
    want = np.stack(
        [
            np.stack(
                [
                    out.router_logits[layer].float().softmax(-1).view(b, t, -1)[i, : n[i]].mean(0).numpy()
                    for layer in range(len(layers))
                ]
            )
            for i in range(b)
        ]
    )
    assert got.routing.shape == (len(TEXTS), len(layers), n_experts)
    assert got.layers.tolist() == layers
    assert got.n_tokens.tolist() == n.tolist()
    np.testing.assert_allclose(got.routing, want, atol=1e-6)
    np.testing.assert_allclose(got.routing.sum(-1), 1.0, atol=1e-6)
    assert got.routing.std(axis=0).max() > 1e-3  # samples really route differently


def test_nll_equals_model_loss_on_single_unpadded_sample(arch, tok):
    model = arch[0]
    got = capture_padded(model, tok)
    for i, text in enumerate(TEXTS):
        ids = tok(text, return_tensors="pt").input_ids
        with torch.inference_mode():
            loss = model(ids, labels=ids).loss.item()
        assert got.nll[i] == pytest.approx(loss, abs=1e-5)


def test_batch_size_and_padding_side_do_not_change_results(arch, tok):
    model = arch[0]
    ref = capture_padded(model, tok, batch_size=1)
    for side in ("left", "right"):
        got = capture_padded(model, tok, side=side, batch_size=8)
        np.testing.assert_allclose(got.nll, ref.nll, atol=1e-5)
        np.testing.assert_allclose(got.routing, ref.routing, atol=1e-5)
        np.testing.assert_array_equal(got.n_tokens, ref.n_tokens)


def test_router_weights_are_the_router_matrices(arch):
    model, layers, n_experts = arch
    w = router_weights(model)
    assert w.dtype == np.float32 and w.shape == (len(layers), n_experts, 32)
    for slot, layer in enumerate(layers):
        np.testing.assert_array_equal(w[slot], model.model.layers[layer].mlp.gate.weight.detach().numpy())


def test_zero_router_gives_uniform_routing(tok):
    model = tiny_olmoe(tok)
    with torch.no_grad():
        model.model.layers[1].mlp.gate.weight.zero_()
    got = capture_padded(model, tok)
    np.testing.assert_allclose(got.routing[:, 1], 1 / 8, atol=1e-7)
    assert np.abs(got.routing[:, 0] - 1 / 8).max() > 0.05


def test_qwen2_moe_shared_expert_is_not_a_route(tok):
    model = tiny_qwen2_moe(tok)
    assert [i for i, _ in moe_routers(model)] == [0, 2]
    assert all(type(m).__name__ == "Qwen2MoeTopKRouter" for _, m in moe_routers(model))
    assert router_weights(model).shape[1] == 6  # routed experts only, no shared expert row


def test_unregistered_model_is_unsupported(tok):
    with pytest.raises(UnsupportedArchitectureError, match="olmoe") as err:
        capture_routes(tiny_gpt2(tok), tok, TEXTS, progress=False)
    assert isinstance(err.value, ValueError)
    assert "'gpt2'" in str(err.value) and "qwen3_moe" in str(err.value) and "llama" in str(err.value)
    with pytest.raises(UnsupportedArchitectureError, match="no MoE layer"):
        router_weights(tiny_qwen2_moe(tok, mlp_only_layers=[0, 1, 2]))


def test_get_router_spec_accepts_model_or_config(tok):
    model = tiny_mixtral(tok)
    assert get_router_spec(model) is get_router_spec(model.config)
    assert get_router_spec(model.config).model_type == "mixtral"


def test_bad_inputs_raise(tok):
    model = tiny_olmoe(tok)
    with pytest.raises(ValueError, match="texts"):
        capture_routes(model, tok, [], progress=False)
    with pytest.raises(ValueError, match="texts"):
        list(iter_capture(model, tok, iter([]), progress=False))
    with pytest.raises(ValueError, match="texts"):
        capture_routes(model, tok, ["a b", ""], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        capture_routes(model, tok, TEXTS, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="shard_size"):
        iter_capture(model, tok, TEXTS, shard_size=0)  # raised at the call, before any iteration
    with pytest.raises(UnsupportedArchitectureError):
        iter_capture(tiny_gpt2(tok), tok, TEXTS)


def test_shards_stream_in_input_order(tok):
    model = tiny_olmoe(tok)
    whole = capture_padded(model, tok)
    parts = list(iter_capture(model, tok, (t for t in TEXTS), shard_size=2, batch_size=2, progress=False))
    assert [len(p) for p in parts] == [2, 2, 1]
    joined = RouteCapture.concat(parts)
    np.testing.assert_array_equal(joined.n_tokens, whole.n_tokens)
    np.testing.assert_allclose(joined.nll, whole.nll, atol=1e-5)
    np.testing.assert_allclose(joined.routing, whole.routing, atol=1e-5)


def test_truncation_eos_and_single_token_sample(tok):
    model = tiny_olmoe(tok)
    full = capture_padded(model, tok)
    cut = capture_padded(model, tok, max_length=5)
    assert cut.n_tokens.tolist() == [min(n, 5) for n in full.n_tokens]
    eos = capture_padded(model, tok, add_eos=True)
    assert (eos.n_tokens == full.n_tokens + 1).all()
    ids = tok(TEXTS[0]).input_ids + [tok.eos_token_id]
    with torch.inference_mode():
        loss = model(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert eos.nll[0] == pytest.approx(loss, abs=1e-5)
    one = capture_padded(model, tok, texts=["a"])
    assert one.n_tokens.tolist() == [1] and np.isnan(one.nll[0])
    np.testing.assert_allclose(one.routing.sum(-1), 1.0, atol=1e-6)


def test_model_state_is_restored_and_progress_goes_to_stderr(tok, capsys):
    model = tiny_olmoe(tok).train()
    capture_routes(model, tok, TEXTS[:2], progress=True)
    assert "capture" in capsys.readouterr().err
    assert model.training
    assert all(not m._forward_hooks for _, m in moe_routers(model))
    capture_routes(model, tok, TEXTS[:2], progress=False)
    assert capsys.readouterr().err == ""


def test_save_load_roundtrip(tok, tmp_path):
    got = capture_padded(tiny_olmoe(tok), tok)
    got.save(tmp_path / "r.npz")
    assert sorted(atomic.load_npz(tmp_path / "r.npz")) == ["layers", "n_tokens", "nll", "routing"]
    back = RouteCapture.load(tmp_path / "r.npz")
    for key in ("nll", "n_tokens", "routing", "layers"):
        np.testing.assert_array_equal(getattr(back, key), getattr(got, key))
    with pytest.raises(ValueError, match="routing"):
        RouteCapture(nll=got.nll, n_tokens=got.n_tokens, routing=got.routing[:2], layers=got.layers)


def test_load_model_sets_pad_token_dtype_and_eval(tok, tmp_path):
    model = tiny_olmoe(tok)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    cfg = io.read_json(tmp_path / "tokenizer_config.json")
    cfg.pop("pad_token")
    io.write_json(tmp_path / "tokenizer_config.json", cfg)
    loaded, loaded_tok = load_model(tmp_path, device="cpu")
    assert loaded.dtype == torch.float32 and not loaded.training
    assert loaded_tok.pad_token == "<|endoftext|>"
    want = capture_padded(model, tok)
    np.testing.assert_allclose(capture_padded(loaded, loaded_tok).nll, want.nll, atol=1e-6)
    half, _ = load_model(tmp_path, device="cpu", dtype="bfloat16")
    assert half.dtype == torch.bfloat16
    got = capture_padded(half, loaded_tok)
    assert got.routing.dtype == np.float32
    np.testing.assert_allclose(got.routing.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got.nll, want.nll, atol=0.1)
    with pytest.raises(ValueError, match="dtype"):
        load_model(tmp_path, device="cpu", dtype="float77")


# Answer span: character tokenizer (one token per character, BOS prepended) so that token i + 1 is character i.
def _char_tok():
    from grokmon.workflow.toy.model import train_tokenizer

    return train_tokenizer(["abcdef", "Question: what is 12 times 3? Answer: 36"])


def _hand_nll(model, ids: list[int], first: int) -> float:
    """Mean NLL of targets ids[first:] (first >= 1) recomputed from the logits of one unpadded forward pass."""
    with torch.inference_mode():
        logp = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
    return -float(np.mean([logp[j - 1, ids[j]].item() for j in range(first, len(ids))]))


def test_answer_nll_equals_hand_recomputation_over_answer_targets():
    tok = _char_tok()
    model = tiny_olmoe(tok)
    ids = tok("abcdef").input_ids
    assert tok.convert_ids_to_tokens(ids) == ["<|endoftext|>", "a", "b", "c", "d", "e", "f"]
    got = capture_padded(model, tok, texts=["abcdef"] * 4, answer_chars=[3, 0, 6, 5])
    assert got.answer_nll[0] == pytest.approx(_hand_nll(model, ids, 4), abs=1e-5)  # targets d, e, f
    assert got.answer_nll[0] != pytest.approx(got.nll[0], abs=1e-3)
    # answer_char 0: every target is an answer target (the first token, BOS, is never one) -> answer_nll == nll
    assert got.answer_nll[1] == pytest.approx(got.nll[1], abs=1e-6)
    assert got.nll[1] == pytest.approx(_hand_nll(model, ids, 1), abs=1e-5)
    assert np.isnan(got.answer_nll[2])  # empty answer: no answer token
    assert got.answer_nll[3] == pytest.approx(_hand_nll(model, ids, 6), abs=1e-5)  # only f
    # truncation: max_length 5 keeps BOS a b c d -> only target d; an answer starting at e is cut away -> NaN
    cut = capture_padded(model, tok, texts=["abcdef", "abcdef"], answer_chars=[3, 4], max_length=5)
    assert cut.answer_nll[0] == pytest.approx(_hand_nll(model, ids[:5], 4), abs=1e-5)
    assert np.isnan(cut.answer_nll[1]) and np.isfinite(cut.nll).all()
    # add_eos: the appended EOS is an answer target too
    eos = capture_padded(model, tok, texts=["abcdef"], answer_chars=[3], add_eos=True)
    assert eos.answer_nll[0] == pytest.approx(_hand_nll(model, ids + [tok.eos_token_id], 4), abs=1e-5)


def test_answer_starts_at_the_token_that_straddles_the_answer_char(tok):
    # subword tokenizer: "Answer: 36" ends in tokens "▁3" (chars 37-38, the space and "3") and "6"
    model = tiny_olmoe(tok)
    text = TEXTS[3]
    enc = tok(text, return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc.input_ids)[-2:] == ["\u25813", "6"]
    got = capture_padded(model, tok, texts=[text], answer_chars=[text.index("36")])
    assert got.answer_nll[0] == pytest.approx(_hand_nll(model, enc.input_ids, len(enc.input_ids) - 2), abs=1e-5)


def test_answer_nll_does_not_depend_on_batch_size_or_padding_side(arch, tok):
    model = arch[0]
    chars = [len(t) // 2 for t in TEXTS]
    ref = capture_padded(model, tok, batch_size=1, answer_chars=chars)
    assert np.isfinite(ref.answer_nll).all()
    assert np.abs(ref.answer_nll - ref.nll).max() > 1e-3
    np.testing.assert_allclose(ref.nll, capture_padded(model, tok, batch_size=1).nll, atol=1e-6)
    for side in ("left", "right"):
        got = capture_padded(model, tok, side=side, batch_size=8, answer_chars=chars)
        np.testing.assert_allclose(got.answer_nll, ref.answer_nll, atol=1e-5)
        np.testing.assert_allclose(got.nll, ref.nll, atol=1e-5)


def test_answer_nll_shards_save_load_and_bad_arguments(tok, tmp_path):
    model = tiny_olmoe(tok)
    chars = [len(t) // 2 for t in TEXTS]
    whole = capture_padded(model, tok, answer_chars=chars)
    parts = list(iter_capture(model, tok, iter(TEXTS), answer_chars=chars, shard_size=2, batch_size=2, progress=False))
    np.testing.assert_allclose(RouteCapture.concat(parts).answer_nll, whole.answer_nll, atol=1e-5)
    whole.save(tmp_path / "r.npz")
    assert sorted(atomic.load_npz(tmp_path / "r.npz")) == ["answer_nll", "layers", "n_tokens", "nll", "routing"]
    back = RouteCapture.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.answer_nll, whole.answer_nll)
    assert RouteCapture.load(_save(capture_padded(model, tok), tmp_path / "plain.npz")).answer_nll is None
    with pytest.raises(ValueError, match="answer_nll"):
        RouteCapture.concat([whole, capture_padded(model, tok)])
    with pytest.raises(ValueError, match="answer_nll"):
        RouteCapture(
            nll=whole.nll, n_tokens=whole.n_tokens, routing=whole.routing, layers=whole.layers, answer_nll=[1.0]
        )
    with pytest.raises(ValueError, match="answer_chars: expected one per text"):
        capture_routes(model, tok, TEXTS, answer_chars=chars[:2], progress=False)
    with pytest.raises(ValueError, match="answer_chars: expected ints >= 0"):
        capture_routes(model, tok, TEXTS, answer_chars=[-1] * len(TEXTS), progress=False)
    slow = type("SlowTokenizer", (), {"is_fast": False})()
    with pytest.raises(ValueError, match="fast tokenizer"):
        iter_capture(model, slow, TEXTS, answer_chars=chars)


def _save(capture, path):
    capture.save(path)
    return path


def _bos_tokenizer():
    """The tiny tokenizer, prepending <|endoftext|> as BOS to every text (as the toy and many LMs' tokenizers do)."""
    from tokenizers import processors

    tok = tiny_tokenizer()
    bos = tok.convert_tokens_to_ids(tok.bos_token)
    template = processors.TemplateProcessing(single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, bos)])
    tok._tokenizer.post_processor = template
    assert tok("zebra").input_ids[0] == bos
    return tok


@pytest.mark.parametrize("side", ["left", "right"])
def test_routing_mean_is_over_the_texts_own_tokens(side):
    tok = _bos_tokenizer()
    model = tiny_olmoe(tok)
    got = capture_padded(model, tok, side=side, batch_size=2, add_eos=True)
    with_special = capture_padded(model, tok, side=side, batch_size=2, add_eos=True, include_special_tokens=True)
    for i, text in enumerate(TEXTS):
        ids = tok(text).input_ids + [tok.eos_token_id]  # [BOS, own tokens..., EOS]
        with torch.inference_mode():
            logits = model(torch.tensor([ids]), output_router_logits=True).router_logits
        probs = [layer.float().softmax(-1).view(len(ids), -1).numpy() for layer in logits]
        own = np.stack([p[1:-1].mean(0) for p in probs])  # BOS and EOS left out by hand
        every = np.stack([p.mean(0) for p in probs])
        np.testing.assert_allclose(got.routing[i], own, atol=1e-6)
        np.testing.assert_allclose(with_special.routing[i], every, atol=1e-6)
        assert got.n_tokens[i] == len(ids)  # the forward pass and the NLL still see every token
    np.testing.assert_array_equal(got.nll, with_special.nll)
    assert np.abs(got.routing - with_special.routing).max() > 1e-3  # the BOS and EOS really route differently


def test_a_text_of_special_tokens_only_raises():
    tok = _bos_tokenizer()
    with pytest.raises(ValueError, match="only special tokens.*include_special_tokens"):
        capture_routes(tiny_olmoe(tok), tok, ["zebra", ""], progress=False)  # "" is [BOS]
