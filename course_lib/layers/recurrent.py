"""Recurrent cells written from the lecture's equations: a vanilla (Elman) RNN cell, an LSTM cell, their unrolling.

UvA DL, *Recurrent neural networks*: the same parameters at every step, :math:`h_t = \\tanh(W_{ih} x_t + W_{hh}
h_{t-1} + b)`; the LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)::

    i_t = sigmoid(W_ii x_t + W_hi h_{t-1} + b_i)      input gate
    f_t = sigmoid(W_if x_t + W_hf h_{t-1} + b_f)      forget gate
    g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)         candidate
    o_t = sigmoid(W_io x_t + W_ho h_{t-1} + b_o)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t                   cell update
    h_t = o_t * tanh(c_t)

The weights are stacked in PyTorch's order (``i, f, g, o``) and named as in ``nn.RNNCell`` / ``nn.LSTMCell``, so
``load_torch_weights`` copies an ``nn.RNN`` / ``nn.LSTM`` layer into them (tests/test_recurrent.py pins both against
torch, outputs and gradients). GRUs come from ``torch.nn``. :func:`hidden_gradient_norms` measures BPTT's
:math:`\\|\\partial L / \\partial h_k\\|` along a sequence (RCP209, BPTT; Pascanu et al. 2013).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One step of a vanilla RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Args:
        x: inputs ``Tensor[B, D]``; h: previous hidden state ``Tensor[B, H]``.
        weight_ih: ``Tensor[H, D]``; weight_hh: ``Tensor[H, H]``; biases ``Tensor[H]`` (optional).
        nonlinearity: ``"tanh"`` or ``"relu"`` (as ``nn.RNN``).

    Returns:
        The new hidden state ``Tensor[B, H]``.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}")
    pre = x @ weight_ih.T + h @ weight_hh.T  # (B, H)
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return NONLINEARITIES[nonlinearity](pre)


def lstm_cell(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step (the module docstring's equations): ``(h_t, c_t)`` from ``x_t``, ``h_{t-1}``, ``c_{t-1}``.

    Args:
        x: ``Tensor[B, D]``; h, c: ``Tensor[B, H]``.
        weight_ih: ``Tensor[4H, D]``, weight_hh: ``Tensor[4H, H]``, biases ``Tensor[4H]``: the gates stacked as
            ``i, f, g, o`` (PyTorch's order).

    Returns:
        ``(h_t, c_t)``, each ``Tensor[B, H]``.
    """
    if weight_ih.shape[0] != 4 * h.shape[-1]:
        raise ValueError(f"weight_ih must have 4 * hidden = {4 * h.shape[-1]} rows, got {weight_ih.shape[0]}")
    gates = x @ weight_ih.T + h @ weight_hh.T  # (B, 4H)
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # the cell update: an additive path through time
    h = o * torch.tanh(c)
    return h, c


