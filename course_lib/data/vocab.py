"""A word vocabulary for captions and questions: padding, start and end tokens, sentences to padded id tensors and back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


class WordVocab:
    """Words (split on spaces) to ids: ``<pad>`` is 0, ``<bos>`` 1, ``<eos>`` 2, then the words in the order given.

    ``encode(sentences, length)`` -> ``Tensor[N, length]`` (each sentence's words, ``<eos>`` when ``eos``, then
    padding); ``decode(ids)`` reads one row back to a sentence, stopping at ``<eos>`` and skipping padding.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = list(SPECIALS)
        for w in words:
            if w not in self.words:
                self.words.append(w)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[str]) -> WordVocab:
        """Every word of the sentences, sorted."""
        return cls(sorted({w for s in sentences for w in s.split()}))

    def __len__(self) -> int:
        return len(self.words)

    def max_length(self, sentences: Sequence[str], eos: bool = True) -> int:
        return max(len(s.split()) for s in sentences) + int(eos)

    def encode(
        self,
        sentences: Sequence[str],
        length: int | None = None,
        *,
        eos: bool = True,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Padded ids ``Tensor[N, length]`` (``length``: the longest sentence by default)."""
        length = self.max_length(sentences, eos) if length is None else length
        out = torch.full((len(sentences), length), PAD, dtype=torch.long)
        for i, s in enumerate(sentences):
            try:
                ids = [self.index[w] for w in s.split()] + ([EOS] if eos else [])
            except KeyError as err:
                raise ValueError(f"word {err.args[0]!r} of {s!r} is not in the vocabulary") from None
            if len(ids) > length:
                raise ValueError(f"{s!r} needs {len(ids)} tokens, more than length={length}")
            out[i, : len(ids)] = torch.tensor(ids)
        return out.to(device)

    def decode(self, ids: Tensor | Sequence[int]) -> str:
        """One sentence from ids ``Tensor[L]``: stops at ``<eos>``, skips ``<pad>`` and ``<bos>``."""
        words = []
        for i in ids.tolist() if isinstance(ids, Tensor) else ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                words.append(self.words[int(i)])
        return " ".join(words)

    def decode_batch(self, ids: Tensor) -> list[str]:
        """Sentences from ``Tensor[N, L]``."""
        return [self.decode(row) for row in ids.cpu()]

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} words)"
