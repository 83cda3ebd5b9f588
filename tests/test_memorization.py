import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grokmon.files import atomic
from grokmon.metrics.memorization import (
    EpsilonCalibration,
    calibrate_epsilon,
    groups,
    memorization_index,
    memorized_fraction_before_final,
)
from grokmon.workflow import io
from grokmon.workflow.route_losses import loss_matrix

SCRIPT = Path(__file__).resolve().parents[1] / "workflow/scripts/memorization.py"

# 4 checkpoints (T = 3), epsilon = 2.0, delta = 0.05; one column per sample.
LOSS = np.array(
    [
        # s0   s1    s2   s3    s4
        [3.0, 1.9, 3.0, 1.00, 3.0],
        [1.9, 2.5, 2.8, 1.02, 2.5],
        [1.8, 1.9, 2.6, 0.99, 2.2],
        [1.8, 1.92, 2.4, 1.00, 1.5],
    ]
)


def test_memorization_index_hand_cases():
    # s0: t=1 has 1.9 <= 2 but |1.9 - 1.8| = 0.1 > delta, so t* = 2.
    # s1: dips to 1.9 at t=0 (|1.9 - 1.92| = 0.02 ok) but rises to 2.5 > eps at t=1, so t* = 2, not 0.
    # s2: final loss 2.4 > eps: never (-1).  s3: within eps and delta everywhere: t* = 0.
    # s4: only the final checkpoint qualifies: t* = T is not memorized (the paper counts t* < T), unless include_final.
    assert memorization_index(LOSS, epsilon=2.0, delta=0.05).tolist() == [2, 2, -1, 0, -1]
    assert memorization_index(LOSS, epsilon=2.0, delta=0.05, include_final=True).tolist() == [2, 2, -1, 0, 3]


def test_memorization_index_delta_and_epsilon_matter():
    # delta 0.2 admits s0 at t=1 (|1.9 - 1.8| = 0.1) and s1 at t=2 still (t=1 is 2.5 > eps).
    assert memorization_index(LOSS, epsilon=2.0, delta=0.2, include_final=True).tolist() == [1, 2, -1, 0, 3]
    # epsilon 2.5 admits s1's t=1 loss 2.5, but |2.5 - 1.92| = 0.58 > delta, so s1 stays at 2; s2 and s4 only at T.
    assert memorization_index(LOSS, epsilon=2.5, delta=0.05, include_final=True).tolist() == [2, 2, 3, 0, 3]
    assert memorization_index(LOSS, epsilon=2.5, delta=0.05).tolist() == [2, 2, -1, 0, -1]


def test_memorized_fraction_before_final():
    # t* = [2, 2, -1, 0, 3] with 4 checkpoints: 0 <= t* < 3 holds for s0, s1, s3 -> 3/5.
    assert memorized_fraction_before_final(np.array([2, 2, -1, 0, 3]), 4) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="n_ckpt"):
        memorized_fraction_before_final(np.array([0, 4]), 4)


def test_calibrate_epsilon_known_answer():
    # 20 samples, loss constant over 3 checkpoints (delta always holds): memorized at t=0 iff loss <= eps.
    values = np.array([0.15, 0.35, 0.55, 0.75] + [5.0] * 16)
    loss = np.tile(values, (3, 1))
    # eps 0.1..0.7 memorize 0..3 samples (< 20%); eps 0.8 memorizes 4/20 = 0.20 -> in target.
    assert calibrate_epsilon(loss) == EpsilonCalibration(epsilon=0.8, fraction=0.2, in_target=True)


def test_calibrate_epsilon_coarse_grid_and_no_drift():
    # 3 of 10 samples at 0.3: the first eps reaching 20% (0.3, exactly, not 0.30000000000000004) gives 30% > 25%.
    loss = np.tile(np.array([0.3] * 3 + [4.0] * 7), (2, 1))
    result = calibrate_epsilon(loss)
    assert result.epsilon == 0.3 and result.fraction == pytest.approx(0.3) and result.in_target is False
    # start=0.25, step=0.05: grid 0.25, 0.3 -> 0.3 again.
    assert calibrate_epsilon(loss, step=0.05, start=0.25).epsilon == 0.3


def test_calibrate_epsilon_unreachable():
    # Every sample moves by 0.5 between the last two checkpoints (> delta): nothing is memorized before T.
    loss = np.array([[1.0, 1.0, 1.0], [1.5, 1.5, 1.5]])
    with pytest.raises(ValueError, match="target"):
        calibrate_epsilon(loss)


def test_groups_sorted_and_never_excluded():
    g = groups(np.array([2, -1, 0, 2, 5, 0]))
    assert list(g) == [0, 2, 5]
    assert [v.tolist() for v in g.values()] == [[2, 5], [0, 3], [4]]
    assert groups(np.array([-1, -1])) == {}
    # min_size 2: the one-sample group 5 is left out
    big = groups(np.array([2, -1, 0, 2, 5, 0]), min_size=2)
    assert {k: v.tolist() for k, v in big.items()} == {0: [2, 5], 2: [0, 3]}
    with pytest.raises(ValueError, match="min_size"):
        groups(np.array([0, 1]), min_size=0)


