"""A character language model: embedding -> recurrent core -> linear output over the vocabulary; sampling.

INRIA, *Recurrent networks* (Karpathy's char-rnn): train to predict the next character, then generate by
sampling one character at a time from ``softmax(logits / temperature)`` and feeding it back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers.recurrent import LSTM, RNN
from ...utils import eval_mode

CELLS = ("rnn", "lstm", "gru", "course_rnn", "course_lstm")


def make_recurrent(cell: str, input_size: int, hidden_size: int) -> nn.Module:
    """A one-layer, batch-first recurrent layer: torch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``"rnn"``, ``"lstm"``,
    ``"gru"``, fast kernels) or the course's cells (``"course_rnn"``, ``"course_lstm"``, the lesson, slower)."""
    if cell == "rnn":
        return nn.RNN(input_size, hidden_size, batch_first=True)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, batch_first=True)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, batch_first=True)
    if cell == "course_rnn":
        return RNN(input_size, hidden_size)
    if cell == "course_lstm":
        return LSTM(input_size, hidden_size)
    raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


class CharLM(nn.Module):
    """``forward(x Tensor[B, T] ids) -> logits Tensor[B, T, V]`` (and the final state with ``return_state``).

    Args:
        vocab_size: characters ``V``.
        hidden_size: units of the recurrent core.
        cell: see :func:`make_recurrent`.
        embed_dim: embedding size (default: ``min(64, V)``).
        forget_bias: for ``cell="lstm"``, the forget gate's initial bias (Jozefowicz et al. 2015 recommend 1: the
            cell keeps its memory at the start of training); default: torch's initialization.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 128,
        cell: str = "lstm",
        embed_dim: int | None = None,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if vocab_size < 2 or hidden_size < 1:
            raise ValueError(f"need vocab_size >= 2 and hidden_size >= 1, got {vocab_size}, {hidden_size}")
        embed_dim = embed_dim or min(64, vocab_size)
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = make_recurrent(cell, embed_dim, hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)
        if forget_bias is not None:
            if cell != "lstm":
                raise ValueError(f"forget_bias is for cell='lstm' (torch's nn.LSTM), got cell={cell!r}")
            with torch.no_grad():  # gates i, f, g, o: the forget gate's total bias starts at forget_bias
                self.rnn.bias_ih_l0[hidden_size : 2 * hidden_size].fill_(forget_bias)
                self.rnn.bias_hh_l0[hidden_size : 2 * hidden_size].zero_()

    def forward(self, x: Tensor, state=None, return_state: bool = False):
        if x.dim() != 2:
            raise ValueError(f"expected ids (B, T), got shape {tuple(x.shape)}")
        out, state = self.rnn(self.embed(x), state)  # (B, T, H)
        logits = self.head(out)  # (B, T, V)
        return (logits, state) if return_state else logits

    @torch.no_grad()
    def sample(
        self, prompt: Tensor, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` characters generated after ``prompt`` (ids ``Tensor[P]``), each drawn from
        ``softmax(logits / temperature)`` (``temperature=0``: the argmax); returns ``Tensor[n]`` ids.
        ``generator``: a CPU generator for the draws (reproducible samples)."""
        if prompt.dim() != 1 or len(prompt) == 0:
            raise ValueError(f"prompt must be a non-empty 1-d tensor of ids, got shape {tuple(prompt.shape)}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        out = []
        with eval_mode(self):  # the modes come back even if a step raises
            logits, state = self(prompt[None], return_state=True)
            for _ in range(n):
                last = logits[0, -1].float().cpu()
                if temperature == 0:
                    nxt = last.argmax()
                else:
                    nxt = torch.multinomial(torch.softmax(last / temperature, -1), 1, generator=generator)[0]
                out.append(int(nxt))
                logits, state = self(nxt.view(1, 1).to(prompt.device), state, return_state=True)
        return torch.tensor(out, dtype=torch.long)


class WindowMLP(nn.Module):
    """A feed-forward predictor with a fixed window: step ``t`` sees only the last ``window`` tokens.

    ``forward(x Tensor[B, T] ids) -> logits Tensor[B, T, V]``: the embeddings of ``x[t - window + 1 .. t]`` (zeros
    before the start) concatenated, then an MLP (UvA DL, *RNNs*: without memory, a net sees a fixed context; its
    parameters grow with the window, a recurrent net's do not).
    """

    def __init__(self, vocab_size: int, window: int, hidden_size: int = 64, embed_dim: int | None = None) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        embed_dim = embed_dim or min(64, vocab_size)
        self.window = window
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(window * embed_dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, vocab_size)
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise ValueError(f"expected ids (B, T), got shape {tuple(x.shape)}")
        e = F.pad(self.embed(x), (0, 0, self.window - 1, 0))  # (B, T + w - 1, E), zeros before the start
        ctx = e.unfold(1, self.window, 1)  # (B, T, E, w)
        return self.mlp(ctx.transpose(2, 3).flatten(2))  # (B, T, V)


class TruncatedBPTT(nn.Module):
    """Truncated backpropagation through time: a sequence model whose final state is carried to the next batch.

    ``forward(x Tensor[B, T]) -> outputs`` calls ``model(x, state, return_state=True)`` with the state left by the
    previous call, detached (gradients stop at the window's start, the context does not), and keeps the new one.
    Feed it consecutive windows of the same ``B`` streams (:func:`course_lib.data.char_streams` read in order), and
    call :meth:`reset` before a new text (e.g. before evaluating on the validation streams). A batch of another size
    starts from a zero state.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.state = None

    def reset(self) -> None:
        self.state = None

    def fresh_text(self, loader):
        """``loader`` read as a text of its own: the state is reset before the first window and after the last.

        Pass it as ``fit``'s ``val``: the validation streams start from a zero state, and the next training epoch
        does not carry the state the validation text left behind.
        """
        return _FreshText(self, loader)

    def forward(self, x: Tensor) -> Tensor:
        state = self.state
        if state is not None and _batch_of(state) != x.shape[0]:
            state = None
        out, state = self.model(x, state, return_state=True)
        self.state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        return out


class _FreshText:
    """A loader that resets a :class:`TruncatedBPTT` model before and after each pass (its ``x``, ``y`` and length are
    the wrapped loader's, so that checkpoint keys describe the data)."""

    def __init__(self, model: TruncatedBPTT, loader) -> None:
        self.model, self.loader = model, loader
        self.x, self.y = getattr(loader, "x", None), getattr(loader, "y", None)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        self.model.reset()
        try:
            yield from self.loader
        finally:
            self.model.reset()


def _batch_of(state) -> int:
    first = state[0] if isinstance(state, tuple) else state
    return first.shape[-2]  # (layers, B, H) for torch's modules
