import pytest
import torch

from course_lib.models import MLP, LeNet5, LogisticRegression, count_parameters
from course_lib.models.classic.lenet import C3_TABLE, SparseConv2d
from course_lib.tools import summary


def test_logistic_regression_has_7850_parameters():
    m = LogisticRegression()
    assert count_parameters(m) == 784 * 10 + 10 == 7850
    assert m(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_mlp_shapes_and_bad_arguments():
    m = MLP(784, (32, 16), 10, activation="tanh", dropout=0.1)
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert count_parameters(m) == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="swish")
    with pytest.raises(ValueError, match="dropout"):
        MLP(dropout=1.0)


@pytest.mark.parametrize(("variant", "expected"), [("classic", 60_850), ("modern", 61_706)])
def test_lenet5_parameter_counts(variant, expected):
    m = LeNet5(variant)
    assert count_parameters(m) == expected
    s = summary(m, (1, 1, 28, 28))
    assert s.total_params == expected


def test_lenet5_classic_layers_match_the_paper():
    s = summary(LeNet5("classic"), (1, 1, 32, 32))
    expected = {  # LeCun et al. 1998, section II.B
        "features.C1": ((6, 28, 28), 156),
        "features.S2": ((6, 14, 14), 12),
        "features.C3": ((16, 10, 10), 1516),
        "features.S4": ((16, 5, 5), 32),
        "features.C5": ((120, 1, 1), 48120),
        "classifier.F6": ((84,), 10164),
    }
    for name, (shape, params) in expected.items():
        assert s[name].output_shape == shape and s[name].params == params, name
    assert sum(p for _, p in expected.values()) == 60_000


def test_lenet5_pads_28_to_32_and_rejects_other_sizes(device):
    m = LeNet5().to(device)
    assert m(torch.zeros(2, 1, 28, 28, device=device)).shape == (2, 10)
    assert m(torch.zeros(2, 1, 32, 32, device=device)).shape == (2, 10)
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        m(torch.zeros(2, 1, 30, 30, device=device))
    with pytest.raises(ValueError, match="variant"):
        LeNet5("ancient")


def test_sparse_conv_equals_masked_dense_conv_and_gradients_stay_sparse():
    torch.manual_seed(0)
    conv = SparseConv2d(6, C3_TABLE).double()
    w = conv.dense_weight()
    mask = torch.zeros(16, 6, dtype=torch.bool)
    for o, inputs in enumerate(C3_TABLE):
        mask[o, list(inputs)] = True
    assert int(mask.sum()) == 60
    assert bool((w[~mask] == 0).all()) and bool((w[mask] != 0).all())
    x = torch.randn(2, 6, 14, 14, dtype=torch.double)
    ref = torch.nn.functional.conv2d(x, w, conv.bias)
    assert torch.allclose(conv(x), ref)
    assert torch.autograd.gradcheck(lambda inp: conv(inp), (x[:1, :, :6, :6].requires_grad_(),))


def test_summary_counts_mult_adds_with_flop_counter():
    s = summary(LeNet5("modern"), (1, 1, 32, 32))
    assert s["features.C1"].mult_adds == 6 * 28 * 28 * 25
    assert s["classifier.F6"].mult_adds == 120 * 84
    assert "total" in str(s)
    with pytest.raises(KeyError):
        s["nope"]
