"""Captioners (Show and Tell, Show Attend and Tell): shapes, teacher forcing against step-by-step decoding, attention
weights, the doubly stochastic penalty against its formula, the BLEU wrapper."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.text import BLEUScore

from course_lib.data.vocab import PAD
from course_lib.metrics.text import corpus_bleu, sentence_bleu, sequence_cross_entropy
from course_lib.models.sequence import ShowAndTell, ShowAttendTell, attention_penalty, captioning_loss

V, T = 12, 6


def _model(cls):
    torch.manual_seed(0)
    return cls(V, hidden_size=16, embed_dim=8, feature_dim=12).double().eval()


@pytest.mark.parametrize("cls", [ShowAndTell, ShowAttendTell])
def test_teacher_forcing_agrees_with_step_by_step_decoding(cls):
    model = _model(cls)
    images = torch.rand(3, 1, 24, 24, dtype=torch.float64)
    ids, alphas = model.greedy_decode(images, T)
    assert ids.shape == (3, T)
    logits = model(images, ids)  # feeding the greedy words back as the "true" previous words
    assert logits.shape == (3, T, V)
    assert torch.equal(logits.argmax(-1), ids)
    if cls is ShowAttendTell:
        assert alphas.shape == (3, T, 9)  # a 3x3 grid for 24x24 images
        torch.testing.assert_close(model.alphas, alphas)


def test_attention_weights_sum_to_one_and_gradients_flow():
    model = _model(ShowAttendTell).train()
    images = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    caps = torch.randint(3, V, (2, T))
    caps[1, 4:] = PAD
    logits = model(images, caps)
    torch.testing.assert_close(model.alphas.sum(-1), torch.ones(2, T, dtype=torch.float64))
    assert (model.alphas >= 0).all()
    loss = captioning_loss(model, penalty=0.5)(logits, caps)
    expected = sequence_cross_entropy(logits, caps, ignore_index=PAD) + 0.5 * attention_penalty(
        model.alphas, caps != PAD
    )
    torch.testing.assert_close(loss, expected)
    grads = torch.autograd.grad(loss, [model.encoder.net[0].weight, model.attn.v.weight])
    assert all(g.abs().sum() > 0 for g in grads)


def test_penalty_against_its_formula():
    torch.manual_seed(1)
    alphas = torch.rand(3, 4, 5, dtype=torch.float64).softmax(-1)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    naive = 0.0
    for b in range(3):
        for i in range(5):
            naive += (1 - sum(alphas[b, t, i] for t in range(4) if mask[b, t])) ** 2
    torch.testing.assert_close(attention_penalty(alphas, mask), naive / 3)
    uniform = torch.full((1, 5, 5), 0.2, dtype=torch.float64)  # T = L steps, each spread evenly: zero penalty
    assert float(attention_penalty(uniform)) == pytest.approx(0.0)


def test_penalty_is_ignored_without_attention():
    model = _model(ShowAndTell)
    caps = torch.randint(3, V, (2, T))
    logits = model(torch.rand(2, 1, 24, 24, dtype=torch.float64), caps)
    torch.testing.assert_close(
        captioning_loss(model)(logits, caps), sequence_cross_entropy(logits, caps, ignore_index=PAD)
    )


def test_bleu_is_torchmetrics():
    hyp = ["a 3 left of a 7", "a 5 above a 2", "a 1"]
    refs = [["a 3 left of a 7", "a 7 right of a 3"], ["a 5 above a 1", "a 1 below a 5"], ["a 1", "one digit : a 1"]]
    assert corpus_bleu(hyp, refs) == pytest.approx(float(BLEUScore()(hyp, refs)))
    assert corpus_bleu(hyp[:1], refs[:1]) == pytest.approx(1.0)
    assert corpus_bleu(hyp, refs, n_gram=1) > corpus_bleu(hyp, refs)
    assert len(sentence_bleu(hyp, refs)) == 3
    with pytest.raises(ValueError, match="as many"):
        corpus_bleu(hyp, refs[:2])
