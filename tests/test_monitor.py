import math
import random
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import TEXTS, tiny_gpt2, tiny_llama, tiny_olmoe, tiny_tokenizer
from transformers import TrainerState

from grokmon.metrics.routing_summary import routing_metrics
from grokmon.monitor.pathway_monitor import COLUMNS, METRICS, PathwayMonitor
from grokmon.routing.architectures import UnsupportedArchitectureError
from grokmon.routing.capture import capture_routes, router_weights
from grokmon.routing.virtual_experts import set_virtual_experts
from grokmon.workflow.toy import pretrain, tiny_olmoe_config, train_tokenizer

DOCS = Path(__file__).resolve().parents[1] / "docs"
CORPUS = [f"{a}+{b}={a + b}" for a in range(8) for b in range(4)]  # 32 texts


@pytest.fixture(scope="module")
def toy():
    tokenizer = train_tokenizer(CORPUS)
    config = tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=3, num_experts=4, expert_size=32)
    return tokenizer, config


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _train(toy, tmp_path, callback):
    tokenizer, config = toy
    kwargs = dict(steps=24, save_steps=[], batch_size=8, lr=1e-2, warmup=4, seed=5, progress=False)
    return pretrain(CORPUS, tokenizer, config, out_dir=tmp_path / "unused", callback=callback, **kwargs)


def test_pretrain_with_monitor_writes_one_csv_row_per_monitored_step_and_trains_identically(toy, tmp_path):
    tokenizer, _ = toy
    seen = []
    monitor = PathwayMonitor(
        CORPUS[::4], tokenizer, every=8, csv_path=tmp_path / "m.csv", loggers=[lambda s, m: seen.append((s, m))]
    )
    monitored = _train(toy, tmp_path, monitor)
    plain = _train(toy, tmp_path, None)
    for (name, a), (_, b) in zip(monitored.state_dict().items(), plain.state_dict().items(), strict=True):
        assert torch.equal(a, b), name  # bit for bit
    frame = pd.read_csv(tmp_path / "m.csv")
    assert tuple(frame.columns) == COLUMNS
    assert frame["step"].tolist() == [8, 16, 24]
    assert np.isfinite(frame[list(METRICS)].to_numpy()).all()
    assert frame["loss"].iloc[-1] < frame["loss"].iloc[0] - 0.5  # the probe loss follows training
    assert ((frame["distance_normalized"] >= 0) & (frame["distance_normalized"] <= 1)).all()
    # the logger got the same values as the CSV (full float precision), without the step
    assert [s for s, _ in seen] == [8, 16, 24]
    assert seen[1][1] == {k: frame[k].iloc[1] for k in METRICS}
    assert monitor.history[2] == frame.iloc[2].to_dict() | {"step": 24}


def test_measurement_matches_the_library_on_the_same_probe(tok):
    model = tiny_olmoe(tok, seed=2, num_hidden_layers=3)
    metrics = PathwayMonitor(TEXTS, tok, max_pairs=None, model=model).measure(model)
    capture = capture_routes(model, tok, TEXTS, batch_size=16, max_length=256, progress=False)
    assert metrics["loss"] == pytest.approx(float(np.mean(capture.nll)), rel=1e-6)
    expected = routing_metrics(capture.routing, router_weights(model), max_pairs=None)
    assert {k: metrics[k] for k in expected} == pytest.approx(expected, rel=1e-6)
    assert metrics["seconds"] > 0


def test_routing_metrics_hand_computed():
    # sample A: layer 0 -> expert 0, layer 1 -> expert 1: "0-1"; sample B: "0" then 0.5 + 0.4 > 0.7: "0-0,1"
    a = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]
    b = [[0.8, 0.1, 0.1], [0.5, 0.4, 0.1]]
    m = routing_metrics(np.array([a, b]), np.stack([np.eye(3), np.eye(3)]), max_pairs=None)
    assert m["distance"] == 2  # insert "0,"
    assert m["distance_experts"] == 1  # [0, 3] vs [0, 1, 3]
    assert m["distance_normalized"] == pytest.approx(2 / 5)
    cos_a, cos_b = 0.17 / 0.66, 0.45 / math.sqrt(0.66 * 0.42)  # router rows = identity: embedding = weights
    assert m["adjacent_cosine"] == pytest.approx((cos_a + cos_b) / 2)
    assert m["consistency"] == pytest.approx(0.0, abs=1e-7)  # one adjacent pair: cos / (max cos + eps) = 1


def test_monitor_fires_every_n_steps_only(tok):
    model = tiny_olmoe(tok)
    monitor = PathwayMonitor(TEXTS, tok, every=3)
    assert [monitor(s, model) is not None for s in range(1, 8)] == [False, False, True, False, False, True, False]
    assert [r["step"] for r in monitor.history] == [3, 6]


def test_measurement_restores_modes_rngs_and_leaves_weights_and_grads(tok):
    model = tiny_olmoe(tok, num_hidden_layers=3).train()
    model.model.layers[0].eval()  # a frozen-in-eval submodule must stay so
    modes = [m.training for m in model.modules()]
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    during = []

    def draws_random_numbers(module, args):  # stands in for anything in the forward that uses the global RNGs
        during.append(module.training)
        torch.rand(3), np.random.rand(3), random.random()

    model.register_forward_pre_hook(draws_random_numbers)
    torch.manual_seed(11), np.random.seed(11), random.seed(11)
    expected = torch.rand(2), np.random.rand(2), random.random()
    torch.manual_seed(11), np.random.seed(11), random.seed(11)
    PathwayMonitor(TEXTS, tok, every=1)(1, model)
    assert during and not any(during)  # measured in eval mode
    after = torch.rand(2), np.random.rand(2), random.random()
    assert torch.equal(after[0], expected[0]) and np.array_equal(after[1], expected[1]) and after[2] == expected[2]
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())


