"""Output-size formulas vs real torch layers, and the measured receptive field vs known cases and the analytic recursion."""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from torch import nn

from course_lib.models import DeepMLP, layer_gradient_norms
from course_lib.ops import (
    analytic_receptive_field,
    conv_output_size,
    conv_stack,
    empirical_receptive_field,
    lecture_pool_output_size,
    module_receptive_fields,
    pool_output_size,
    receptive_field_growth,
    same_padding,
)


def test_conv_output_size_matches_conv_layers_on_a_grid() -> None:
    checked = 0
    for size, k, s, p, d in itertools.product(range(4, 12), range(1, 6), range(1, 4), range(3), range(1, 4)):
        if size + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="is larger than the padded input"):
                conv_output_size(size, k, s, p, d)
            continue
        out = nn.functional.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        assert out.shape[-1] == conv_output_size(size, k, s, p, d)
        checked += 1
    assert checked > 900
    conv = nn.Conv2d(1, 1, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    assert conv(torch.zeros(1, 1, 13, 17)).shape[-2:] == (
        conv_output_size(13, 3, 2, 1, 1),
        conv_output_size(17, 5, 1, 2, 2),
    )


def test_pool_output_size_matches_pooling_layers_on_a_grid() -> None:
    checked = 0
    for size, k, s, p, d, ceil in itertools.product(
        range(3, 12), range(1, 6), range(1, 4), range(3), range(1, 3), (False, True)
    ):
        if 2 * p > k or size + 2 * p < d * (k - 1) + 1:
            with pytest.raises(
                ValueError,
                match="pooling padding must be at most half" if 2 * p > k else "is larger than the padded input",
            ):
                pool_output_size(size, k, s, p, d, ceil)
            continue
        x = torch.zeros(1, 1, size, size)
        n = pool_output_size(size, k, s, p, d, ceil)
        assert nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)(x).shape[-1] == n
        if d == 1:
            assert nn.AvgPool2d(k, s, p, ceil_mode=ceil)(x).shape[-1] == n
        checked += 1
    assert checked > 500
    assert pool_output_size(8, 2) == 4  # stride defaults to the kernel size


