"""Sequence metrics: per-token cross-entropy (defined in :mod:`course_lib.ops.losses`), bits per character,
exact-match accuracy (masked where padded), and corpus BLEU (Papineni et al. 2002) through torchmetrics, not
hand-written."""

from __future__ import annotations

import math

from torch import Tensor
from torchmetrics.functional.text import bleu_score

from ..ops.losses import sequence_cross_entropy as sequence_cross_entropy  # re-exported: the loss lives in ops


def bits_per_character(logits: Tensor, targets: Tensor) -> float:
    """Mean cross-entropy in bits: ``sequence_cross_entropy / ln 2``."""
    return float(sequence_cross_entropy(logits, targets)) / math.log(2)


def exact_match(predicted: Tensor, targets: Tensor, pad: int = 0) -> Tensor:
    """Per-sequence exact match ``Tensor[B]`` (bool): every non-padded target position predicted right."""
    if predicted.shape != targets.shape:
        raise ValueError(f"shapes differ: {tuple(predicted.shape)} and {tuple(targets.shape)}")
    return ((predicted == targets) | (targets == pad)).all(dim=1)


def exact_match_counts(logits: Tensor, targets: Tensor, pad: int = 0) -> tuple[Tensor, int]:
    """A ``fit`` metric: ``(sequences exactly right under teacher forcing, batch size)`` for ``Tensor[B, T, V]``."""
    return exact_match(logits.argmax(-1), targets, pad).sum(), targets.shape[0]


def token_accuracy_counts(
    logits: Tensor, targets: Tensor, ignore_index: int | None = None
) -> tuple[Tensor, int | Tensor]:
    """A ``fit`` metric: ``(tokens predicted right, tokens)`` for logits ``Tensor[B, T, V]`` and ``targets Tensor[B, T]``.

    ``ignore_index``: a target id (padding) counted neither right nor at all, as the loss ignores it
    (``functools.partial(token_accuracy_counts, ignore_index=PAD)``).
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)}, {tuple(targets.shape)}"
        )
    right = logits.argmax(-1) == targets
    if ignore_index is None:
        return right.sum(), targets.numel()
    keep = targets != ignore_index
    return (right & keep).sum(), keep.sum()  # a count on the device: no host sync


def corpus_bleu(hypotheses: list[str], references: list[list[str]], n_gram: int = 4, smooth: bool = False) -> float:
    """Corpus BLEU-``n_gram`` in [0, 1] of whitespace-tokenized sentences against several references each
    (``torchmetrics.functional.text.bleu_score``: clipped n-gram precisions, geometric mean, brevity penalty)."""
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"need as many hypotheses as reference lists (and at least one), got {len(hypotheses)} "
            f"and {len(references)}"
        )
    return float(bleu_score(hypotheses, references, n_gram=n_gram, smooth=smooth))


def sentence_bleu(
    hypotheses: list[str], references: list[list[str]], n_gram: int = 4, smooth: bool = True
) -> list[float]:
    """BLEU of each sentence alone (smoothed by default: a short sentence often has no matching 4-gram)."""
    return [corpus_bleu([h], [r], n_gram, smooth) for h, r in zip(hypotheses, references)]
