import pytest
import torch

from course_lib.models import MLP, LeNet5, LogisticRegression
from course_lib.models.classic.lenet import C3_TABLE, SparseConv2d
from course_lib.utils import count_parameters
from course_lib.viz import summary


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


# LeCun et al. 1998, Table I, as printed: row = S2 map, column = C3 map, X = the C3 map takes that S2 map as input
PAPER_TABLE_I = (
    "X   XXX  XXXX XX",
    "XX   XXX  XXXX X",
    "XXX   XXX  X XXX",
    " XXX  XXXX  X XX",
    "  XXX  XXXX XX X",
    "   XXX  XXXX XXX",
)


def _connectivity(conv) -> torch.Tensor:
    """Which input maps reach each output map, measured: the input gradient of each output map's sum (16, 6)."""
    x = torch.randn(1, 6, 7, 7, dtype=torch.double, requires_grad=True)
    out = conv(x)
    grads = [torch.autograd.grad(out[0, o].sum(), x, retain_graph=True)[0][0] for o in range(out.shape[1])]
    rows = [g.abs().sum((1, 2)) > 0 for g in grads]
    return torch.stack(rows)


def test_sparse_conv_follows_the_papers_table_and_stays_sparse_after_training():
    torch.manual_seed(0)
    table = torch.tensor([[c == "X" for c in row] for row in PAPER_TABLE_I]).T  # (16 C3 maps, 6 S2 maps)
    assert int(table.sum()) == 60 and table.sum(1).tolist() == [3] * 6 + [4] * 9 + [6]
    conv = SparseConv2d(6, C3_TABLE).double()
    assert torch.equal(_connectivity(conv), table)
    assert sum(p.numel() for p in conv.parameters()) == 60 * 25 + 16 == 1516  # the paper's count for C3
    opt = torch.optim.SGD(conv.parameters(), lr=0.5)
    for _ in range(3):  # training steps move every trainable weight, never create a connection
        opt.zero_grad()
        conv(torch.randn(4, 6, 9, 9, dtype=torch.double)).square().mean().backward()
        opt.step()
    assert torch.equal(_connectivity(conv), table)
    assert torch.autograd.gradcheck(conv, (torch.randn(1, 6, 6, 6, dtype=torch.double, requires_grad=True),))


def test_summary_runs_a_copy_on_the_requested_device():
    model = LeNet5("modern")
    s = summary(model, (1, 1, 32, 32), device="meta")  # shapes and multiply-adds need no values
    assert s["features.C1"].output_shape == (6, 28, 28) and s["features.C1"].mult_adds == 6 * 28 * 28 * 25
    assert s.total_params == 61_706 and str(s) == str(summary(model, (1, 1, 32, 32)))
    assert all(p.device.type == "cpu" for p in model.parameters())  # the model itself is not moved


def test_summary_counts_mult_adds_with_flop_counter():
    s = summary(LeNet5("modern"), (1, 1, 32, 32))
    assert s["features.C1"].mult_adds == 6 * 28 * 28 * 25
    assert s["classifier.F6"].mult_adds == 120 * 84
    assert "total" in str(s)
    with pytest.raises(KeyError):
        s["nope"]
