"""Bahdanau et al. 2014's additive attention (models/sequence/seq2seq.py), pinned against its formula.

    e_s = v^T tanh(W q + U k_s + b),   alpha = softmax over the valid positions,   context = sum_s alpha_s k_s.

Students' exercise in 07a is graded against this module, so the module itself is checked by hand here.
"""

from __future__ import annotations

import torch

from course_lib.metrics.text import token_accuracy_counts
from course_lib.models.sequence.seq2seq import AdditiveAttention


def _by_hand(attn: AdditiveAttention, query, keys, mask):
    w, u, b, v = attn.w.weight, attn.u.weight, attn.u.bias, attn.v.weight[0]
    contexts, weights = [], []
    for i in range(len(query)):
        scores = torch.stack([v @ torch.tanh(w @ query[i] + u @ keys[i, s] + b) for s in range(keys.shape[1])])
        scores = torch.where(mask[i], scores, torch.tensor(float("-inf"), dtype=scores.dtype))
        alpha = torch.exp(scores - scores.max()) / torch.exp(scores - scores.max()).sum()
        weights.append(alpha)
        contexts.append((alpha[:, None] * keys[i]).sum(0))
    return torch.stack(contexts), torch.stack(weights)


def test_additive_attention_is_its_formula():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_size=5, key_size=4, attn_size=3).double()
    query, keys = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 6, 4, dtype=torch.float64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False  # a shorter source
    context, weights = attn(query, keys, mask)
    ref_context, ref_weights = _by_hand(attn, query, keys, mask)
    torch.testing.assert_close(weights, ref_weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(context, ref_context, rtol=1e-12, atol=1e-12)
    assert torch.all(weights[1, 4:] == 0) and torch.allclose(weights.sum(1), torch.ones(3, dtype=torch.float64))


def test_additive_attention_gradcheck():
    torch.manual_seed(1)
    attn = AdditiveAttention(3, 2, 4).double()
    query = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, mask), (query, keys))


def test_token_accuracy_ignores_padding():
    logits = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]])  # predicts 1, 0, 0
    targets = torch.tensor([[1, 1, 0]])  # the last token is padding (0)
    right, count = token_accuracy_counts(logits, targets)
    assert (int(right), count) == (2, 3)  # padding counted right: the old behaviour
    right, count = token_accuracy_counts(logits, targets, ignore_index=0)
    assert (int(right), int(count)) == (1, 2)