@pytest.mark.parametrize(
    "loss, match",
    [
        (np.zeros((0, 3)), r"loss: expected a non-empty .* shape \(0, 3\)"),
        (np.array([1.0, 2.0]), r"loss: expected a non-empty \[n_ckpt, n_samples\] array, got shape \(2,\)"),
        (np.array([[1.0, np.nan]]), "loss: contains NaN or inf"),
        (np.array([[1.0, np.inf]]), "loss: contains NaN or inf"),
    ],
)
def test_bad_loss(loss, match):
    with pytest.raises(ValueError, match=match):
        memorization_index(loss, epsilon=2.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="delta"):
        memorization_index(LOSS, epsilon=2.0, delta=-0.1)
    with pytest.raises(ValueError, match="t_index"):
        groups(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="t_index"):
        groups(np.array([], dtype=int))


def test_calibrate_epsilon_unreachable_best_effort():
    # Sample 0 is stable within delta from checkpoint 0 (loss 1.0, 1.02, 1.0) but needs epsilon >= 1.02;
    # samples 1-9 jump by 0.5 at the end: at most 1/10 < 0.2 can be memorized before T.
    loss = np.array([[1.0] + [1.0] * 9, [1.02] + [1.0] * 9, [1.0] + [1.5] * 9])
    result = calibrate_epsilon(loss, step=0.01, on_unreachable="best")
    assert result == EpsilonCalibration(epsilon=1.02, fraction=0.1, in_target=False)


# Routes of 3 checkpoints x 4 samples: whole-text nll never below epsilon 1.0;
# answer_nll memorized at t* = 1, 0, 2, never.
NLL = np.full((3, 4), 3.0, dtype=np.float32)
ANSWER_NLL = np.array([[2.0, 0.5, 2.0, 2.0], [0.5, 0.5, 2.0, 2.0], [0.5, 0.5, 0.5, 2.0]], dtype=np.float32)


def _routes(tmp_path, answer=True):
    paths = []
    for t in range(3):
        arrays = {"nll": NLL[t], "n_tokens": np.full(4, 7), "routing": np.full((4, 1, 2), 0.5), "layers": np.array([0])}
        if answer:
            arrays["answer_nll"] = ANSWER_NLL[t]
        paths.append(tmp_path / f"{'a' if answer else 'p'}{t}.npz")
        atomic.save_npz(paths[-1], **arrays)
    return paths


def test_loss_matrix_picks_the_span(tmp_path):
    routes = _routes(tmp_path)
    np.testing.assert_array_equal(loss_matrix(routes), NLL)
    np.testing.assert_array_equal(loss_matrix(routes, "sequence"), NLL)
    np.testing.assert_array_equal(loss_matrix(routes, "answer"), ANSWER_NLL)
    with pytest.raises(ValueError, match="memorization.loss_span is 'answer' but .*p0.npz has no answer_nll"):
        loss_matrix(_routes(tmp_path, answer=False), "answer")
    with pytest.raises(ValueError, match="memorization.loss_span: expected one of 'sequence', 'answer'"):
        loss_matrix(routes, "question")
    atomic.save_npz(
        routes[1], **{**atomic.load_npz(routes[1]), "answer_nll": np.array([0.5, np.nan, 2.0, 2.0], dtype=np.float32)}
    )
    with pytest.raises(ValueError, match="1 sample.* no answer token .*sample 1"):
        loss_matrix(routes, "answer")


@pytest.mark.parametrize(
    "span, include_final, t_index",
    [("sequence", False, [-1, -1, -1, -1]), ("answer", False, [1, 0, -1, -1]), ("answer", True, [1, 0, 2, -1])],
)
def test_memorization_script_uses_the_configured_loss_span(tmp_path, monkeypatch, span, include_final, t_index):
    monkeypatch.setattr("grokmon.workflow.jobs.start_job", lambda snakemake: logging.getLogger("test"))
    io.write_jsonl(tmp_path / "train.jsonl", [{"id": f"s{i}", "text": "x", "answer_char": 0} for i in range(4)])
    out = {k: tmp_path / f"{k}.{ext}" for k, ext in (("loss", "npz"), ("t_star", "tsv"), ("epsilon", "json"))}
    memorization = {
        "epsilon": 1.0,
        "delta": 0.05,
        "epsilon_step": 0.1,
        "target_fraction": [0.2, 0.25],
        "loss_span": span,
    }
    memorization["include_final"] = include_final
    snakemake = SimpleNamespace(
        input=SimpleNamespace(routes=[str(p) for p in _routes(tmp_path)], train=str(tmp_path / "train.jsonl")),
        output=SimpleNamespace(**{k: str(v) for k, v in out.items()}),
        params=SimpleNamespace(memorization=memorization, steps=[10, 20, 30]),
        wildcards=SimpleNamespace(domain="math"),
    )
    runpy.run_path(str(SCRIPT), init_globals={"snakemake": snakemake})
    assert io.read_tsv(out["t_star"])["t_index"].tolist() == t_index
    # answer span: sample 2 meets epsilon only at T, memorized (t* = 2) only with include_final; counted either way
    assert io.read_json(out["epsilon"])["only_at_final"] == (1 if span == "answer" else 0)
    np.testing.assert_array_equal(atomic.load_npz(out["loss"])["loss"], ANSWER_NLL if span == "answer" else NLL)
