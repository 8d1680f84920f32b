"""Karpathy & Fei-Fei's visual-semantic alignment (course_lib.models.multimodal.alignment), pinned against loops over
the paper's formulas (sec. 3.1, eq. 8 and 9)."""

from __future__ import annotations

import pytest
import torch

from course_lib.data.vocab import PAD
from course_lib.models.multimodal import AlignmentModel, alignment_ranking_loss, alignment_scores
from course_lib.models.sequence import ConvEncoder


def _scores_loop(regions, words, mask):
    k_img, m_sent = len(regions), len(words)
    out = torch.zeros(k_img, m_sent, dtype=regions.dtype)
    for k in range(k_img):
        for j in range(m_sent):
            for t in range(words.shape[1]):
                if mask[j, t]:
                    out[k, j] += max(float(regions[k, i] @ words[j, t]) for i in range(regions.shape[1]))
    return out


def _loss_loop(s, margin, same):
    total = 0.0
    for k in range(len(s)):
        for j in range(len(s)):
            if j == k or (same is not None and same[k, j]):
                continue
            total += max(0.0, float(s[k, j] - s[k, k] + margin)) + max(0.0, float(s[j, k] - s[k, k] + margin))
    return total / len(s)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_eq8_loop(seed):
    g = torch.Generator().manual_seed(seed)
    regions = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    words = torch.randn(4, 6, 4, generator=g, dtype=torch.float64)
    mask = torch.rand(4, 6, generator=g) > 0.3
    got = alignment_scores(regions, words.transpose(0, 1).contiguous().transpose(0, 1), mask)  # non-contiguous
    assert torch.allclose(got, _scores_loop(regions, words, mask))
    assert torch.allclose(alignment_scores(regions, words), _scores_loop(regions, words, torch.ones(4, 6, dtype=bool)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_loss_matches_eq9_loop(seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(5, 5, generator=g, dtype=torch.float64)
    same = torch.zeros(5, 5, dtype=torch.bool)
    same[1, 3] = same[3, 1] = True
    assert torch.isclose(alignment_ranking_loss(s), torch.tensor(_loss_loop(s, 1.0, None), dtype=torch.float64))
    assert torch.isclose(
        alignment_ranking_loss(s, 0.5, same), torch.tensor(_loss_loop(s, 0.5, same), dtype=torch.float64)
    )
    s_good = torch.eye(5, dtype=torch.float64) * 10  # every true pair beats the others by more than the margin
    assert alignment_ranking_loss(s_good) == 0


def test_gradcheck_and_bad_input():
    g = torch.Generator().manual_seed(0)
    regions = torch.randn(2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    words = torch.randn(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, w: alignment_ranking_loss(alignment_scores(r, w)), (regions, words))
    with pytest.raises(ValueError):
        alignment_scores(torch.zeros(2, 3, 4), torch.zeros(2, 5, 3))
    with pytest.raises(ValueError):
        alignment_ranking_loss(torch.zeros(2, 3))


def test_model_shapes_padding_and_training_step():
    torch.manual_seed(0)
    model = AlignmentModel(20, ConvEncoder(1), dim=16)
    images, captions = torch.rand(4, 1, 48, 48), torch.randint(3, 20, (4, 7))
    captions[0, 4:] = PAD
    s = model(images, captions)
    assert s.shape == (4, 4) and model.regions(images).shape == (4, 36, 16)
    words = model.words(captions)
    assert torch.all(words[0, 4:] == 0)
    longer = torch.cat([captions, torch.full((4, 3), PAD)], 1)  # padding changes nothing
    assert torch.allclose(model(images, longer), s, atol=1e-5)
    alignment_ranking_loss(s).backward()
    assert model.region.weight.grad is not None and model.rnn.weight_hh_l0_reverse.grad is not None