def test_lecture_pooling_example_and_same_padding() -> None:
    """The lecture's overlapping pooling: 5x5 windows, stride 2, on an 8x8 map -> 4x4 = floor((8 - 1) / 2) + 1."""
    assert lecture_pool_output_size(8, 2) == 4
    assert pool_output_size(8, 5, 2) == 2  # PyTorch without padding: only 2 windows fit
    assert pool_output_size(8, 5, 2, padding=2) == 4  # with the "same" padding of 2 it is the lecture's 4
    assert nn.MaxPool2d(5, 2, padding=2)(torch.zeros(1, 1, 8, 8)).shape[-2:] == (4, 4)
    for size, k, s in itertools.product(range(1, 20), (1, 3, 5, 7), (1, 2, 3)):
        if size + k - 1 >= k:
            assert conv_output_size(size, k, s, padding=(k - 1) // 2) == lecture_pool_output_size(size, s)
    for k, d in itertools.product((1, 3, 5), (1, 2, 4)):
        assert conv_output_size(17, k, 1, same_padding(k, d), d) == 17  # zero padding keeps the size
    with pytest.raises(ValueError, match="no symmetric 'same' padding"):
        same_padding(4)


def test_bad_sizes_raise() -> None:
    need = "need size, kernel_size, stride, dilation >= 1 and padding >= 0"
    for args, msg in [
        ((0, 3), need),
        ((5, 0), need),
        ((5, 3, 0), need),
        ((5, 3, 1, -1), need),
        ((5, 3, 1, 0, 0), need),
        ((2, 3), "is larger than the padded input"),
    ]:
        with pytest.raises(ValueError, match=msg):
            conv_output_size(*args)
    with pytest.raises(ValueError, match="pooling padding must be at most half the kernel size"):
        pool_output_size(8, 3, 1, padding=2)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_stack_of_3x3_convs_has_field_2n_plus_1(n: int, device) -> None:
    model = conv_stack([1] * n, channels=2).to(device)
    rf = empirical_receptive_field(model, (1, 2, 41, 41))
    assert rf.size == (2 * n + 1, 2 * n + 1)
    assert analytic_receptive_field([(3, 1, 1)] * n)[-1] == 2 * n + 1


def test_dilations_1_2_4_8_give_31(device) -> None:
    dilated, plain = conv_stack([1, 2, 4, 8]).to(device), conv_stack([1, 1, 1, 1]).to(device)
    assert empirical_receptive_field(dilated, (1, 1, 64, 64)).size == (31, 31)
    assert empirical_receptive_field(plain, (1, 1, 64, 64)).size == (9, 9)
    assert sum(p.numel() for p in dilated.parameters()) == sum(p.numel() for p in plain.parameters())
    assert receptive_field_growth(4) == [3, 7, 15, 31] and receptive_field_growth(4, dilated=False) == [3, 5, 7, 9]
    grad = empirical_receptive_field(dilated, (1, 1, 64, 64)).grad
    assert int((grad > 0).sum()) == 31 * 31  # the field of 1, 2, 4, 8 has no holes


def test_pooling_and_strides(device) -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 3, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 3, 5, stride=2),
    ).to(device)
    rf = empirical_receptive_field(model, (1, 1, 96, 96))
    expected = analytic_receptive_field([(3, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1), (5, 2, 1)])[-1]
    assert expected == 3 + 1 + 4 + 2 + 16
    assert rf.size == (expected, expected)
    assert isinstance(model[2], nn.MaxPool2d)  # the model itself is not modified


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_stacks_match_the_recursion(seed: int) -> None:
    rng = random.Random(seed)
    layers, spec = [], []
    for _ in range(rng.randint(2, 4)):
        k, s, d = rng.choice([1, 2, 3, 5]), rng.choice([1, 2]), rng.choice([1, 2])
        layers += [nn.Conv2d(1, 1, k, stride=s, dilation=d), nn.ReLU()]
        spec.append((k, s, d))
    r = analytic_receptive_field(spec)[-1]
    rf = empirical_receptive_field(nn.Sequential(*layers), (1, 1, 3 * r + 8, 3 * r + 8), unit=(1, 1))
    assert rf.size == (r, r)


def test_effective_field_is_inside_the_theoretical_one() -> None:
    torch.manual_seed(0)
    model = conv_stack([1, 1, 1], channels=4, bias=True)
    eff = empirical_receptive_field(model, (1, 4, 21, 21), linearize=False)
    assert eff.size[0] <= 7 and eff.size[1] <= 7
    with pytest.raises(ValueError, match=r"input_shape must be \(1, C, H, W\)"):
        empirical_receptive_field(model, (2, 4, 21, 21))
    with pytest.raises(ValueError, match="is outside the output map"):
        empirical_receptive_field(model, (1, 4, 21, 21), unit=(30, 0))


def test_deep_mlp_shapes_and_gradient_norms(device) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(16, 1, 28, 28, device=device), torch.randint(0, 10, (16,), device=device)
    for act in ("sigmoid", "tanh", "relu", "leaky_relu", "elu"):
        for residual in (False, True):
            model = DeepMLP(width=16, depth=7, activation=act, residual=residual).to(device)
            assert model(x).shape == (16, 10)
            norms = layer_gradient_norms(model, x, y)
            assert norms.shape == (8,) and torch.isfinite(norms).all()
            assert all(p.grad is None for p in model.parameters())
    sig = layer_gradient_norms(DeepMLP(width=32, depth=10, activation="sigmoid").to(device), x, y)
    assert sig[0] < 1e-3 * sig[-2]  # sigmoid: the gradient vanishes towards the input
    with pytest.raises(ValueError, match="activation must be one of"):
        DeepMLP(activation="swish")


class _TwoPaths(nn.Module):
    """A 3x3 path and a 7x7 path, concatenated, batch-normalized, then summed: the field is 7x7 through the second."""

    def __init__(self) -> None:
        super().__init__()
        self.small, self.large = nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 7, padding=3)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(torch.cat([self.small(x), self.large(x)], 1))).sum(1, keepdim=True)


