"""Dense prediction: convolutionalized classifiers, bilinear upconvolutions, FCN/dilated/hypercolumn heads, metrics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.metrics.segmentation import boundary_accuracy, boundary_band, mean_iou, pixel_accuracy
from course_lib.models import LeNet5, SmallCNN
from course_lib.models.vision.segmentation import (
    DilatedSegmenter,
    FCNSegmenter,
    HypercolumnSegmenter,
    bilinear_upsampler,
    convolutionalize,
    hypercolumns,
    linear_to_conv,
)


def test_a_convolutionalized_small_cnn_gives_the_classifier_scores_on_training_size_inputs(device):
    torch.manual_seed(0)
    model = SmallCNN().to(device).eval()  # any weights: the identity is exact, trained or not
    fcn = convolutionalize(model, (28, 28)).eval()
    x = torch.randn(4, 1, 28, 28, device=device)
    scores = fcn(x)
    assert scores.shape == (4, 10, 1, 1)
    torch.testing.assert_close(scores.flatten(1), model(x), atol=1e-5, rtol=1e-4)
    assert fcn(torch.randn(1, 1, 56, 84, device=device)).shape == (1, 10, 5, 8)  # a map: 7 x 10 features, 3 x 3 windows


@pytest.mark.parametrize("variant", ["modern", "classic"])
def test_a_convolutionalized_lenet_slides_the_classifier_with_stride_4(variant):
    torch.manual_seed(0)
    model = LeNet5(variant).eval()
    fcn = convolutionalize(model, (32, 32)).eval()
    x = torch.randn(2, 1, 40, 44)
    maps = fcn(x)  # valid convolutions: window (i, j) is the 32 x 32 crop at (4i, 4j)
    assert maps.shape == (2, 10, 3, 4)
    for i, j in [(0, 0), (2, 3), (1, 2)]:
        torch.testing.assert_close(
            maps[:, :, i, j], model(x[:, :, 4 * i : 4 * i + 32, 4 * j : 4 * j + 32]), atol=1e-5, rtol=1e-4
        )


def test_linear_to_conv_rejects_a_wrong_window():
    with pytest.raises(ValueError, match="cannot read"):
        linear_to_conv(torch.nn.Linear(10, 3), 3, (2, 2))


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_the_bilinear_upconvolution_equals_interpolation_away_from_the_border(factor, device):
    x = torch.randn(2, 3, 6, 7, device=device)
    up = bilinear_upsampler(3, factor).to(device)(x)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape == (2, 3, 6 * factor, 7 * factor)
    m = factor // 2
    torch.testing.assert_close(
        up[..., m : up.shape[-2] - m, m : up.shape[-1] - m], ref[..., m : ref.shape[-2] - m, m : ref.shape[-1] - m]
    )
    assert not torch.allclose(up, ref)  # at the border the upconvolution pads with zeros, interpolation replicates


def test_fcn_heads_have_the_right_shapes_names_and_start_from_zero_skips(device):
    x = torch.randn(2, 1, 64, 64, device=device)
    for skips, name in [(0, "FCN-32s"), (1, "FCN-16s"), (2, "FCN-8s")]:
        net = FCNSegmenter(11, skips, width=4).to(device)
        assert net.name == name and net(x).shape == (2, 11, 64, 64)
        assert all((s.weight == 0).all() for s in net.skip_scores)
        assert not net.final.weight.requires_grad and all(u.weight.requires_grad for u in net.ups)
    with pytest.raises(ValueError, match="multiples of 32"):
        FCNSegmenter(3, 2, width=4)(torch.randn(1, 1, 48, 48))


def test_gradients_reach_the_skip_layers_of_fcn_8s():
    net = FCNSegmenter(3, 2, width=4)
    loss = F.cross_entropy(net(torch.randn(2, 1, 32, 32)), torch.randint(0, 3, (2, 32, 32)))
    grads = torch.autograd.grad(loss, [net.skip_scores[1].weight, net.ups[0].weight])
    assert all(g.abs().sum() > 0 for g in grads)


def test_the_dilated_network_keeps_stride_8_and_dilates_the_later_stages(device):
    net = DilatedSegmenter(5, width=4).to(device)
    x = torch.randn(1, 1, 64, 64, device=device)
    feats = net.backbone(x)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 8, 8] and net.backbone.strides == [2, 4, 8, 8, 8]
    assert [s[0][0].dilation for s in net.backbone.stages] == [(1, 1)] * 4 + [(2, 2)]
    assert net(x).shape == (1, 5, 64, 64)


def test_hypercolumns_concatenate_upsampled_features(device):
    a, b = torch.randn(2, 3, 8, 8, device=device), torch.randn(2, 5, 4, 4, device=device)
    h = hypercolumns([a, b], (8, 8))
    assert h.shape == (2, 8, 8, 8)
    torch.testing.assert_close(h[:, :3], a)
    torch.testing.assert_close(h[:, 3:], F.interpolate(b, size=(8, 8), mode="bilinear", align_corners=False))
    net, last = HypercolumnSegmenter(4, width=4).to(device), HypercolumnSegmenter(4, (-1,), width=4).to(device)
    assert net.classifier.in_channels == 4 + 8 + 16 + 32 and last.classifier.in_channels == 32
    assert net(torch.randn(1, 1, 32, 32, device=device)).shape == (1, 4, 32, 32)


def test_hypercolumn_forward_scores_each_layer_then_upsamples(device):
    torch.manual_seed(0)
    for layers in (None, (-1,), (0, 2)):
        net = HypercolumnSegmenter(3, layers, width=4).to(device).double().eval()
        x = torch.randn(2, 1, 32, 32, device=device, dtype=torch.float64)
        torch.testing.assert_close(net(x), net.reference_forward(x))


def test_mean_iou_against_a_hand_computation():
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 0, 2]]])
    # class 0: I = 3, U = 5; class 1: I = 4, U = 5; class 2: I = 3, U = 4
    expected = [3 / 5, 4 / 5, 3 / 4]
    assert mean_iou(pred, target, 3, per_class=True) == pytest.approx(expected)
    assert mean_iou(pred, target, 3) == pytest.approx(sum(expected) / 3)
    assert pixel_accuracy(pred, target) == pytest.approx(10 / 12)


def test_boundary_band_and_accuracy_on_a_hand_made_mask():
    target = torch.zeros(1, 7, 7, dtype=torch.long)
    target[0, 2:5, 2:5] = 1  # a 3 x 3 square
    band1 = boundary_band(target, 1)
    expected = torch.zeros(7, 7, dtype=torch.bool)
    expected[1:6, 1:6] = True
    expected[3, 3] = False  # the centre's 3 x 3 window is all ones
    assert torch.equal(band1[0], expected)
    assert (
        boundary_band(target, 2)[0].sum() == 49 and not boundary_band(torch.zeros(1, 5, 5, dtype=torch.long), 2).any()
    )
    pred = target.clone()
    pred[0, 2, 2] = 0  # a corner missed (on the band) and a far pixel wrong (off the band)
    pred[0, 6, 6] = 1
    assert boundary_accuracy(pred, target, 1) == pytest.approx(23 / 24)
    with pytest.raises(ValueError, match="k >= 1"):
        boundary_band(target, 0)
