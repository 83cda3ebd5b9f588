"""Table 3 (paper App. D): parameter groups, per-tensor norms of a loaded model, changes, speed and stability."""

import numpy as np
import pandas as pd
import pytest
from tiny_models import tiny_llama, tiny_olmoe, tiny_tokenizer

from grokmon.ablations import parameters

ROUTER, EXPERT = "model.layers.0.mlp.gate.weight", "model.layers.0.mlp.experts.gate_up_proj"
Q, K = "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"


def _checkpoint(router, expert, q, k):
    return pd.DataFrame(
        {
            "name": [ROUTER, EXPERT, Q, K],
            "group": ["router", "expert", "attention", "attention"],
            "numel": [8, 16, 4, 4],
            "norm": [router, expert, q, k],
        }
    )


def test_changes_speed_and_stability_on_three_constructed_checkpoints():
    norms = [_checkpoint(1.0, 4.0, 1.0, 2.0), _checkpoint(2.0, 4.0, 1.1, 2.0), _checkpoint(2.5, 5.0, 1.1, 2.2)]
    changes = parameters.norm_changes(norms, [10, 20, 30])
    router = changes[changes["group"] == "router"]
    # |2 - 1| / 1 = 1, |2.5 - 2| / 2 = 0.25
    np.testing.assert_allclose(router["change"].to_numpy()[1:], [1.0, 0.25])
    assert np.isnan(router["change"].iloc[0])
    attention = changes[changes["group"] == "attention"]
    np.testing.assert_allclose(attention["norm"], [np.sqrt(5), np.sqrt(1.21 + 4), np.sqrt(1.21 + 4.84)])
    np.testing.assert_allclose(attention["change"].to_numpy()[1:], [0.05, 0.05])  # mean of (0.1, 0) and (0, 0.1)
    table = parameters.convergence_table(changes).set_index("group")
    # router: speed = 1 - 0.25, stability = 1 / std(1, 0.25) = 1 / 0.375
    assert table.loc["router", "speed"] == pytest.approx(0.75)
    assert table.loc["router", "stability"] == pytest.approx(1 / 0.375)
    assert table.loc["router", "mean_change"] == pytest.approx(0.625)
    # expert: changes 0, 0.25: speed -0.25 (it speeds up), stability 1 / 0.125
    assert table.loc["expert", "speed"] == pytest.approx(-0.25)
    assert table.loc["expert", "stability"] == pytest.approx(8.0)
    # attention: constant change, std 0: no finite stability
    assert table.loc["attention", "speed"] == pytest.approx(0.0) and np.isnan(table.loc["attention", "stability"])


def test_checkpoints_with_different_tensors_are_refused():
    other = _checkpoint(1.0, 1.0, 1.0, 1.0).iloc[:3]
    with pytest.raises(ValueError, match="checkpoint 20"):
        parameters.norm_changes([_checkpoint(1.0, 1.0, 1.0, 1.0), other], [10, 20])


def test_parameter_group_by_name():
    assert parameters.parameter_group(ROUTER, {ROUTER}) == "router"
    assert parameters.parameter_group(EXPERT, set()) == "expert"
    assert parameters.parameter_group(Q, set()) == "attention"
    assert parameters.parameter_group("model.embed_tokens.weight", set()) == "other"


def test_tensor_norms_of_a_tiny_olmoe():
    model = tiny_olmoe(tiny_tokenizer())
    norms = parameters.tensor_norms(model).set_index("name")
    routers = norms[norms["group"] == "router"]
    assert sorted(routers.index) == [f"model.layers.{i}.mlp.gate.weight" for i in range(2)]
    weight = model.model.layers[1].mlp.gate.weight.detach().double()
    assert norms.loc["model.layers.1.mlp.gate.weight", "norm"] == pytest.approx(float(weight.norm()))
    assert set(norms["group"]) == {"router", "expert", "attention", "other"}
    assert norms["numel"].sum() == sum(p.numel() for p in model.parameters())


def test_tensor_norms_of_a_dense_model_have_no_router_group():
    norms = parameters.tensor_norms(tiny_llama(tiny_tokenizer()))
    assert set(norms["group"]) == {"attention", "other"}
