"""Global spatial pooling for weakly supervised learning: class maps ``(B, C, H, W)`` -> class scores ``(B, C)``.

RCP209 (N. Thome), *Localization / Alignment*, "where to pool and how": a fully convolutional net scores every
region (every position of its class maps); trained with image-level labels only, the pooling decides which
regions the label is blamed on. The region is the latent variable ``h`` of the weak-supervision table.

- global max (Oquab et al. 2015, "Is object localization for free?"): the single best region;
- global average, GAP (Zhou et al. 2016, "Learning deep features for discriminative localization"): all regions;
- log-sum-exp with a temperature ``beta`` (Pinheiro & Collobert 2015): from GAP (beta -> 0) to max (beta -> inf);
- WELDON (Durand et al. 2016): the mean of the k highest plus the mean of the k lowest scores;
- WILDCAT (Durand et al. 2017): mean of the k+ highest plus ``alpha`` times the mean of the k- lowest scores,
  on top of ``M`` maps per class averaged by class-wise pooling.

Convention (pinned by ``tests/test_pooling.py``). The course uses the papers' equation

    s_c = mean(top-k+ of z_c) + alpha * mean(low-k- of z_c),

so that WILDCAT(k+=1, k-=0) is global max, WILDCAT(k+=H*W, k-=0) is GAP and WELDON is WILDCAT(k, k, alpha=1).
The authors' reference code (github.com/durandtibo/wildcat.pytorch, ``wildcat/pooling.py``) halves that sum
whenever the negative term is active (k- > 0 and alpha != 0), and not otherwise. ``reference_scaling=True``
reproduces it. The factor 1/2 does not change which regions are selected, nor the ranking of images for one
class, but it halves the logits (and their gradients) that reach the loss, and makes the score jump when alpha
goes from 0 to a tiny positive value.

Region counts ``k`` follow the reference code: ``0 < k < 1`` is a fraction of the ``H*W`` regions
(``round(k * H * W)``; the course keeps at least one region where the reference would take zero), an integer
``k >= 1`` is a count (capped at ``H*W``), ``k <= 0`` means no region.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _check_maps(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected class maps (B, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"class maps must have at least one region, got shape {tuple(x.shape)}")


def resolve_k(k: float, n: int) -> int:
    """Number of regions meant by ``k`` among ``n``: a fraction if ``0 < k < 1``, a count if ``k >= 1``, 0 if ``k <= 0``.

    Raises:
        ValueError: if ``k > 1`` is not a whole number (2.5 regions has no meaning).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if k <= 0:
        return 0
    if k < 1:
        return max(1, round(k * n))
    if float(k) != int(k):
        raise ValueError(
            f"k >= 1 is a number of regions and must be a whole number, got {k}; use 0 < k < 1 for a fraction"
        )
    return min(int(k), n)


def global_max_pool2d(x: Tensor) -> Tensor:
    """Global max pooling (Oquab et al. 2015): ``Tensor[B, C, H, W]`` -> ``Tensor[B, C]``, the best region's score."""
    _check_maps(x)
    return x.flatten(2).amax(2)


def global_avg_pool2d(x: Tensor) -> Tensor:
    """Global average pooling, GAP (Zhou et al. 2016): ``Tensor[B, C, H, W]`` -> ``Tensor[B, C]``, every region counts."""
    _check_maps(x)
    return x.flatten(2).mean(2)


def lse_pool2d(x: Tensor, beta: float = 1.0) -> Tensor:
    """Log-sum-exp pooling (Pinheiro & Collobert 2015): ``Tensor[B, C, H, W]`` -> ``Tensor[B, C]``.

    ``s = (1 / beta) * log( (1 / HW) * sum_i exp(beta * z_i) )``: a smooth maximum whose temperature ``beta``
    slides from the mean (``beta -> 0``) to the max (``beta -> inf``). Computed with ``logsumexp`` (no overflow).

    Args:
        x: class maps ``Tensor[B, C, H, W]``.
        beta: the sharpness, ``> 0``.
    """
    _check_maps(x)
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    flat = x.flatten(2)  # (B, C, HW)
    return (torch.logsumexp(beta * flat, dim=2) - math.log(flat.shape[2])) / beta


