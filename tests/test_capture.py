"""Routing capture and the MoE registry on tiny random OLMoE, Mixtral, Qwen2-MoE, Qwen3-MoE (and a dense Llama)."""

import numpy as np
import pytest
import torch
from tiny_models import TEXTS, tiny_llama, tiny_mixtral, tiny_olmoe, tiny_qwen2_moe, tiny_qwen3_moe, tiny_tokenizer

from grokmon import io
from grokmon.architectures import UnsupportedArchitectureError, get_router_spec, moe_routers
from grokmon.capture import RouteCapture, capture_routes, iter_capture, load_model, router_weights

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


def _capture(model, tok, texts=TEXTS, side="right", **kw):
    tok.padding_side = side
    try:
        return capture_routes(model, tok, texts, progress=False, **kw)
    finally:
        tok.padding_side = "right"


def test_routing_equals_recomputation_from_router_logits(arch, tok):
    model, layers, n_experts = arch
    got = _capture(model, tok)
    enc = tok(TEXTS, return_tensors="pt", padding=True)  # right padding: default positions are right
    with torch.inference_mode():
        out = model(**enc, output_router_logits=True)
    b, t = enc.input_ids.shape
    n = enc.attention_mask.sum(1)
    want = np.stack(
        [
            np.stack(
                [
                    out.router_logits[l].float().softmax(-1).view(b, t, -1)[i, : n[i]].mean(0).numpy()
                    for l in range(len(layers))
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
    got = _capture(model, tok)
    for i, text in enumerate(TEXTS):
        ids = tok(text, return_tensors="pt").input_ids
        with torch.inference_mode():
            loss = model(ids, labels=ids).loss.item()
        assert got.nll[i] == pytest.approx(loss, abs=1e-5)


def test_batch_size_and_padding_side_do_not_change_results(arch, tok):
    model = arch[0]
    ref = _capture(model, tok, batch_size=1)
    for side in ("left", "right"):
        got = _capture(model, tok, side=side, batch_size=8)
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
    got = _capture(model, tok)
    np.testing.assert_allclose(got.routing[:, 1], 1 / 8, atol=1e-7)
    assert np.abs(got.routing[:, 0] - 1 / 8).max() > 0.05


def test_qwen2_moe_shared_expert_is_not_a_route(tok):
    model = tiny_qwen2_moe(tok)
    assert [i for i, _ in moe_routers(model)] == [0, 2]
    assert all(type(m).__name__ == "Qwen2MoeTopKRouter" for _, m in moe_routers(model))
    assert router_weights(model).shape[1] == 6  # routed experts only, no shared expert row


def test_dense_model_is_unsupported(tok):
    with pytest.raises(UnsupportedArchitectureError, match="olmoe") as err:
        capture_routes(tiny_llama(tok), tok, TEXTS, progress=False)
    assert isinstance(err.value, ValueError)
    assert "llama" in str(err.value) and "qwen3_moe" in str(err.value)
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
        iter_capture(tiny_llama(tok), tok, TEXTS)


def test_shards_stream_in_input_order(tok):
    model = tiny_olmoe(tok)
    whole = _capture(model, tok)
    parts = list(iter_capture(model, tok, (t for t in TEXTS), shard_size=2, batch_size=2, progress=False))
    assert [len(p) for p in parts] == [2, 2, 1]
    joined = RouteCapture.concat(parts)
    np.testing.assert_array_equal(joined.n_tokens, whole.n_tokens)
    np.testing.assert_allclose(joined.nll, whole.nll, atol=1e-5)
    np.testing.assert_allclose(joined.routing, whole.routing, atol=1e-5)


def test_truncation_eos_and_single_token_sample(tok):
    model = tiny_olmoe(tok)
    full = _capture(model, tok)
    cut = _capture(model, tok, max_length=5)
    assert cut.n_tokens.tolist() == [min(n, 5) for n in full.n_tokens]
    eos = _capture(model, tok, add_eos=True)
    assert (eos.n_tokens == full.n_tokens + 1).all()
    ids = tok(TEXTS[0]).input_ids + [tok.eos_token_id]
    with torch.inference_mode():
        loss = model(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert eos.nll[0] == pytest.approx(loss, abs=1e-5)
    one = _capture(model, tok, texts=["a"])
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
    got = _capture(tiny_olmoe(tok), tok)
    got.save(tmp_path / "r.npz")
    assert sorted(io.load_npz(tmp_path / "r.npz")) == ["layers", "n_tokens", "nll", "routing"]
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
    want = _capture(model, tok)
    np.testing.assert_allclose(_capture(loaded, loaded_tok).nll, want.nll, atol=1e-6)
    half, _ = load_model(tmp_path, device="cpu", dtype="bfloat16")
    assert half.dtype == torch.bfloat16
    got = _capture(half, loaded_tok)
    assert got.routing.dtype == np.float32
    np.testing.assert_allclose(got.routing.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got.nll, want.nll, atol=0.1)
    with pytest.raises(ValueError, match="dtype"):
        load_model(tmp_path, device="cpu", dtype="float77")
