"""Bad input gets a ValueError naming the expected and the received shapes (it used to broadcast or fail elsewhere)."""

from __future__ import annotations

import pytest
import torch

from course_lib.layers.fusion import mutan_core, tucker_product
from course_lib.metrics.segmentation import pixel_accuracy
from course_lib.metrics.tracking import success_curve
from course_lib.models.generative.vae import gaussian_kl, reparameterize
from course_lib.ops.losses import contrastive_loss


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


def test_bag_of_words_encode_names_the_expected_image_shape():
    from course_lib.methods import BagOfVisualWords

    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 14, 14, generator=g)
    bow = BagOfVisualWords(n_words=4, patch_size=5, stride=3, n_fit_patches=500, min_patch_energy=0.0).fit(x)
    assert bow.encode(x).shape == (8, 4, 4)
    with pytest.raises(ValueError, match=r"expected images \(N, 1, H, W\) with H, W >= 5 .*got shape \(8, 14, 14\)"):
        bow.encode(x[:, 0])  # no channel dimension: it used to fail unpacking the shape
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\).*1x5x5 patches\), got shape \(8, 3, 14, 14\)"):
        bow.encode(x.expand(-1, 3, -1, -1))  # RGB images for a greyscale dictionary
    with pytest.raises(ValueError, match=r"H, W >= 5 .*got shape \(8, 1, 4, 14\)"):
        bow.encode(x[:, :, :4])


def test_extract_features_names_the_shapes_of_a_tuple_output():
    from torch import nn

    from course_lib.engine import extract_features

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(3, 4, batch_first=True)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    model, x = Tagger(), torch.randn(5, 6, 3)
    assert extract_features(model, x, "head")["head"].shape == (5, 2)
    with pytest.raises(
        ValueError,
        match=r"'rnn' returns a tuple \(Tensor\(5, 6, 4\), \(Tensor\(1, 5, 4\), Tensor\(1, 5, 4\)\)\), expected one tensor",
    ):
        extract_features(model, x, ["head", "rnn"])
    assert model.training, "the hooks are removed and the mode restored after the error"
    assert not model.rnn._forward_hooks and not model.head._forward_hooks
