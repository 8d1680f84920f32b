"""The course's RNN and LSTM cells against torch's nn.RNN / nn.LSTM (float64, outputs and gradients), BPTT norms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.layers import (
    LSTM,
    RNN,
    LSTMCell,
    RNNCell,
    count_rnn_parameters,
    hidden_gradient_norms,
    load_torch_weights,
    lstm_cell,
)


def _pair(kind: str, d: int, h: int, device, nonlinearity: str = "tanh"):
    torch.manual_seed(0)
    if kind == "rnn":
        ref = nn.RNN(d, h, batch_first=True, nonlinearity=nonlinearity)
        ours = RNN(d, h, nonlinearity=nonlinearity)
    else:
        ref = nn.LSTM(d, h, batch_first=True)
        ours = LSTM(d, h)
    ref, ours = ref.double().to(device), ours.double().to(device)
    load_torch_weights(ours, ref)
    return ours, ref


@pytest.mark.parametrize("kind,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh")])
def test_unrolled_cell_matches_torch_outputs_and_gradients(kind, nonlinearity, device):
    ours, ref = _pair(kind, 3, 5, device, nonlinearity)
    x = torch.randn(4, 7, 3, dtype=torch.float64, device=device)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out1, s1 = ours(x1)
    out2, s2 = ref(x2)
    torch.testing.assert_close(out1, out2)
    for a, b in zip(s1 if kind == "lstm" else (s1,), s2 if kind == "lstm" else (s2,)):
        torch.testing.assert_close(a, b)
    w = torch.randn_like(out1)
    (out1 * w).sum().backward()
    (out2 * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    grads = dict(ref.named_parameters())
    for name, p in ours.cell.named_parameters():
        torch.testing.assert_close(p.grad, grads[name + "_l0"].grad, msg=name)


def test_initial_state_is_used(device):
    ours, ref = _pair("lstm", 2, 4, device)
    x = torch.randn(3, 5, 2, dtype=torch.float64, device=device)
    h0, c0 = (torch.randn(1, 3, 4, dtype=torch.float64, device=device) for _ in range(2))
    torch.testing.assert_close(ours(x, (h0, c0))[0], ref(x, (h0, c0))[0])
    ours_r, ref_r = _pair("rnn", 2, 4, device)
    torch.testing.assert_close(ours_r(x, h0)[0], ref_r(x, h0)[0])


def test_cells_match_torch_cells_and_gradcheck():
    torch.manual_seed(1)
    ref = nn.LSTMCell(3, 4).double()
    ours = LSTMCell(3, 4).double()
    load_torch_weights(ours, ref)
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    for a, b in zip(ours(x, (h, c)), ref(x, (h, c))):
        torch.testing.assert_close(a, b)
    ref_r, ours_r = nn.RNNCell(3, 4).double(), RNNCell(3, 4).double()
    load_torch_weights(ours_r, ref_r)
    torch.testing.assert_close(ours_r(x, h), ref_r(x, h))
    args = [t.clone().requires_grad_() for t in (x, h, c, ours.weight_ih, ours.weight_hh)]
    assert torch.autograd.gradcheck(lambda *a: lstm_cell(*a, ours.bias_ih, ours.bias_hh), args)


def test_lstm_cell_equations_by_hand():
    """With every weight zero and biases chosen, the gates are constants: c = f c0 + i g, h = o tanh(c)."""
    cell = LSTMCell(1, 1).double()
    with torch.no_grad():
        for p in (cell.weight_ih, cell.weight_hh, cell.bias_hh):
            p.zero_()
        cell.bias_ih.copy_(torch.tensor([0.0, 100.0, 0.5, -100.0], dtype=torch.float64))  # i=1/2, f=1, g, o=0
    h, c = cell(torch.zeros(1, 1, dtype=torch.float64), (torch.zeros(1, 1, dtype=torch.float64),) * 2)
    h2, c2 = cell(torch.zeros(1, 1, dtype=torch.float64), (h, c))
    g = torch.tanh(torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(c2.squeeze(), g)  # c accumulates i*g over two steps with f = 1
    assert float(h2.detach().abs()) < 1e-20  # the output gate is closed


def test_parameter_count_matches_torch():
    for gates, mod in [(1, nn.RNN(7, 11)), (4, nn.LSTM(7, 11)), (3, nn.GRU(7, 11))]:
        assert count_rnn_parameters(7, 11, gates) == sum(p.numel() for p in mod.parameters())
    assert count_rnn_parameters(7, 11) == sum(p.numel() for p in RNN(7, 11).parameters())
    assert count_rnn_parameters(7, 11, 4) == sum(p.numel() for p in LSTM(7, 11).parameters())


def test_hidden_gradient_norms_are_the_jacobian_product():
    """dL/dh_k equals the product of the step Jacobians dh_t/dh_{t-1} applied to the readout (brute force)."""
    torch.manual_seed(2)
    cell = RNNCell(2, 3).double()
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    readout = torch.randn(3, dtype=torch.float64)
    norms = hidden_gradient_norms(cell, x, readout)
    hs = [torch.zeros(1, 3, dtype=torch.float64)]
    for t in range(6):
        hs.append(cell(x[:, t], hs[-1]).detach())
    g = readout.clone()
    expected = [g.norm()]
    for t in range(5, 0, -1):  # back through time: dL/dh_{t-1} = J_t^T dL/dh_t
        jac = torch.autograd.functional.jacobian(lambda h, t=t: cell(x[:, t], h), hs[t])[0, :, 0]  # (H, H)
        g = jac.T @ g
        expected.append(g.norm())
    torch.testing.assert_close(norms, torch.stack(expected[::-1]))


def test_gradient_norms_vanish_and_explode_with_the_recurrent_scale():
    torch.manual_seed(3)
    cell = RNNCell(4, 64).double()
    x = 0.1 * torch.randn(8, 40, 4, dtype=torch.float64)
    ratios = {}
    for scale in (0.5, 3.0):
        with torch.no_grad():
            cell.weight_hh.copy_(scale * torch.linalg.qr(torch.randn(64, 64, dtype=torch.float64))[0])
            cell.bias_hh.zero_()
            cell.bias_ih.zero_()
        n = hidden_gradient_norms(cell, x)
        ratios[scale] = float(n[0] / n[-1])
    assert ratios[0.5] < 1e-6 and ratios[3.0] > 1e3, ratios


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"\(B, T, 2\)"):
        RNN(2, 3)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="shapes differ"):
        load_torch_weights(LSTM(2, 3), nn.LSTM(2, 4))