class _Cell(nn.Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        n = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(n, input_size))
        self.weight_hh = nn.Parameter(torch.empty(n, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(n)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(n)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialization: every weight uniform in ``[-1/sqrt(H), 1/sqrt(H)]``."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """A vanilla RNN cell (:func:`rnn_cell`), parameters as ``nn.RNNCell``: ``(x Tensor[B, D], h Tensor[B, H]) -> h``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)


class LSTMCell(_Cell):
    """An LSTM cell (:func:`lstm_cell`), parameters as ``nn.LSTMCell``: ``(x, (h, c)) -> (h, c)``."""

    gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return lstm_cell(x, *state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class Recurrent(nn.Module):
    """A cell unrolled over time with shared parameters; a drop-in for a one-layer ``nn.RNN``/``nn.LSTM``
    with ``batch_first=True``.

    ``forward(x Tensor[B, T, D], state=None)`` -> ``(outputs Tensor[B, T, H], state)`` where ``state`` is
    ``h Tensor[1, B, H]`` (RNN) or ``(h, c)`` (LSTM), as torch's modules return it; ``None`` starts from zeros.
    """

    def __init__(self, cell: RNNCell | LSTMCell) -> None:
        super().__init__()
        self.cell = cell
        self.is_lstm = isinstance(cell, LSTMCell)

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    def forward(self, x: Tensor, state: Tensor | tuple[Tensor, Tensor] | None = None):
        if x.dim() != 3 or x.shape[-1] != self.cell.input_size:
            raise ValueError(f"expected (B, T, {self.cell.input_size}), got shape {tuple(x.shape)}")
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        if self.is_lstm:
            h, c = (zeros, zeros) if state is None else (state[0][0], state[1][0])
        else:
            h = zeros if state is None else state[0]
        outputs = []
        for t in range(x.shape[1]):  # the unrolled graph: one step per time step, the same cell each time
            if self.is_lstm:
                h, c = self.cell(x[:, t], (h, c))
            else:
                h = self.cell(x[:, t], h)
            outputs.append(h)
        out = torch.stack(outputs, 1)  # (B, T, H)
        return (out, (h[None], c[None])) if self.is_lstm else (out, h[None])


def RNN(input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> Recurrent:
    """The course's vanilla RNN layer (batch first), as a one-layer ``nn.RNN(..., batch_first=True)``."""
    return Recurrent(RNNCell(input_size, hidden_size, bias, nonlinearity))


def LSTM(input_size: int, hidden_size: int, bias: bool = True) -> Recurrent:
    """The course's LSTM layer (batch first), as a one-layer ``nn.LSTM(..., batch_first=True)``."""
    return Recurrent(LSTMCell(input_size, hidden_size, bias))


@torch.no_grad()
def load_torch_weights(ours: Recurrent | RNNCell | LSTMCell, theirs: nn.Module) -> None:
    """Copy the first layer of an ``nn.RNN``/``nn.LSTM`` (or an ``nn.RNNCell``/``nn.LSTMCell``) into ours."""
    cell = ours.cell if isinstance(ours, Recurrent) else ours
    suffix = "_l0" if isinstance(theirs, nn.RNNBase) else ""
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        mine, src = getattr(cell, name), getattr(theirs, name + suffix, None)
        if (mine is None) != (src is None):
            raise ValueError(f"{name}: one module has it and the other does not (bias=False on one side?)")
        if mine is not None:
            if mine.shape != src.shape:
                raise ValueError(f"{name}: shapes differ, ours {tuple(mine.shape)} and theirs {tuple(src.shape)}")
            mine.copy_(src)


def count_rnn_parameters(input_size: int, hidden_size: int, gates: int = 1, bias: bool = True) -> int:
    """Parameters of one recurrent layer, whatever the sequence length: ``gates * H * (D + H + 2)`` with biases
    (``gates``: 1 vanilla RNN, 3 GRU, 4 LSTM; torch keeps two bias vectors per gate)."""
    return gates * hidden_size * (input_size + hidden_size + (2 if bias else 0))


def hidden_gradient_norms(cell: RNNCell, x: Tensor, readout: Tensor | None = None) -> Tensor:
    """BPTT's ``||dL/dh_k||`` for every step ``k`` of a vanilla RNN, with the loss on the last state only.

    ``L = <readout, h_T>`` (a fixed direction; default ones / sqrt(H)), so ``dL/dh_k = (prod_{t>k} dh_t/dh_{t-1})^T
    readout``: the recursive product of the lecture, which shrinks or grows geometrically with ``k`` depending on
    the recurrent weights (Pascanu et al. 2013).

    Args:
        cell: the recurrent cell (its weights are used as they are).
        x: inputs ``Tensor[B, T, D]``.
        readout: ``Tensor[H]``.

    Returns:
        ``Tensor[T]``: the norm at each step, averaged over the batch (step ``T - 1`` is the last state).
    """
    if x.dim() != 3:
        raise ValueError(f"expected (B, T, D), got shape {tuple(x.shape)}")
    h = x.new_zeros(x.shape[0], cell.hidden_size)
    states = []
    for t in range(x.shape[1]):
        h = cell(x[:, t], h)
        states.append(h)
    if readout is None:
        readout = x.new_ones(cell.hidden_size) / math.sqrt(cell.hidden_size)
    grads = torch.autograd.grad((h @ readout).sum(), states)  # dL/dh_k for every k, one backward pass
    return torch.stack([g.norm(dim=-1).mean() for g in grads])
