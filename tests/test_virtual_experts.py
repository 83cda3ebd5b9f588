"""Virtual experts of dense models (grokmon.routing.virtual_experts) captured through the registry on tiny random
Llama, Mistral, OLMo, OLMo2, Qwen2, Qwen3 and GPT-NeoX, and a constructed MLP whose neuron blocks separate two kinds
of input."""

import numpy as np
import pytest
import torch
from tiny_models import (
    TEXTS,
    capture_padded,
    tiny_gpt_neox,
    tiny_llama,
    tiny_mistral,
    tiny_olmo,
    tiny_olmo2,
    tiny_olmoe,
    tiny_qwen2,
    tiny_qwen3,
    tiny_tokenizer,
)

from grokmon.metrics.pathways import pairwise_distances, pathway_strings
from grokmon.routing.architectures import DenseSpec, get_router_spec, moe_routers
from grokmon.routing.capture import capture_routes, load_model, router_weights
from grokmon.routing.virtual_experts import VirtualExperts, set_virtual_experts

K, NEURONS = 4, 64  # 4 virtual experts of 16 neurons each in the tiny models' 64-neuron MLPs
BUILDERS = {
    "llama": tiny_llama,
    "mistral": tiny_mistral,
    "olmo": tiny_olmo,
    "olmo2": tiny_olmo2,
    "qwen2": tiny_qwen2,
    "qwen3": tiny_qwen3,
    "gpt_neox": tiny_gpt_neox,
}


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def dense(request, tok):
    model = BUILDERS[request.param](tok)
    set_virtual_experts(model.config, n_experts=K)
    return model


def _mlps(model):
    return [
        layer.mlp for layer in (model.gpt_neox.layers if model.config.model_type == "gpt_neox" else model.model.layers)
    ]


def _hand_activations(mlp, x: torch.Tensor) -> torch.Tensor:
    """The MLP's intermediate activations [tokens, 64] recomputed from its input x [tokens, 32]."""
    if hasattr(mlp, "gate_proj"):
        return mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)
    return mlp.act(mlp.dense_h_to_4h(x))


def _hand_routing(model, tok, texts, groups: np.ndarray) -> np.ndarray:
    """Per text, unpadded: mean over its tokens of each group's share of sum |activation| -> [n, L, K]."""
    inputs, mlps = [], _mlps(model)
    handles = [m.register_forward_pre_hook(lambda mod, args: inputs.append(args[0][0])) for m in mlps]
    out = []
    try:
        for text in texts:
            inputs.clear()
            with torch.inference_mode():
                model(tok(text, return_tensors="pt").input_ids)
            per_layer = []
            for mlp, x in zip(mlps, inputs):
                with torch.inference_mode():
                    mass = _hand_activations(mlp, x).abs().double().numpy()  # [tokens, 64]
                grouped = np.stack([mass[:, groups == k].sum(1) for k in range(K)], axis=1)
                per_layer.append((grouped / grouped.sum(1, keepdims=True)).mean(0))
            out.append(per_layer)
    finally:
        for h in handles:
            h.remove()
    return np.array(out)


