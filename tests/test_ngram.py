"""The Witten-Bell character n-gram (course_lib/models/sequence/ngram.py) against its recursion written with
dictionaries, one history at a time; every conditional sums to one."""

import math
from collections import Counter

import numpy as np
import pytest
import torch

from course_lib.models.sequence import CharNGram


def reference_prob(train, order, vocab, history, c):
    """Witten-Bell's recursion, counted by hand (Chen & Goodman 1999, section 2.4)."""
    p = 1.0 / vocab
    for k in range(order):
        h = tuple(history[len(history) - k :]) if k else ()
        grams = Counter(tuple(train[t - k : t + 1]) for t in range(k, len(train)))
        c_h = sum(n for g, n in grams.items() if g[:-1] == h)
        if c_h == 0:
            continue
        n1 = sum(1 for g in grams if g[:-1] == h)
        p = (grams.get((*h, c), 0) + n1 * p) / (c_h + n1)
    return p


@pytest.mark.parametrize("order", [1, 2, 3])
def test_matches_the_recursion_by_hand(order):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 4, 60).tolist() + [0, 1, 2, 3] * 5
    test = rng.integers(0, 5, 30).tolist()  # symbol 4 never occurs in training
    lm = CharNGram(order, 5).count(torch.tensor(train))
    got = lm.log2_prob(torch.tensor(test))
    want = [math.log2(reference_prob(train, order, 5, test[t - order + 1 : t], test[t])) for t in range(order - 1, 30)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert lm.bits_per_character(test) == pytest.approx(-np.mean(want))


def test_every_conditional_sums_to_one():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 6, 500)
    lm = CharNGram(3, 6).count(train)
    for history in ([0, 1], [5, 5], [2, 3]):
        probs = [2 ** lm.log2_prob(np.array([*history, c]))[0] for c in range(6)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-12)


def test_longer_histories_fit_a_repetitive_text_better():
    text = np.array([0, 1, 2, 3, 2, 1] * 50)
    bits = [CharNGram(n, 4).count(text).bits_per_character(text) for n in (1, 2, 3)]
    assert bits[0] > bits[1] > bits[2]


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: CharNGram(0, 5), "order >= 1"),
        (lambda: CharNGram(2, 5).bits_per_character([0, 1]), "count a training text first"),
        (lambda: CharNGram(2, 5).count([0, 7]), r"ids in \[0, 5\)"),
        (lambda: CharNGram(3, 5).count([0, 1, 2, 3]).log2_prob([1, 2]), "at least order=3"),
        (lambda: CharNGram(20, 65), "overflows"),
    ],
)
def test_bad_input_is_refused(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
