import numpy as np
import pytest

from grokmon.metrics import memorization
from grokmon.metrics.generalization import accuracy_curve, generalization_index, groups

# 7 checkpoints (T = 6); one column per test item.
CORRECT = np.array(
    [
        [0, 0, 1, 1, 0],
        [0, 1, 0, 1, 0],
        [1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0],
        [1, 0, 0, 1, 0],
        [1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0],
    ]
)


def test_generalization_index_hand_cases():
    # item0: right from t=2 on -> 2.
    # item1: from t=1: [1,1,1,0,1,1] 1 error, acc 5/6 = 0.83 > 0.8 -> 1 (one error allowed).
    # item2: t=0: 2 errors (> 1); t=2: [1,1,0,1,1] acc 4/5 = 0.8, not > 0.8; t=3: acc 3/4; t=5: [1,1] -> 5.
    # item3: t=0: 7 checkpoints, 1 error (the last), acc 6/7 = 0.86 -> 0.  item4: never right -> -1.
    assert generalization_index(CORRECT).tolist() == [2, 1, 5, 0, -1]


def test_an_item_first_correct_at_t_has_no_t_sharp():
    # item0 right from t=1 on; item1 right only at T (t = 2); item2 never.
    correct = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]])
    assert generalization_index(correct).tolist() == [1, -1, -1]
    assert generalization_index(correct, include_final=True).tolist() == [1, 2, -1]
    # right at T-1 and T is before T: t# = T-1 with or without include_final
    assert generalization_index(np.array([[0], [1], [1]])).tolist() == [1]


def test_generalization_index_thresholds():
    # max_errors=0: item1 needs t=5; item2 t=5; item3 never (wrong at T).
    assert generalization_index(CORRECT, max_errors=0).tolist() == [2, 5, 5, -1, -1]
    # min_accuracy 0.75: item2 qualifies at t=2 (4/5 = 0.8 > 0.75, one error).
    assert generalization_index(CORRECT, min_accuracy=0.75).tolist() == [2, 1, 2, 0, -1]
    # bool input is accepted and agrees.
    assert generalization_index(CORRECT.astype(bool)).tolist() == [2, 1, 5, 0, -1]


def test_accuracy_curve():
    assert accuracy_curve(CORRECT).tolist() == pytest.approx([2 / 5, 2 / 5, 4 / 5, 4 / 5, 2 / 5, 4 / 5, 3 / 5])


def test_groups_is_the_shared_helper():
    assert groups is memorization.groups
    assert {k: v.tolist() for k, v in groups(generalization_index(CORRECT)).items()} == {0: [3], 1: [1], 2: [0], 5: [2]}


@pytest.mark.parametrize(
    "correct, match",
    [
        (np.zeros((0, 2)), r"correct: expected a non-empty \[n_ckpt, n_items\] array, got shape \(0, 2\)"),
        (np.array([1, 0]), r"correct: expected a non-empty \[n_ckpt, n_items\] array, got shape \(2,\)"),
        (np.array([[1, 2]]), "0/1"),
        (np.array([[1.0, np.nan]]), "0/1"),
    ],
)
def test_bad_correct(correct, match):
    with pytest.raises(ValueError, match=match):
        generalization_index(correct)


def test_bad_thresholds():
    with pytest.raises(ValueError, match="min_accuracy"):
        generalization_index(CORRECT, min_accuracy=1.0)
    with pytest.raises(ValueError, match="max_errors"):
        generalization_index(CORRECT, max_errors=-1)
