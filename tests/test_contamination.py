import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from tiny_models import tiny_olmoe
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from grokmon.workflow.contamination import drop_top_fraction, min_k_plus_plus


def _word_tokenizer(words):
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>")


class Bigram(torch.nn.Module):
    """next-token logits depend only on the current token: logits[b, t] = table[x_t]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table, dtype=torch.float32)

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(logits=self.table[input_ids])


def _binary_logits(p_a):
    # tokens a, b with p(a) = p_a; <unk> (id 2) has probability 0
    return [math.log(p_a), math.log(1 - p_a), -1e4]


@pytest.fixture
def bigram():
    # after "a": p(a) = 0.8, p(b) = 0.2; after "b": p(a) = 0.3, p(b) = 0.7
    table = [_binary_logits(0.8), _binary_logits(0.3), _binary_logits(0.5)]
    return Bigram(table), _word_tokenizer(["a", "b", "<unk>"])


def test_hand_values_on_a_bigram(bigram):
    # two-outcome distribution, observed token of probability q: score = sign(q - 1/2) * sqrt((1 - q) / q)
    model, tok = bigram
    s_a_after_a, s_b_after_a = math.sqrt(0.2 / 0.8), -math.sqrt(0.8 / 0.2)  # 0.5, -2
    s_a_after_b, s_b_after_b = -math.sqrt(0.7 / 0.3), math.sqrt(0.3 / 0.7)
    texts = ["a a a a a", "a b b a", "b b b"]
    got = min_k_plus_plus(model, tok, texts, k=1.0, batch_size=2)
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(
        got, [s_a_after_a, (s_b_after_a + s_b_after_b + s_a_after_b) / 3, s_b_after_b], rtol=1e-5
    )
    # k = 0.5 over 3 scored tokens keeps int(1.5) = 1, the lowest; k = 0.2 over 4 keeps max(1, int(0.8)) = 1
    np.testing.assert_allclose(min_k_plus_plus(model, tok, texts, k=0.5), [0.5, -2.0, s_b_after_b], rtol=1e-5)
    np.testing.assert_allclose(min_k_plus_plus(model, tok, texts[:1], k=0.2), [0.5], rtol=1e-5)
    with pytest.raises(ValueError, match="texts \\[0\\]"):
        min_k_plus_plus(model, tok, ["a"], k=0.2)
    with pytest.raises(ValueError, match="k must"):
        min_k_plus_plus(model, tok, texts, k=0.0)


WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "dog", "ran", "to", "a", "red", "ball", "park", "in", "big"]
SEEN = "the cat sat on the mat in the park"
UNSEEN = ["a dog ran to a red ball", "big red dog sat on a ball", "the ball ran in a big park"]


def _numpy_scores(logits, ids, k):
    """Min-K%++ recomputed in float64 numpy with the one-pass formula sigma^2 = E[log p^2] - mu^2."""
    lp = logits[:-1] - logsumexp(logits[:-1], axis=-1, keepdims=True)
    p = np.exp(lp)
    mu = (p * lp).sum(-1)
    sigma = np.sqrt((p * lp**2).sum(-1) - mu**2)
    s = (lp[np.arange(len(ids) - 1), ids[1:]] - mu) / sigma
    return np.sort(s)[: max(1, int(k * s.size))].mean()


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tok = _word_tokenizer(WORDS)
    return tiny_olmoe(tok, seed=0, num_hidden_layers=1), tok


def test_matches_numpy_recomputation_and_is_batch_invariant(model_and_tokenizer):
    model, tok = model_and_tokenizer
    texts = [SEEN, *UNSEEN, "the cat"]  # different lengths: right padding must not leak
    expected = []
    for t in texts:
        ids = tok(t)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0].double().numpy()
        expected.append(_numpy_scores(logits, np.array(ids), k=0.3))
    for batch_size in (1, 2, 8):
        np.testing.assert_allclose(
            min_k_plus_plus(model, tok, texts, k=0.3, batch_size=batch_size), expected, rtol=1e-4, atol=1e-5
        )
    # truncation: max_length 3 scores only the first two predictions
    trunc = min_k_plus_plus(model, tok, [SEEN], k=1.0, max_length=3)
    np.testing.assert_allclose(trunc, min_k_plus_plus(model, tok, ["the cat sat"], k=1.0), rtol=1e-6)


def test_a_trained_text_scores_above_unseen_ones(model_and_tokenizer):
    _, tok = model_and_tokenizer
    model = tiny_olmoe(tok, seed=1, num_hidden_layers=1)
    before = min_k_plus_plus(model.eval(), tok, [SEEN, *UNSEEN], k=0.2)
    ids = torch.tensor([tok(SEEN)["input_ids"]])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        opt.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
    after = min_k_plus_plus(model.eval(), tok, [SEEN, *UNSEEN], k=0.2)
    assert after[0] > after[1:].max() and after[0] > before[0]
    assert drop_top_fraction(after, 0.25).tolist() == [False, True, True, True]


def test_drop_top_fraction():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.3])
    assert drop_top_fraction(scores, 0.4).tolist() == [True, False, True, False, True]
    assert drop_top_fraction(scores, 0.2).tolist() == [True, False, True, True, True]  # tie: earlier dropped
    assert drop_top_fraction(scores, 0.0).all()
    ten = np.arange(10.0)
    assert drop_top_fraction(ten).tolist() == [True] * 9 + [False]  # the paper's 10%
    assert drop_top_fraction(np.arange(100.0), 0.29).sum() == 71  # 0.29 * 100 = 28.999... still drops 29
    with pytest.raises(ValueError, match="NaN"):
        drop_top_fraction(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="fraction"):
        drop_top_fraction(scores, 1.0)
