"""Sequence metrics: per-token cross-entropy, bits per character, exact-match accuracy (masked where padded)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor


def sequence_cross_entropy(logits: Tensor, targets: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy over every (sequence, step): logits ``Tensor[B, T, V]``, targets ``Tensor[B, T]``
    (RCP209 / UvA: the loss over time is the sum of the per-step losses; here its mean, in nats)."""
    if logits.dim() != 3 or logits.shape[:2] != targets.shape:
        raise ValueError(f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)} and {tuple(targets.shape)}")
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


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


def token_accuracy_counts(logits: Tensor, targets: Tensor) -> tuple[Tensor, int]:
    """A ``fit`` metric: ``(tokens predicted right, tokens)`` for logits ``Tensor[B, T, V]``."""
    return (logits.argmax(-1) == targets).sum(), targets.numel()
