import numpy as np
import pytest

from grokmon.metrics.matching import group_similarity, load_embedder, match_groups, match_table

# Greedy takes (0,0)=0.9 then (1,1)=0.1, (2,2)=0.5 -> 1.5; the optimum (0,1)+(1,0)+(2,2) = 0.8+0.85+0.5 = 2.15.
S = np.array([[0.9, 0.8, 0.0], [0.85, 0.1, 0.0], [0.0, 0.0, 0.5]])


def test_group_similarity_mean_pairwise_cosine():
    train = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])]
    test = [np.array([[1.0, 0.0]]), np.array([[0.0, 2.0], [3.0, 0.0]]), np.array([[-1.0, 0.0]])]
    # (g0,h0): cos 1, 0 -> 0.5.  (g0,h1): 0, 1, 1, 0 -> 0.5 (h1 is not unit-norm: cosine, not dot).
    # (g0,h2): -1, 0 -> -0.5.  (g1,h0): 1.  (g1,h1): 0, 1 -> 0.5.  (g1,h2): -1.
    assert group_similarity(train, test).tolist() == [
        pytest.approx([0.5, 0.5, -0.5]),
        pytest.approx([1.0, 0.5, -1.0]),
    ]


def test_group_similarity_bad_input():
    with pytest.raises(ValueError, match="train_groups"):
        group_similarity([], [np.ones((1, 2))])
    with pytest.raises(ValueError, match=r"test_groups\[0\]"):
        group_similarity([np.ones((1, 2))], [np.zeros((0, 2))])
    with pytest.raises(ValueError, match="dimension"):
        group_similarity([np.ones((1, 2))], [np.ones((1, 3))])


def test_match_groups_beats_greedy():
    assert match_groups(S) == [(0, 1), (1, 0), (2, 2)]
    # rectangular 2x3: (0,2)+(1,1) = 0.8+0.95 = 1.75 beats every other assignment.
    assert match_groups(np.array([[0.1, 0.9, 0.8], [0.2, 0.95, 0.1]])) == [(0, 2), (1, 1)]
    with pytest.raises(ValueError, match="similarity"):
        match_groups(np.array([[np.nan]]))


def test_match_table():
    table = match_table([5000, 125000, 245000], [125000, 490000, 615000], S)
    assert list(table.columns) == ["train_step", "test_step", "similarity", "delay"]
    assert table["train_step"].tolist() == [5000, 125000, 245000]
    assert table["test_step"].tolist() == [490000, 125000, 615000]
    assert table["similarity"].tolist() == [0.8, 0.85, 0.5]
    assert table["delay"].tolist() == [485000, 0, 370000]
    with pytest.raises(ValueError, match="similarity shape"):
        match_table([1, 2], [3, 4, 5], S)


def test_embedder_offline_minilm():
    embed = load_embedder()
    e = embed(["A man is playing a guitar.", "Someone plays the guitar.", "Interest rates rose sharply today."])
    assert e.dtype == np.float32 and e.shape == (3, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3
    with pytest.raises(ValueError, match="texts"):
        embed("not a list")


def test_embedder_reads_max_seq_length_word_pieces():
    head = "the quick brown fox jumps over the lazy dog " * 2
    texts = [head + "and then the stock market crashed.", head + "while a cat slept in the warm sun."]
    short = load_embedder(max_seq_length=8)(texts)  # [CLS] + 6 word-pieces + [SEP]: the tails are cut
    np.testing.assert_allclose(short[0], short[1], atol=1e-6)
    full = load_embedder()(texts)  # 256 word-pieces: the whole texts
    assert full[0] @ full[1] < 0.99
    with pytest.raises(ValueError, match="matching.max_seq_length"):
        load_embedder(max_seq_length=513)
