"""Bad input gets a ValueError naming the expected and the received shapes (it used to broadcast or fail elsewhere)."""

from __future__ import annotations

import pytest
import torch

from course_lib.layers.fusion import mutan_core, tucker_product
from course_lib.metrics.segmentation import pixel_accuracy
from course_lib.metrics.tracking import success_curve
from course_lib.models.generative.vae import gaussian_kl, reparameterize
from course_lib.models.vision.siamese import contrastive_loss


def test_contrastive_loss_refuses_a_column_target():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    assert contrastive_loss(a, b, torch.ones(4)).dim() == 0
    with pytest.raises(ValueError, match=r"same \(B,\), got \(4, 3\), \(4, 3\), \(4, 1\)"):
        contrastive_loss(a, b, torch.ones(4, 1))  # broadcast to (4, 4) before


def test_gaussian_terms_refuse_mismatched_shapes():
    mu = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"one shape \(B, D\), got \(2, 3\), \(1, 3\)"):
        gaussian_kl(mu, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"one shape \(B, D\), got \(2, 3\), \(3,\)"):
        reparameterize(mu, torch.zeros(3))


def test_success_curve_needs_clips_of_frames():
    with pytest.raises(ValueError, match=r"Tensor\[N, T\].*got shape \(5,\)"):
        success_curve(torch.rand(5))
    with pytest.raises(ValueError, match="no frame to score in clips of 1 frame"):
        success_curve(torch.rand(3, 1))


def test_pixel_accuracy_refuses_an_all_ignored_target():
    target = torch.full((2, 4, 4), 255)
    with pytest.raises(ValueError, match="every pixel is ignored"):
        pixel_accuracy(torch.zeros(2, 4, 4, dtype=torch.long), target, ignore_index=255)


def test_tucker_products_check_their_shapes():
    m, n = torch.randn(2, 3, 5), torch.randn(2, 4, 5)
    assert mutan_core(m, n).shape == (3, 4, 5)
    with pytest.raises(ValueError, match=r"N \(R, t_v, t_o\), got \(2, 3, 5\), \(3, 4, 5\)"):
        mutan_core(m, torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match=r"core \(t_q, t_v, t_o\), got \(2, 3\), \(2, 4\), \(4, 3, 5\)"):
        tucker_product(torch.randn(2, 3), torch.randn(2, 4), torch.randn(4, 3, 5))