def wildcat_pool2d(
    x: Tensor, kmax: float = 1, kmin: float | None = None, alpha: float = 1.0, *, reference_scaling: bool = False
) -> Tensor:
    """WELDON/WILDCAT spatial pooling (Durand et al. 2016, 2017): ``Tensor[B, C, H, W]`` -> ``Tensor[B, C]``.

    ``s = mean of the k+ highest region scores + alpha * mean of the k- lowest ones`` (the papers' equation).
    The k- lowest regions carry *negative evidence*: a region that argues against the class lowers its score.
    Max (k+=1, k-=0), GAP (k+=H*W, k-=0) and WELDON (k, k, alpha=1) are special cases.

    Args:
        x: class maps ``Tensor[B, C, H, W]``.
        kmax: k+, the regions of positive evidence (fraction if < 1, else a count; see :func:`resolve_k`).
        kmin: k-, the regions of negative evidence; ``None`` means ``kmin = kmax`` (as in the reference code).
        alpha: weight of the negative evidence.
        reference_scaling: halve the sum when the negative term is active, as github.com/durandtibo/wildcat.pytorch does.
    """
    _check_maps(x)
    kmin = kmax if kmin is None else kmin
    flat = x.flatten(2)  # (B, C, n)
    n = flat.shape[2]
    k_pos, k_neg = resolve_k(kmax, n), resolve_k(kmin, n)
    if k_pos == 0:
        raise ValueError(f"kmax must select at least one region, got kmax={kmax}")
    out = flat.topk(k_pos, dim=2).values.mean(2)  # (B, C)
    if k_neg > 0 and alpha != 0:
        out = out + alpha * flat.topk(k_neg, dim=2, largest=False).values.mean(2)
        if reference_scaling:
            out = out / 2
    return out


def weldon_pool2d(x: Tensor, k: float = 1, *, reference_scaling: bool = False) -> Tensor:
    """WELDON pooling (Durand et al. 2016): mean of the k highest plus mean of the k lowest region scores.

    ``Tensor[B, C, H, W]`` -> ``Tensor[B, C]``; equal to ``wildcat_pool2d(x, k, k, alpha=1)``.
    """
    return wildcat_pool2d(x, k, k, 1.0, reference_scaling=reference_scaling)


def class_wise_pool2d(x: Tensor, maps_per_class: int) -> Tensor:
    """WILDCAT's class-wise pooling (Durand et al. 2017): average ``M`` modality maps per class.

    ``Tensor[B, C*M, H, W]`` -> ``Tensor[B, C, H, W]``; channels ``c*M ... c*M + M-1`` belong to class ``c``
    (the reference code's layout; it also divides the sum by ``M``).
    """
    if x.dim() != 4:
        raise ValueError(f"expected maps (B, C*M, H, W), got shape {tuple(x.shape)}")
    if maps_per_class < 1 or x.shape[1] % maps_per_class:
        raise ValueError(f"the {x.shape[1]} channels are not a multiple of maps_per_class={maps_per_class}")
    b, cm, h, w = x.shape
    return x.view(b, cm // maps_per_class, maps_per_class, h, w).mean(2)


class GlobalMaxPool2d(nn.Module):
    """Module form of :func:`global_max_pool2d` (Oquab et al. 2015)."""

    def forward(self, x: Tensor) -> Tensor:
        return global_max_pool2d(x)


class GlobalAvgPool2d(nn.Module):
    """Module form of :func:`global_avg_pool2d` (Zhou et al. 2016)."""

    def forward(self, x: Tensor) -> Tensor:
        return global_avg_pool2d(x)


class LSEPool2d(nn.Module):
    """Module form of :func:`lse_pool2d` (Pinheiro & Collobert 2015)."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return lse_pool2d(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class WildcatPool2d(nn.Module):
    """Module form of :func:`wildcat_pool2d` (Durand et al. 2017)."""

    def __init__(
        self, kmax: float = 1, kmin: float | None = None, alpha: float = 1.0, *, reference_scaling: bool = False
    ) -> None:
        super().__init__()
        resolve_k(kmax, 1 << 20)  # validate early
        if kmin is not None:
            resolve_k(kmin, 1 << 20)
        self.kmax, self.kmin, self.alpha, self.reference_scaling = kmax, kmin, alpha, reference_scaling

    def forward(self, x: Tensor) -> Tensor:
        return wildcat_pool2d(x, self.kmax, self.kmin, self.alpha, reference_scaling=self.reference_scaling)

    def extra_repr(self) -> str:
        kmin = self.kmax if self.kmin is None else self.kmin
        return f"kmax={self.kmax}, kmin={kmin}, alpha={self.alpha}" + (
            ", reference_scaling=True" if self.reference_scaling else ""
        )


class WeldonPool2d(WildcatPool2d):
    """Module form of :func:`weldon_pool2d` (Durand et al. 2016): WILDCAT with ``kmin = kmax`` and ``alpha = 1``."""

    def __init__(self, k: float = 1, *, reference_scaling: bool = False) -> None:
        super().__init__(k, k, 1.0, reference_scaling=reference_scaling)


class ClassWisePool2d(nn.Module):
    """Module form of :func:`class_wise_pool2d` (Durand et al. 2017)."""

    def __init__(self, maps_per_class: int) -> None:
        super().__init__()
        if maps_per_class < 1:
            raise ValueError(f"maps_per_class must be >= 1, got {maps_per_class}")
        self.maps_per_class = maps_per_class

    def forward(self, x: Tensor) -> Tensor:
        return class_wise_pool2d(x, self.maps_per_class)

    def extra_repr(self) -> str:
        return f"maps_per_class={self.maps_per_class}"


__all__ = [
    "ClassWisePool2d",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "LSEPool2d",
    "WeldonPool2d",
    "WildcatPool2d",
    "class_wise_pool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "lse_pool2d",
    "resolve_k",
    "weldon_pool2d",
    "wildcat_pool2d",
]