def test_bad_input_fails_at_construction(tok, tmp_path):
    with pytest.raises(ValueError, match="probe_texts"):
        PathwayMonitor([], tok)
    with pytest.raises(ValueError, match="probe_texts: need at least 2"):
        PathwayMonitor(["only one text"], tok)
    with pytest.raises(ValueError, match="probe_texts: 1 text.* fewer than 2 tokens"):
        PathwayMonitor(["the cat", "a"], tok)
    with pytest.raises(ValueError, match="probe_texts: expected a sequence"):
        PathwayMonitor("the cat sat", tok)
    for every in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="every"):
            PathwayMonitor(TEXTS, tok, every=every)
    with pytest.raises(ValueError, match="cut"):
        PathwayMonitor(TEXTS, tok, cut=0)
    with pytest.raises(ValueError, match="max_pairs"):
        PathwayMonitor(TEXTS, tok, max_pairs=0)
    with pytest.raises(ValueError, match="loggers"):
        PathwayMonitor(TEXTS, tok, loggers=["not a logger"])
    (tmp_path / "old.csv").write_text("step,loss\n1,2.0\n")
    with pytest.raises(ValueError, match="csv_path"):
        PathwayMonitor(TEXTS, tok, csv_path=tmp_path / "old.csv")


def test_unregistered_model_fails_at_construction_or_first_call(tok):
    unknown = tiny_gpt2(tok)
    with pytest.raises(UnsupportedArchitectureError, match="gpt2"):
        PathwayMonitor(TEXTS, tok, model=unknown)
    monitor = PathwayMonitor(TEXTS, tok, every=100)
    with pytest.raises(UnsupportedArchitectureError, match="gpt2"):
        monitor(1, unknown)  # not a measuring step: validated anyway
    with pytest.raises(UnsupportedArchitectureError, match="gpt2"):  # before the Trainer's first step
        PathwayMonitor(TEXTS, tok).as_trainer_callback().on_train_begin(None, TrainerState(), None, model=unknown)
    with pytest.raises(ValueError, match=">= 2 MoE layers"):
        PathwayMonitor(TEXTS, tok, model=tiny_olmoe(tok, num_hidden_layers=1))


def test_dense_model_is_measured_through_its_virtual_experts(tok):
    model = tiny_llama(tok, num_hidden_layers=3)
    set_virtual_experts(model.config, n_experts=8)
    metrics = PathwayMonitor(TEXTS, tok, max_pairs=None, model=model).measure(model)
    capture = capture_routes(model, tok, TEXTS, batch_size=16, max_length=256, progress=False)
    assert capture.routing.shape == (len(TEXTS), 3, 8)
    expected = routing_metrics(capture.routing, router_weights(model), max_pairs=None)
    assert {k: metrics[k] for k in expected} == pytest.approx(expected, rel=1e-6)
    assert metrics["distance"] > 0 and -1 <= metrics["adjacent_cosine"] <= 1


def test_trainer_callback_measures_on_the_main_process_at_multiples_of_every(tok):
    model, monitor = tiny_olmoe(tok), PathwayMonitor(TEXTS, tok, every=2)
    callback = monitor.as_trainer_callback()
    for step, main_process in ((1, True), (2, True), (4, False), (6, True)):
        state = TrainerState(global_step=step, is_world_process_zero=main_process)
        callback.on_step_end(None, state, None, model=model)
    assert [row["step"] for row in monitor.history] == [2, 6]


def test_csv_appends_to_a_matching_file_and_tensorboard_style_writers_get_scalars(tok, tmp_path):
    class Writer:  # duck-typed torch.utils.tensorboard.SummaryWriter (tensorboard is not a dependency)
        def __init__(self):
            self.scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

    model, writer, path = tiny_olmoe(tok), Writer(), tmp_path / "m.csv"
    PathwayMonitor(TEXTS, tok, every=2, csv_path=path)(2, model)
    PathwayMonitor(TEXTS, tok, every=2, csv_path=path, loggers=[writer])(4, model)  # a resumed run
    assert pd.read_csv(path)["step"].tolist() == [2, 4]
    assert [t for t, _, _ in writer.scalars] == [f"pathways/{k}" for k in METRICS]
    assert {s for _, _, s in writer.scalars} == {4}


@pytest.mark.parametrize("example", ["monitor_loop_example.py", "monitor_trainer_example.py"])
def test_readme_examples_run_as_written(example, capsys):
    runpy.run_path(str(DOCS / example), run_name="__main__")
    out = capsys.readouterr().out
    if example == "monitor_loop_example.py":
        assert [line.split(":")[0] for line in out.splitlines() if line.startswith("step ")] == [
            "step 10",
            "step 20",
            "step 30",
        ]
        assert out.count("\n10,") + out.count("\n20,") + out.count("\n30,") == 3  # the CSV rows
    else:
        steps = [line.split()[0] for line in out.splitlines() if line[:2] in ("10", "20", "30")]
        assert steps == ["10", "20", "30"]


def test_monitor_doc_shows_both_examples_verbatim():
    doc = (DOCS / "monitor.md").read_text()
    for example in ("monitor_loop_example.py", "monitor_trainer_example.py"):
        assert (DOCS / example).read_text().strip() in doc
