"""Activations vs torch.nn.functional (values, gradients, float64 gradcheck) and inverted dropout vs nn.Dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.layers.activations import (
    ACTIVATIONS,
    ELU,
    PReLU,
    ReLU,
    RReLU,
    elu,
    leaky_relu,
    make_activation,
    prelu,
    relu,
    rrelu,
)
from course_lib.layers.dropout import Dropout, all_masks, dropout, geometric_mean_softmax, mask_probabilities


def _x(seed: int, device, dtype=torch.float32, shape=(4, 3, 5, 6)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * 3
    return x.to(device)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_leaky_elu_match_torch(seed: int, device) -> None:
    x = _x(seed, device)
    x_nc = x.transpose(2, 3)  # non-contiguous
    for inp in (x, x_nc):
        torch.testing.assert_close(relu(inp), F.relu(inp))
        for slope in (0.01, 0.2):
            torch.testing.assert_close(leaky_relu(inp, slope), F.leaky_relu(inp, slope))
        for alpha in (1.0, 0.5, 2.0):
            torch.testing.assert_close(elu(inp, alpha), F.elu(inp, alpha))
    assert isinstance(ReLU()(x), torch.Tensor) and ELU(0.5).alpha == 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_torch(seed: int, device) -> None:
    x = _x(seed, device, torch.float64)
    w = torch.rand(3, dtype=torch.float64, device=device)
    for ours, ref in [
        (relu, F.relu),
        (lambda t: leaky_relu(t, 0.1), lambda t: F.leaky_relu(t, 0.1)),
        (lambda t: elu(t, 1.5), lambda t: F.elu(t, 1.5)),
        (lambda t: prelu(t, w), lambda t: F.prelu(t, w)),
        (lambda t: rrelu(t, 0.1, 0.3, training=False), lambda t: F.rrelu(t, 0.1, 0.3, training=False)),
    ]:
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        ours(a).pow(2).sum().backward()
        ref(b).pow(2).sum().backward()
        torch.testing.assert_close(a.grad, b.grad)


def test_gradcheck_float64(device) -> None:
    x = _x(5, device, torch.float64, (2, 3, 4)).requires_grad_(True)
    x = torch.where(x.abs() < 1e-3, x + 0.1, x).detach().requires_grad_(True)  # stay off the kink at 0
    w = torch.rand(3, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: leaky_relu(t, 0.07), (x,))
    assert torch.autograd.gradcheck(lambda t: elu(t, 1.3), (x,))
    assert torch.autograd.gradcheck(prelu, (x, w))
    assert torch.autograd.gradcheck(lambda t: rrelu(t, 0.1, 0.4, training=False), (x,))


@pytest.mark.parametrize("seed", [0, 1])
def test_prelu_per_channel_matches_torch(seed: int, device) -> None:
    x = _x(seed, device)
    ours, ref = PReLU(3).to(device), nn.PReLU(3).to(device)
    with torch.no_grad():
        w = torch.rand(3, generator=torch.Generator().manual_seed(seed)).to(device)
        ours.weight.copy_(w)
        ref.weight.copy_(w)
    torch.testing.assert_close(ours(x), ref(x))
    ours(x).sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)  # the learned slopes get the same gradient
    shared = torch.tensor([0.3], device=device)
    torch.testing.assert_close(prelu(x, shared), F.prelu(x, shared))
    with pytest.raises(ValueError, match="has no matching dim 1"):
        prelu(x, torch.rand(4, device=device))


def test_rrelu_eval_is_leaky_with_mean_slope(device) -> None:
    x = _x(0, device)
    lower, upper = 0.1, 0.3
    torch.testing.assert_close(rrelu(x, lower, upper, training=False), F.rrelu(x, lower, upper, training=False))
    torch.testing.assert_close(rrelu(x, lower, upper, training=False), F.leaky_relu(x, (lower + upper) / 2))
    m = RReLU(lower, upper).eval()
    torch.testing.assert_close(m(x), nn.RReLU(lower, upper).eval()(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rrelu_train_slopes_are_random_in_range(seed: int, device) -> None:
    torch.manual_seed(seed + 100)  # not the seed of x: the slopes must not be drawn from the same stream as x
    x = _x(seed, device, shape=(64, 3, 16, 16))
    lower, upper = 0.1, 0.3
    for out in (rrelu(x, lower, upper, training=True), F.rrelu(x, lower, upper, training=True)):
        neg = x < 0
        torch.testing.assert_close(out[~neg], x[~neg])  # positive side untouched
        slopes = out[neg] / x[neg]
        assert slopes.min() >= lower - 1e-6 and slopes.max() <= upper + 1e-6
        assert abs(slopes.mean().item() - (lower + upper) / 2) < 0.005  # uniform: mean in the middle
        assert abs(slopes.std().item() - (upper - lower) / 12**0.5) < 0.005  # and the uniform's spread
        assert slopes.unique().numel() > 1000  # one slope per element, not one per call
    a = x.clone().requires_grad_(True)
    g = torch.Generator(device=device).manual_seed(seed + 200)
    out = rrelu(a, lower, upper, training=True, generator=g)
    out.sum().backward()
    torch.testing.assert_close(a.grad[x < 0], (out / x)[x < 0])  # the gradient is the drawn slope
    assert RReLU().train()(x).ne(RReLU().eval()(x)).any()


def test_bad_activation_arguments() -> None:
    with pytest.raises(ValueError, match="need 0 <= lower <= upper"):
        rrelu(torch.zeros(2), 0.5, 0.1)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        ELU(-1.0)
    with pytest.raises(ValueError, match="num_parameters must be >= 1"):
        PReLU(0)


def test_one_activation_registry_used_by_every_model(device) -> None:
    from course_lib.models import MLP, DeepMLP, SmallCNN

    references = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": F.leaky_relu,
        "prelu": lambda t: F.prelu(t, torch.tensor([0.25], device=device)),
        "rrelu": lambda t: F.rrelu(t),
        "elu": F.elu,
        "gelu": F.gelu,
    }
    assert set(ACTIVATIONS) == set(references)
    x = _x(0, device)
    for name, reference in references.items():
        act = make_activation(name).to(device).eval()
        assert isinstance(act, ACTIVATIONS[name]) and act is not make_activation(name)  # a new module each time
        torch.testing.assert_close(act(x), reference(x))  # the name means the function torch gives that name
        for model in (
            SmallCNN(name, channels=(2, 2, 2)),
            DeepMLP(width=4, depth=2, activation=name),
            MLP(hidden=(4,), activation=name),
        ):
            kinds = {type(m) for m in model.modules()} - {type(model)}
            assert ACTIVATIONS[name] in kinds, (name, type(model).__name__)
            assert not kinds & (set(ACTIVATIONS.values()) - {ACTIVATIONS[name]})  # and no other activation
    for build in (
        lambda: make_activation("swish"),
        lambda: SmallCNN("swish"),
        lambda: DeepMLP(activation="swish"),
        lambda: MLP(activation="swish"),
    ):
        with pytest.raises(ValueError, match="activation must be one of"):
            build()


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics_match_nn_dropout(p: float, device) -> None:
    torch.manual_seed(0)
    x = torch.rand(200_000, device=device) + 0.5
    ours, ref = dropout(x, p, training=True), nn.Dropout(p).train()(x)
    for out in (ours, ref):
        assert abs((out == 0).float().mean().item() - p) < 0.005  # share of zeros
        assert abs(out.mean().item() - x.mean().item()) < 0.01 * x.mean().item() / (1 - p) ** 0.5  # mean preserved
        kept = out != 0
        torch.testing.assert_close(out[kept], x[kept] / (1 - p))  # kept units are scaled by 1/(1-p)
    m = Dropout(p).eval()
    assert torch.equal(m(x), x) and torch.equal(nn.Dropout(p).eval()(x), x)  # identity at test time


def test_dropout_edge_cases_and_gradient(device) -> None:
    x = torch.randn(1000, device=device, requires_grad=True)
    assert torch.equal(dropout(x, 0.0), x)
    assert dropout(x, 1.0).abs().sum() == 0
    g = torch.Generator(device=device).manual_seed(0)
    out = dropout(x, 0.5, generator=g)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out != 0).float() * 2.0)  # gradient flows through kept units only
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\]"):
        dropout(x, 1.5)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\]"):
        Dropout(-0.1)


def test_halving_weights_is_the_geometric_mean_for_one_hidden_layer(device) -> None:
    """Hinton et al. 2012: for one dropped-out hidden layer feeding a softmax, weight scaling = normalized geometric mean."""
    g = torch.Generator().manual_seed(0)
    n, k, b = 10, 4, 7
    h = torch.randn(b, n, generator=g, dtype=torch.float64).relu().to(device)
    w = torch.randn(k, n, generator=g, dtype=torch.float64).to(device)
    c = torch.randn(k, generator=g, dtype=torch.float64).to(device)
    masks = all_masks(n, device=device, dtype=torch.float64)  # (1024, n)
    assert masks.shape == (2**n, n) and masks.sum().item() == n * 2 ** (n - 1)
    logits = (masks[:, None, :] * h[None]) @ w.T + c  # (M, B, K)
    torch.testing.assert_close(geometric_mean_softmax(logits), torch.softmax((0.5 * h) @ w.T + c, -1))
    p = 0.3  # any drop rate: weights times (1 - p), with the masks weighted by their probability
    probs = mask_probabilities(masks, p)
    assert probs.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(geometric_mean_softmax(logits, probs), torch.softmax(((1 - p) * h) @ w.T + c, -1))
    arithmetic = torch.softmax(logits, -1).mean(0)
    assert not torch.allclose(arithmetic, geometric_mean_softmax(logits))  # the arithmetic mean is another thing
