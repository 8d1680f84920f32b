"""Image captioning: Show and Tell (Vinyals et al. 2015) and Show, Attend and Tell (Xu et al. 2015).

RCP209, *Open questions* (captioning: one to many) and INRIA (natural-language image description). A CNN encodes the
image; an LSTM decodes the caption one word at a time, trained with teacher forcing (the true previous word is fed)
and decoded greedily (its own most likely word is fed back).

- :class:`ShowAndTell`: the CNN's globally pooled feature, one vector ``W_e CNN(I)``, is the LSTM's first input
  (``x_{-1}``, then the words ``x_t = W_e S_t``), or is fed with every word; the image is seen as one vector.
- :class:`ShowAttendTell`: the CNN's grid of ``L`` annotation vectors ``a_i`` is kept; at each step soft attention
  ``alpha_t = softmax_i(f_att(a_i, h_{t-1}))`` (additive, Bahdanau's score) gives the context ``z_t = beta_t sum_i
  alpha_ti a_i`` with a gate ``beta_t = sigmoid(f_beta(h_{t-1}))``; the LSTM reads ``[E y_{t-1}; z_t]`` and the word is
  predicted from ``[h_t; z_t; E y_{t-1}]``. The initial state comes from the mean annotation. Training adds the
  *doubly stochastic* penalty ``lambda sum_i (1 - sum_t alpha_ti)^2`` (Xu et al. 2015, eq. 14): every location gets,
  summed over the caption, about one unit of attention (:func:`attention_penalty`).

Both papers start from a CNN pretrained for classification (GoogLeNet, VGG on ImageNet); ``encoder=`` takes any
module with the :class:`ConvEncoder` interface (``Tensor[B, C, H, W] -> Tensor[B, feature_dim, h, w]``), e.g. one
pretrained on the scenes' digit labels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ...data.vocab import BOS, PAD
from ...ops.losses import sequence_cross_entropy
from .seq2seq import AdditiveAttention


class ConvEncoder(nn.Module):
    """A small CNN: ``Tensor[B, C, H, W]`` -> grid ``Tensor[B, D, H/8, W/8]`` (three stride-2 3x3 conv-BatchNorm-ReLU blocks:
    each grid cell sees 15x15 pixels, about a digit)."""

    def __init__(self, in_channels: int = 1, width: int = 16, dim: int = 64) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.Conv2d(2 * width, dim, 3, stride=2, padding=1),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


def attention_penalty(alphas: Tensor, mask: Tensor | None = None) -> Tensor:
    """Xu et al. 2015's doubly stochastic regularization, ``sum_i (1 - sum_t alpha_ti)^2``, averaged over the batch.

    Args:
        alphas: attention weights ``Tensor[B, T, L]`` (each row sums to one over the ``L`` locations).
        mask: ``Tensor[B, T]`` bool, the steps that count (the caption's words and its ``<eos>``); default all.
    """
    if mask is not None:
        alphas = alphas * mask[..., None]
    return ((1 - alphas.sum(1)) ** 2).sum(1).mean()


def _inputs(captions: Tensor) -> Tensor:
    """Teacher forcing's inputs: ``<bos>`` then the caption shifted right by one."""
    return torch.cat([torch.full_like(captions[:, :1], BOS), captions[:, :-1]], 1)


class ShowAndTell(nn.Module):
    """CNN + LSTM with one global image vector: ``forward(images Tensor[B, C, H, W], captions Tensor[B, T]) -> logits
    Tensor[B, T, V]`` under teacher forcing; :meth:`greedy_decode` for captions.

    ``inject="first"``: the image vector is the LSTM's input before the first word, and only then (Vinyals et al.
    2015). ``inject="every"`` (default): it is fed with every word, as the fixed context of 07a's plain decoder (Mao
    et al. 2015; Donahue et al. 2015); at the course's budget the first form barely learns to use the image.
    """

    def __init__(
        self,
        vocab_size: int,
        in_channels: int = 1,
        hidden_size: int = 64,
        embed_dim: int = 32,
        feature_dim: int = 64,
        inject: str = "every",
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if inject not in ("first", "every"):
            raise ValueError(f"inject must be 'first' or 'every', got {inject!r}")
        self.inject = inject
        self.encoder = ConvEncoder(in_channels, dim=feature_dim) if encoder is None else encoder
        self.image_embed = nn.Linear(feature_dim, embed_dim)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim * (2 if inject == "every" else 1), hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def _start(self, images: Tensor):
        image = self.image_embed(self.encoder(images).amax((2, 3)))  # global max pooling: one vector, (B, E)
        state = self.lstm(image[:, None])[1] if self.inject == "first" else None  # x_{-1}: the image, seen once
        return image, state

    def _run(self, words: Tensor, image: Tensor, state):
        x = self.embed(words)  # (B, T, E)
        if self.inject == "every":
            x = torch.cat([x, image[:, None].expand(-1, x.shape[1], -1)], -1)
        out, state = self.lstm(x, state)
        return self.out(out), state

    def forward(self, images: Tensor, captions: Tensor) -> Tensor:
        image, state = self._start(images)
        return self._run(_inputs(captions), image, state)[0]

    @torch.no_grad()
    def greedy_decode(self, images: Tensor, max_len: int) -> tuple[Tensor, None]:
        """``(ids Tensor[B, max_len], None)``: the argmax word fed back at every step."""
        image, state = self._start(images)
        token = torch.full((len(images), 1), BOS, dtype=torch.long, device=images.device)
        ids = []
        for _ in range(max_len):
            logits, state = self._run(token, image, state)
            token = logits.argmax(-1)  # (B, 1)
            ids.append(token[:, 0])
        return torch.stack(ids, 1), None


class ShowAttendTell(nn.Module):
    """Soft attention over the CNN's grid (Xu et al. 2015), see the module docstring.

    ``forward(images, captions) -> logits Tensor[B, T, V]`` (teacher forcing); the attention weights of that pass are
    kept in ``self.alphas`` (``Tensor[B, T, L]``) for the penalty (:func:`captioning_loss`).
    """

    def __init__(
        self,
        vocab_size: int,
        in_channels: int = 1,
        hidden_size: int = 64,
        embed_dim: int = 32,
        feature_dim: int = 64,
        attn_size: int = 32,
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.encoder = ConvEncoder(in_channels, dim=feature_dim) if encoder is None else encoder
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.attn = AdditiveAttention(hidden_size, feature_dim, attn_size)
        self.gate = nn.Linear(hidden_size, 1)
        self.init_h, self.init_c = nn.Linear(feature_dim, hidden_size), nn.Linear(feature_dim, hidden_size)
        self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden_size)
        self.out = nn.Linear(hidden_size + feature_dim + embed_dim, vocab_size)
        self.alphas: Tensor | None = None

    def annotations(self, images: Tensor) -> Tensor:
        """The ``L = h * w`` annotation vectors ``Tensor[B, L, D]`` of the CNN's grid (row-major)."""
        return self.encoder(images).flatten(2).transpose(1, 2)

    def _start(self, images: Tensor):
        a = self.annotations(images)  # (B, L, D)
        mean = a.mean(1)
        mask = torch.ones(a.shape[:2], dtype=torch.bool, device=a.device)
        return a, self.attn.u(a), mask, (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))

    def _step(self, token: Tensor, state, a: Tensor, ua: Tensor, mask: Tensor):
        emb = self.embed(token)  # (B, E)
        context, alpha = self.attn(state[0], a, mask, ua)  # (B, D), (B, L)
        z = torch.sigmoid(self.gate(state[0])) * context
        state = self.cell(torch.cat([emb, z], -1), state)
        return self.out(torch.cat([state[0], z, emb], -1)), state, alpha

    def forward(self, images: Tensor, captions: Tensor) -> Tensor:
        a, ua, mask, state = self._start(images)
        inputs = _inputs(captions)
        logits, alphas = [], []
        for t in range(captions.shape[1]):
            step, state, alpha = self._step(inputs[:, t], state, a, ua, mask)
            logits.append(step)
            alphas.append(alpha)
        self.alphas = torch.stack(alphas, 1)  # (B, T, L)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def greedy_decode(self, images: Tensor, max_len: int) -> tuple[Tensor, Tensor]:
        """``(ids Tensor[B, max_len], alphas Tensor[B, max_len, L])``: where the decoder looked for each word."""
        a, ua, mask, state = self._start(images)
        token = torch.full((len(images),), BOS, dtype=torch.long, device=images.device)
        ids, alphas = [], []
        for _ in range(max_len):
            step, state, alpha = self._step(token, state, a, ua, mask)
            token = step.argmax(-1)
            ids.append(token)
            alphas.append(alpha)
        return torch.stack(ids, 1), torch.stack(alphas, 1)


def captioning_loss(model: nn.Module, penalty: float = 1.0) -> Callable[[Tensor, Tensor], Tensor]:
    """A ``fit`` loss: the cross-entropy over the caption's words (padding ignored), plus, for a model that keeps
    its attention weights (:class:`ShowAttendTell`), ``penalty`` times :func:`attention_penalty` over the words."""

    def loss(logits: Tensor, captions: Tensor) -> Tensor:
        ce = sequence_cross_entropy(logits, captions, ignore_index=PAD)
        alphas = getattr(model, "alphas", None)
        if penalty and alphas is not None:
            ce = ce + penalty * attention_penalty(alphas, captions != PAD)
        return ce

    return loss
