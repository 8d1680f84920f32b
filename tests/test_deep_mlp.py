"""DeepMLP's residual block is He et al. (2016)'s basic block: h <- relu(h + W2 relu(W1 h + b1) + b2)."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.models import DeepMLP, layer_gradient_norms


def test_residual_block_is_he_et_al_basic_block(device) -> None:
    torch.manual_seed(0)
    model = DeepMLP(in_features=6, width=5, depth=5, num_classes=3, residual=True).to(device)
    x = torch.randn(4, 6, device=device)
    L = model.linears
    h = F.relu(L[0](x))
    for k in (1, 3):  # two blocks of two layers each, identity shortcut, relu after the addition
        h = F.relu(h + L[k + 1](F.relu(L[k](h))))
    torch.testing.assert_close(model(x), L[5](h))
    plain = DeepMLP(in_features=6, width=5, depth=5, num_classes=3).to(device)
    g = x
    for lin in plain.linears[:-1]:
        g = F.relu(lin(g))
    torch.testing.assert_close(plain(x), plain.linears[-1](g))


def test_residual_branch_can_be_negative_and_scaled(device) -> None:
    torch.manual_seed(1)
    model = DeepMLP(in_features=6, width=5, depth=3, num_classes=3, residual=True, branch_scale=0.5).to(device)
    x = torch.randn(8, 6, device=device)
    L = model.linears
    h = F.relu(L[0](x))
    f = L[2](F.relu(L[1](h)))
    assert (f < 0).any()  # the branch is a linear output, not a rectified one: it can lower h
    torch.testing.assert_close(model(x), L[3](F.relu(h + 0.5 * f)))


def test_zero_init_residual_blocks_start_as_identity(device) -> None:
    torch.manual_seed(2)
    model = DeepMLP(width=16, depth=9, residual=True, zero_init_residual=True).to(device)
    x = torch.randn(4, 1, 28, 28, device=device)
    h = F.relu(model.linears[0](x.flatten(1)))
    torch.testing.assert_close(model(x), model.linears[-1](h))  # every block is the identity at init
    assert all(float(model.linears[k].weight.abs().sum()) == 0 for k in (2, 4, 6, 8))
    assert float(model.linears[1].weight.abs().sum()) > 0
    y = torch.randint(0, 10, (4,), device=device)
    assert torch.isfinite(layer_gradient_norms(model, x, y)).all()


def test_residual_needs_whole_blocks() -> None:
    with pytest.raises(ValueError, match="odd depth"):
        DeepMLP(depth=6, residual=True)
    DeepMLP(depth=6)  # a plain net of any depth


def test_signal_gradient_norms_match_autograd_and_explode_with_scaled_weights():
    from course_lib.models import signal_gradient_norms

    torch.manual_seed(0)
    x, y = torch.randn(16, 784), torch.randint(0, 10, (16,))
    model = DeepMLP(width=16, depth=6, activation="relu", init="auto")
    # reference: the hidden outputs computed by hand, the gradient by autograd
    h, outs = x, []
    for lin, act in zip(model.linears[:-1], model.acts):
        h = act(lin(h))
        outs.append(h)
    ref = torch.stack([g.norm() for g in torch.autograd.grad(F.cross_entropy(model.linears[-1](h), y), outs)])
    torch.testing.assert_close(signal_gradient_norms(model, x, y), ref)
    with torch.no_grad():
        for lin in model.linears:
            lin.weight.mul_(2.0)
            lin.bias.zero_()
    s = signal_gradient_norms(model, x, y)
    assert float(s[0] / s[-1]) > 2.0**3  # each ReLU layer's Jacobian doubles the back-propagated signal
