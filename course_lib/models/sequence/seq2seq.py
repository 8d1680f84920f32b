"""An encoder-decoder for sequence to sequence, with or without Bahdanau (additive) attention.

INRIA, *Recurrent networks*: Sutskever et al. 2014 encode the source into one vector and decode from it;
Bahdanau et al. 2014 let each decoding step look back at every encoder state through an additive score
``e_tj = v^T tanh(W s_{t-1} + U h_j)``, weights ``a_t = softmax_j(e_tj)`` and context ``c_t = sum_j a_tj h_j``.
Both decoders here get a context at each step: the encoder's summary (fixed, as in Cho et al. 2014) or ``c_t``.
Training uses teacher forcing (the true previous token is fed); :meth:`Seq2Seq.greedy_decode` feeds its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, BOS = 0, 1


class AdditiveAttention(nn.Module):
    """Bahdanau et al. 2014's score: query ``Tensor[B, Hq]``, keys ``Tensor[B, S, Hk]``, mask ``Tensor[B, S]``
    (True where valid) -> ``(context Tensor[B, Hk], weights Tensor[B, S])``."""

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.w = nn.Linear(query_size, attn_size, bias=False)
        self.u = nn.Linear(key_size, attn_size)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor, projected_keys: Tensor | None = None):
        uk = self.u(keys) if projected_keys is None else projected_keys  # (B, S, A)
        scores = self.v(torch.tanh(self.w(query)[:, None] + uk)).squeeze(-1)  # (B, S)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights[:, :, None] * keys).sum(1), weights


class Seq2Seq(nn.Module):
    """Bidirectional GRU encoder, GRU decoder; ``forward(src Tensor[B, S], tgt Tensor[B, L]) -> logits Tensor[B, L, V]``.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (id 0 is padding, id 1 the start token of the decoder).
        hidden_size: units per direction of the encoder, and of the decoder.
        attention: Bahdanau attention (True) or the fixed encoder summary as context (False).
    """

    def __init__(
        self, src_vocab: int, tgt_vocab: int, hidden_size: int = 64, embed_dim: int = 32, attention: bool = True
    ) -> None:
        super().__init__()
        self.attention, self.hidden_size = attention, hidden_size
        self.src_embed = nn.Embedding(src_vocab, embed_dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_dim)
        self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)  # encoder summary -> decoder's first state
        self.attn = AdditiveAttention(hidden_size, 2 * hidden_size, hidden_size) if attention else None
        self.decoder = nn.GRUCell(embed_dim + 2 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size + 2 * hidden_size + embed_dim, tgt_vocab)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(states Tensor[B, S, 2H], summary Tensor[B, 2H], mask Tensor[B, S])`` of padded source ids."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.src_embed(src), lengths, batch_first=True, enforce_sorted=False)
        states, h = self.encoder(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=src.shape[1])  # (B, S, 2H)
        summary = torch.cat([h[0], h[1]], -1)  # last forward state and first backward state, (B, 2H)
        return states, summary, mask

    def _step(self, token: Tensor, s: Tensor, states: Tensor, summary: Tensor, mask: Tensor, uk: Tensor | None):
        emb = self.tgt_embed(token)  # (B, E)
        if self.attn is not None:
            context, weights = self.attn(s, states, mask, uk)
        else:
            context, weights = summary, None
        s = self.decoder(torch.cat([emb, context], -1), s)
        return self.out(torch.cat([s, context, emb], -1)), s, weights

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """Teacher forcing: step ``t`` is fed the true token ``t - 1`` (the start token at ``t = 0``)."""
        if src.dim() != 2 or tgt.dim() != 2 or len(src) != len(tgt):
            raise ValueError(f"expected src (B, S) and tgt (B, L), got {tuple(src.shape)} and {tuple(tgt.shape)}")
        states, summary, mask = self.encode(src)
        uk = self.attn.u(states) if self.attn is not None else None
        s = torch.tanh(self.bridge(summary))
        inputs = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], 1)
        logits = []
        for t in range(tgt.shape[1]):
            step, s, _ = self._step(inputs[:, t], s, states, summary, mask, uk)
            logits.append(step)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int) -> tuple[Tensor, Tensor | None]:
        """Greedy decoding (the argmax fed back): ``(ids Tensor[B, max_len], attention Tensor[B, max_len, S] or None)``."""
        states, summary, mask = self.encode(src)
        uk = self.attn.u(states) if self.attn is not None else None
        s = torch.tanh(self.bridge(summary))
        token = torch.full((len(src),), BOS, dtype=torch.long, device=src.device)
        ids, attn = [], []
        for _ in range(max_len):
            step, s, weights = self._step(token, s, states, summary, mask, uk)
            token = step.argmax(-1)
            ids.append(token)
            attn.append(weights)
        return torch.stack(ids, 1), (torch.stack(attn, 1) if self.attn is not None else None)