def test_virtual_routing_equals_hand_recomputation_from_mlp_activations(dense, tok):
    got = capture_padded(dense, tok)  # batched with right padding: padded positions must not count
    want = _hand_routing(dense, tok, TEXTS, np.arange(NEURONS) // (NEURONS // K))
    assert isinstance(get_router_spec(dense), DenseSpec)
    assert got.routing.shape == (len(TEXTS), 2, K) and got.layers.tolist() == [0, 1]
    np.testing.assert_allclose(got.routing, want, atol=1e-5)
    np.testing.assert_allclose(got.routing.sum(-1), 1.0, atol=1e-5)
    assert got.routing.std(axis=0).max() > 1e-3  # samples really differ


def test_batch_size_and_padding_side_do_not_change_virtual_routing(dense, tok):
    ref = capture_padded(dense, tok, batch_size=1)
    for side in ("left", "right"):
        got = capture_padded(dense, tok, side=side, batch_size=8)
        np.testing.assert_allclose(got.routing, ref.routing, atol=1e-5)
        np.testing.assert_allclose(got.nll, ref.nll, atol=1e-5)


def test_expert_embeddings_are_mean_input_projection_rows(dense):
    w = router_weights(dense)
    assert w.dtype == np.float32 and w.shape == (2, K, 32)
    for slot, mlp in enumerate(_mlps(dense)):
        rows = (mlp.gate_proj if hasattr(mlp, "gate_proj") else mlp.dense_h_to_4h).weight.detach().numpy()
        np.testing.assert_allclose(w[slot], rows.reshape(K, NEURONS // K, 32).mean(1), atol=1e-6)


def test_partitions_are_fixed_blocks_or_a_seeded_permutation():
    np.testing.assert_array_equal(VirtualExperts(3).groups(10), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    random = VirtualExperts(3, "random", seed=1).groups(10)
    assert np.bincount(random).tolist() == [4, 3, 3]
    np.testing.assert_array_equal(
        random, VirtualExperts(3, "random", seed=1).groups(10)
    )  # stable: same rule, same groups
    assert not np.array_equal(random, VirtualExperts(3, "random", seed=2).groups(10))
    assert not np.array_equal(random, VirtualExperts(3).groups(10))


def test_random_partition_capture_equals_hand_recomputation(tok):
    model = tiny_llama(tok)
    experts = set_virtual_experts(model.config, n_experts=K, partition="random", seed=3)
    got = capture_padded(model, tok)
    np.testing.assert_allclose(got.routing, _hand_routing(model, tok, TEXTS, experts.groups(NEURONS)), atol=1e-5)


def test_token_weights_shares_and_zero_mass():
    acts = torch.tensor([[1.0, -3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    got = VirtualExperts(2).token_weights(acts)  # groups {0, 1} and {2, 3}; |a| counts
    np.testing.assert_allclose(got.numpy(), [[0.5, 0.5], [0.5, 0.5]])
    got = VirtualExperts(2).token_weights(torch.tensor([[2.0, 0.0, -1.0, 1.0]]))
    np.testing.assert_allclose(got.numpy(), [[0.5, 0.5]])
    got = VirtualExperts(2).token_weights(torch.tensor([[3.0, 0.0, -1.0, 0.0]]))
    np.testing.assert_allclose(got.numpy(), [[0.75, 0.25]])


def test_settings_travel_in_config_json_and_load_model_overrides_them(tok, tmp_path):
    model = tiny_olmo2(tok)
    set_virtual_experts(model.config, n_experts=8, partition="random")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, _ = load_model(tmp_path, device="cpu")
    assert get_router_spec(loaded).experts == VirtualExperts(8, "random", 0)
    loaded, _ = load_model(tmp_path, device="cpu", virtual_experts={"n_experts": 2})  # unset keys keep the saved ones
    assert get_router_spec(loaded).experts == VirtualExperts(2, "random", 0)
    assert router_weights(loaded).shape == (2, 2, 32)
    assert get_router_spec(tiny_llama(tok)).experts == VirtualExperts()  # no settings: the defaults
    moe = tiny_olmoe(tok)
    moe.save_pretrained(tmp_path / "moe")
    tok.save_pretrained(tmp_path / "moe")
    loaded, _ = load_model(tmp_path / "moe", device="cpu", virtual_experts={"n_experts": 2})
    assert not hasattr(loaded.config, "virtual_experts")  # ignored for MoE


def test_bad_settings_raise_naming_the_key(tok):
    with pytest.raises(ValueError, match="virtual_experts.n_experts"):
        VirtualExperts(1)
    with pytest.raises(ValueError, match="virtual_experts.partition: expected one of contiguous, random"):
        VirtualExperts(4, "kmeans")
    with pytest.raises(ValueError, match="unknown key"):
        set_virtual_experts(tiny_llama(tok).config, k=4)
    model = tiny_llama(tok)
    set_virtual_experts(model.config, n_experts=65)  # more groups than the 64 neurons
    with pytest.raises(ValueError, match="virtual_experts.n_experts: 65 groups"):
        capture_routes(model, tok, TEXTS, progress=False)


def test_neurons_firing_in_disjoint_blocks_separate_two_kinds_of_input():
    """Letters drive neurons 0-31 (groups 0, 1) and digits neurons 32-63 (groups 2, 3): pathways split by kind."""
    letters, digits = ["the cat sat", "the cat", "cat sat"], ["3 12", "12 36", "36 3"]
    tok = tiny_tokenizer()
    ids = [set().union(*tok(texts).input_ids) for texts in (letters, digits)]
    assert not ids[0] & ids[1]  # no token is shared by the two kinds
    model = tiny_llama(tok)
    set_virtual_experts(model.config, n_experts=K)
    scale = 1 + torch.arange(NEURONS) / NEURONS  # later neurons fire more: group 1 > group 0, group 3 > group 2
    with torch.no_grad():
        model.model.embed_tokens.weight.zero_()
        for token_ids, axis in zip(ids, (0, 1)):
            model.model.embed_tokens.weight[list(token_ids), axis] = 1.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()  # attention adds nothing: the MLP input is the normed embedding
            layer.mlp.down_proj.weight.zero_()  # the MLP adds nothing: layer 2 sees what layer 1 saw
            for proj in (layer.mlp.gate_proj, layer.mlp.up_proj):
                proj.weight.zero_()
                proj.weight[:32, 0] = scale[:32]
                proj.weight[32:, 1] = scale[32:]
    routing = capture_padded(model, tok, letters + digits).routing
    assert routing[:3, :, 2:].max() == 0 and routing[3:, :, :2].max() == 0  # silu(0) * 0: the other block is silent
    assert pathway_strings(routing) == ["1,0-1,0"] * 3 + ["3,2-3,2"] * 3
    d = pairwise_distances(routing)
    within = np.concatenate([d[:3, :3][np.triu_indices(3, 1)], d[3:, 3:][np.triu_indices(3, 1)]])
    assert within.max() == 0 and d[:3, 3:].min() == 4  # "1,0-1,0" -> "3,2-3,2": four substitutions


def test_every_mlp_is_a_virtual_moe_layer(tok):
    model = tiny_qwen2(tok, num_hidden_layers=3)
    assert [i for i, _ in moe_routers(model)] == [0, 1, 2]
    assert all(m is layer.mlp for (_, m), layer in zip(moe_routers(model), model.model.layers))
