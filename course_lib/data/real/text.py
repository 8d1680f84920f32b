"""Tiny Shakespeare (Karpathy's char-rnn selection, public domain), shipped in ``data/tinyshakespeare/``.

For character-level language modelling (INRIA, *Recurrent networks*: generation after training on Shakespeare):
a character vocabulary, a contiguous train/validation split (the validation text is the end of the play text, never
interleaved with training windows) and windows of ``seq_len + 1`` characters cut into inputs and next-character targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .files import read_shipped


def load_shakespeare(root: str | Path | None = None) -> str:
    """The 1,115,394 characters of Tiny Shakespeare as one string (checksum-verified).

    Raises:
        MissingDataError: the file is missing or corrupted (the message says how to restore it).
    """
    return read_shipped("tinyshakespeare/input.txt", root).decode("utf-8")


class CharVocab:
    """The sorted set of characters of a text; ``encode`` a string to ``Tensor[N]`` of ids, ``decode`` back."""

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        self.chars = sorted(set(text))
        self.index = {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, device: torch.device | str | None = None) -> Tensor:
        unknown = set(text) - set(self.index)
        if unknown:
            raise ValueError(f"characters outside the vocabulary: {sorted(unknown)[:10]}")
        return torch.tensor([self.index[ch] for ch in text], dtype=torch.long, device=device)

    def decode(self, ids: Tensor | list[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"


@dataclass
class CharCorpus:
    """A text as ids on a device, split contiguously: ``train`` then ``val`` (``Tensor[N]`` each)."""

    vocab: CharVocab
    train: Tensor
    val: Tensor


def shakespeare_corpus(
    val_fraction: float = 0.1, device: torch.device | str | None = None, root: str | Path | None = None
) -> CharCorpus:
    """Tiny Shakespeare as character ids: the first ``1 - val_fraction`` of the text for training, the rest for
    validation (contiguous, as in char-rnn). The vocabulary is built from the whole text (65 characters)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    text = load_shakespeare(root)
    vocab = CharVocab(text)
    ids = vocab.encode(text, device)
    cut = int(len(ids) * (1 - val_fraction))
    return CharCorpus(vocab, ids[:cut], ids[cut:])


def char_windows(ids: Tensor, seq_len: int, n: int | None = None, seed: int | None = None) -> tuple[Tensor, Tensor]:
    """Input and target windows of a character stream: ``x = ids[s : s+T]``, ``y = ids[s+1 : s+T+1]``.

    Args:
        ids: ``Tensor[N]`` character ids.
        seq_len: ``T``, characters per window.
        n: number of windows; ``None``: every non-overlapping window, in order. With ``n``, windows start at
            ``n`` random offsets drawn with ``seed`` (they may overlap).

    Returns:
        ``(x, y)``, both ``Tensor[n, T]`` on ``ids``' device.
    """
    if seq_len < 1 or len(ids) < seq_len + 1:
        raise ValueError(f"need 1 <= seq_len < len(ids), got seq_len={seq_len} for {len(ids)} ids")
    if n is None:
        starts = torch.arange(0, len(ids) - seq_len, seq_len, device=ids.device)
    else:
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        starts = torch.randint(0, len(ids) - seq_len, (n,), generator=g).to(ids.device)
    idx = starts[:, None] + torch.arange(seq_len + 1, device=ids.device)  # (n, T + 1)
    windows = ids[idx]
    return windows[:, :-1], windows[:, 1:]


def char_streams(ids: Tensor, batch: int, seq_len: int) -> tuple[Tensor, Tensor]:
    """Windows for truncated backpropagation through time: ``batch`` parallel streams, read ``seq_len`` at a time.

    The text is cut into ``batch`` contiguous streams; row ``b`` of the ``k``-th batch of ``batch`` rows is the
    ``k``-th window of stream ``b``, so a model that carries its state from one batch to the next
    (:class:`~course_lib.models.sequence.TruncatedBPTT`) reads every stream in order, with context beyond one window.
    Read them in order: ``DeviceLoader(x, y, batch, shuffle=False)``.

    Returns:
        ``(x, y)``, both ``Tensor[n * batch, T]`` (``y`` is ``x`` shifted by one character), ``n`` windows per stream.
    """
    if batch < 1 or seq_len < 1:
        raise ValueError(f"need batch >= 1 and seq_len >= 1, got batch={batch}, seq_len={seq_len}")
    n = (len(ids) - 1) // (batch * seq_len)  # windows per stream
    if n < 1:
        raise ValueError(f"{len(ids)} ids are too few for {batch} streams of one {seq_len}-character window")
    span = n * seq_len
    x = ids[: batch * span].view(batch, n, seq_len)
    y = ids[1 : batch * span + 1].view(batch, n, seq_len)
    return x.transpose(0, 1).reshape(n * batch, seq_len), y.transpose(0, 1).reshape(n * batch, seq_len)
