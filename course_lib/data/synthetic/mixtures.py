"""2-D mixtures of Gaussians, the toy data of GANs' mode collapse, and how many of their modes a generator covers.

- The ring of 8 Gaussians (Metz et al. 2017, "Unrolled generative adversarial networks", section 3.1) and the 5x5
  grid (Srivastava et al. 2017, "VEEGAN", section 5.1): well-separated modes of equal weight, so a generator that
  drops some of them (mode collapse, UvA Deep Learning, *GANs*) is easy to see and to count.
- :func:`mode_coverage` counts them as VEEGAN does: a sample is *high quality* when it lies within ``3`` standard
  deviations of its nearest mode; a mode is *covered* when enough high-quality samples land on it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

KINDS = ("ring", "grid")


def mixture_centers(kind: str = "ring", n_modes: int = 8, scale: float = 2.0) -> Tensor:
    """The modes' centres, ``Tensor[K, 2]``: ``n_modes`` points on a circle of radius ``scale`` (``"ring"``), or a
    ``sqrt(n_modes)`` x ``sqrt(n_modes)`` grid with spacing ``scale``, centred on 0 (``"grid"``)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if n_modes < 1 or not scale > 0:
        raise ValueError(f"need n_modes >= 1 and scale > 0, got {n_modes}, {scale}")
    if kind == "ring":
        angle = 2 * math.pi * torch.arange(n_modes) / n_modes
        return scale * torch.stack([angle.cos(), angle.sin()], 1)
    side = math.isqrt(n_modes)
    if side * side != n_modes:
        raise ValueError(f"a grid needs a square number of modes, got {n_modes}")
    axis = scale * (torch.arange(side) - (side - 1) / 2)
    return torch.cartesian_prod(axis, axis)


def gaussian_mixture(
    n: int,
    kind: str = "ring",
    *,
    n_modes: int = 8,
    scale: float = 2.0,
    std: float = 0.05,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """``n`` samples of an equal-weight mixture of isotropic Gaussians around :func:`mixture_centers`.

    Returns:
        ``x Tensor[n, 2]`` and the mode of each sample ``Tensor[n]`` (long), on ``device``; the same ``seed`` gives
        the same samples.
    """
    if n < 1 or not std > 0:
        raise ValueError(f"need n >= 1 and std > 0, got n={n}, std={std}")
    centers = mixture_centers(kind, n_modes, scale)
    g = torch.Generator().manual_seed(seed)
    mode = torch.randint(0, n_modes, (n,), generator=g)
    x = centers[mode] + std * torch.randn(n, 2, generator=g)
    return x.to(device), mode.to(device)


def mixture_log_density(x: Tensor, centers: Tensor, std: float) -> Tensor:
    """``log p(x)`` of the equal-weight mixture of ``N(centers[k], std^2 I)``: ``x`` ``Tensor[N, D]`` -> ``Tensor[N]``.

    ``log p(x) = logsumexp_k(-||x - c_k||^2 / (2 std^2)) - log K - (D / 2) log(2 pi std^2)``: the density that
    :func:`gaussian_mixture` samples, known in closed form, so that a GAN's optimal discriminator can be computed.
    """
    if x.dim() != 2 or centers.dim() != 2 or x.shape[1] != centers.shape[1]:
        raise ValueError(f"expected x (N, D) and centers (K, D), got {tuple(x.shape)} and {tuple(centers.shape)}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    d = x.shape[1]
    sq = torch.cdist(x, centers.to(x), compute_mode="donot_use_mm_for_euclid_dist").square()  # (N, K)
    return (
        torch.logsumexp(-sq / (2 * std**2), dim=1) - math.log(len(centers)) - 0.5 * d * math.log(2 * math.pi * std**2)
    )


def mode_coverage(
    samples: Tensor, centers: Tensor, std: float, *, n_sigma: float = 3.0, min_share: float = 0.1
) -> dict:
    """How well ``samples`` (``Tensor[N, 2]``) cover the modes ``centers`` (``Tensor[K, 2]``) of width ``std``.

    A sample is high quality when its distance to the nearest centre is at most ``n_sigma * std``; a mode is covered
    when it receives at least ``min_share`` of its fair share ``N / K`` of the samples as high-quality ones.

    Returns:
        ``{"modes": covered modes (int), "high_quality": the fraction of high-quality samples (float),
        "counts": Tensor[K] high-quality samples per mode (on the CPU)}``.
    """
    if samples.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"expected samples (N, {centers.shape[1]}), got shape {tuple(samples.shape)}")
    centers = centers.to(samples.device, samples.dtype)
    dist, nearest = torch.cdist(samples, centers).min(1)  # (N,) each
    good = dist <= n_sigma * std
    counts = torch.bincount(nearest[good], minlength=len(centers)).cpu()
    covered = int((counts >= min_share * len(samples) / len(centers)).sum())
    return {"modes": covered, "high_quality": float(good.float().mean()), "counts": counts}