def test_linearized_field_is_not_cut_by_batchnorm_running_stats() -> None:
    net = _TwoPaths()
    with torch.no_grad():  # statistics a trained net can have: the 7x7 channel vanishes in eval mode
        net.bn.running_var[1] = float("inf")
    assert empirical_receptive_field(net, (1, 1, 31, 31)).size == (7, 7)
    with torch.no_grad():  # a large running mean pushes the channel below the ReLU: the path is cut as well
        net.bn.running_var.fill_(1.0)
        net.bn.running_mean[1] = 10.0
    assert empirical_receptive_field(net, (1, 1, 31, 31)).size == (7, 7)
    assert net.bn.running_mean[1] == 10.0 and isinstance(net.bn, nn.BatchNorm2d)  # the model itself is untouched
    # the same net without the BatchNorm: the same field, pixel for pixel
    plain = _TwoPaths()
    plain.bn = nn.Identity()
    torch.testing.assert_close(
        empirical_receptive_field(net, (1, 1, 31, 31)).grad, empirical_receptive_field(plain, (1, 1, 31, 31)).grad
    )


def test_lenet_sparse_c3_is_linearized_too() -> None:
    from course_lib.models import LeNet5

    rf = empirical_receptive_field(LeNet5("classic").features[:6], (1, 1, 32, 32))  # C1 S2 C3 -> 5 + 1 + 8
    assert rf.size == (14, 14)


def test_empirical_receptive_field_runs_where_asked(monkeypatch, device) -> None:
    model = conv_stack([1, 2], channels=2)  # on the CPU
    moved = []
    to = nn.Module.to

    def spy(self, *args, **kwargs):
        moved.append(torch.device(args[0] if args else kwargs["device"]))
        return to(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", spy)
    for linearize in (True, False):
        rf = empirical_receptive_field(model, (1, 2, 21, 21), linearize=linearize, device=device)
        assert rf.size == (7, 7) if linearize else rf.size[0] <= 7
    assert moved[0] == device  # the linearized copy is moved to the device
    assert (len(moved) == 2) == (device.type != "cpu")  # the model is copied only when it is elsewhere
    assert all(p.device.type == "cpu" for p in model.parameters())  # the model itself is not moved


def test_module_receptive_fields_of_alexnet_match_the_paper_and_the_gradient() -> None:
    from course_lib.models import HALF, SMALL, AlexNet

    rf = module_receptive_fields(AlexNet())
    # AlexNet: conv1 11 px, pool1 19, conv2 51, pool2 67, conv3 99, conv4 131, conv5 163, pool5 195 (stride 4, 3x3/2 pools)
    assert [rf[f"features.{n}"] for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")] == [
        11,
        19,
        51,
        67,
        99,
        131,
        163,
        195,
    ]
    assert module_receptive_fields(AlexNet(remove=("conv3", "conv4")))["features.conv5"] == 99
    # the scaled specs keep AlexNet's receptive fields in proportion to their inputs (conv5: 163/227 = 72%)
    for spec in (SMALL, HALF):
        full = module_receptive_fields(AlexNet(spec, 10, 1, lrn=False))["features.conv5"]
        cut = module_receptive_fields(AlexNet(spec, 10, 1, lrn=False, remove=("conv3", "conv4")))["features.conv5"]
        assert abs(full / spec.input_size - 163 / 227) < 0.02 and abs(cut / spec.input_size - 99 / 227) < 0.02
    # the analytic value is the measured one (the gradient's support from a centre unit of a linear stack)
    net = nn.Sequential(nn.Conv2d(1, 1, 3, 1), nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 5, 1, dilation=2))
    assert empirical_receptive_field(net, (1, 1, 41, 41)).size == (module_receptive_fields(net)["2"],) * 2
    with pytest.raises(ValueError, match="not square"):
        module_receptive_fields(nn.Conv2d(1, 1, (3, 5)))
