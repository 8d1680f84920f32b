"""Dropout, written out, and the exact mask ensemble it approximates at test time.

Lecture: STA211 "Deep Learning Modules" (N. Thome), *dropout* (Hinton et al. 2012; Srivastava
et al. 2014, JMLR 15): in training each unit is kept with probability ``1 - p`` (dropped to 0
otherwise), a different random sub-network for every example; at test time the whole network
is used with its outgoing weights multiplied by ``1 - p`` ("halving the weights" for p = 1/2).
For a single hidden layer followed by a softmax, this is **exactly** the normalized geometric
mean of the predictions of all ``2^n`` sub-networks (Hinton et al. 2012, section 1; checked by
enumeration with :func:`all_masks` and :func:`geometric_mean_softmax`).

*Inverted* dropout (what ``nn.Dropout`` does) moves the scaling to training time: kept units
are divided by ``1 - p``, so the expected activation is unchanged and the test-time network is
the plain one (identity dropout).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the others by ``1 / (1 - p)``.

    Args:
        x: any shape.
        p: drop probability in ``[0, 1]`` (``p = 1`` gives zeros).
        training: apply it (True) or return ``x`` unchanged (False, test time).
        generator: optional generator (on ``x``'s device) for reproducible masks.

    Returns:
        A tensor of ``x``'s shape with ``E[output] = x``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p  # (same shape as x), True w.p. 1 - p
    return x * keep.to(x.dtype) / (1.0 - p)


class Dropout(nn.Module):
    """Module wrapper of :func:`dropout`: active in ``model.train()``, the identity in ``model.eval()``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def all_masks(n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Every binary keep-mask of ``n`` units: ``Tensor[2^n, n]`` of 0/1 (row ``k`` = the bits of ``k``)."""
    if not 0 <= n <= 24:
        raise ValueError(f"n must be in [0, 24] (2^n masks are enumerated), got {n}")
    k = torch.arange(2**n, device=device).unsqueeze(1)  # (2^n, 1)
    bits = torch.arange(n, device=device)  # (n,)
    return ((k >> bits) & 1).to(dtype)  # (2^n, n)


def geometric_mean_softmax(logits: Tensor, weights: Tensor | None = None) -> Tensor:
    """Normalized (weighted) geometric mean of softmax distributions over the ensemble axis 0.

    Args:
        logits: ``Tensor[M, B, K]``, the logits of ``M`` ensemble members (e.g. dropout masks).
        weights: optional ``Tensor[M]`` of member probabilities (default: uniform).

    Returns:
        ``Tensor[B, K]``: ``prod_m softmax(z_m)^{w_m}``, renormalized over the K classes.
    """
    if logits.dim() != 3:
        raise ValueError(f"expected logits (M, B, K), got shape {tuple(logits.shape)}")
    log_p = torch.log_softmax(logits, dim=-1)  # (M, B, K)
    if weights is None:
        mean_log_p = log_p.mean(0)
    else:
        if weights.shape != (logits.shape[0],):
            raise ValueError(f"weights must have shape ({logits.shape[0]},), got {tuple(weights.shape)}")
        mean_log_p = (weights.view(-1, 1, 1) * log_p).sum(0) / weights.sum()
    return torch.softmax(mean_log_p, dim=-1)  # renormalize: the geometric mean does not sum to 1


def mask_probabilities(masks: Tensor, p: float) -> Tensor:
    """Probability of each keep-mask ``Tensor[M, n]`` when units are dropped independently with probability ``p``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    kept = masks.sum(1)
    return (1 - p) ** kept * p ** (masks.shape[1] - kept)
