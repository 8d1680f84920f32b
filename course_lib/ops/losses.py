"""Losses as functional tensor operations: the per-token cross-entropy of a batch of sequences, the marginal
contrastive loss of a batch of embedding pairs.

They sit with the ops (below ``layers``, ``models`` and ``metrics``) so that a model may compute its own training
loss, as the captioning models do, without importing a layer above it; ``course_lib.metrics.text`` re-exports
:func:`sequence_cross_entropy` for the metrics it derives (bits per character).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def sequence_cross_entropy(logits: Tensor, targets: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy over every (sequence, step): logits ``Tensor[B, T, V]``, targets ``Tensor[B, T]``
    (RCP209 / UvA: the loss over time is the sum of the per-step losses; here its mean, in nats).

    Args:
        logits: unnormalized scores ``Tensor[B, T, V]``.
        targets: token ids ``Tensor[B, T]``; positions equal to ``ignore_index`` (padding) do not count.
        ignore_index: the target id left out of the mean.

    Returns:
        The scalar mean over the counted positions.

    Raises:
        ValueError: if the shapes are not ``(B, T, V)`` and ``(B, T)``.
    """
    if logits.dim() != 3 or logits.shape[:2] != targets.shape:
        raise ValueError(
            f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


def contrastive_loss(a: Tensor, b: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """The marginal contrastive loss (Hadsell, Chopra & LeCun 2006; SINT, Tao et al. 2016, eq. 1), averaged over pairs:

        L = ½ y D² + ½ (1 - y) max(0, ε - D)²,   D = ||a - b||₂,

    so that two patches of the same object are pulled together and patches of different objects pushed at least a
    margin apart (UvA "Tracking").

    Args:
        a, b: ``Tensor[B, D]`` the two embeddings of each pair.
        same: ``Tensor[B]`` 1 for a pair of the same object, 0 for different objects.
        margin: ε, the distance beyond which a negative pair costs nothing.

    Raises:
        ValueError: if the shapes are not ``(B, D)``, ``(B, D)`` and ``(B,)``.
    """
    if a.dim() != 2 or a.shape != b.shape or same.shape != (len(a),):
        raise ValueError(
            f"expected a, b (B, D) and same (B,), got {tuple(a.shape)}, {tuple(b.shape)}, {tuple(same.shape)}"
        )
    d = (a - b).norm(dim=1)
    y = same.to(d.dtype)
    return (0.5 * y * d.square() + 0.5 * (1 - y) * (margin - d).clamp_min(0).square()).mean()
