"""The Fréchet distance between feature distributions (Heusel et al. 2017, "GANs trained by a two time-scale
update rule converge to a local Nash equilibrium", the FID), on features of any extractor.

Each set of features is summarized by a Gaussian (mean ``mu``, covariance ``S``); the squared Fréchet (2-Wasserstein)
distance between the two Gaussians is

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

The FID uses Inception-v3 features, which need a download; the course uses its own MNIST classifier's
penultimate layer instead (so the numbers are not comparable with published FIDs, only with each other).
The matrix square root is ``scipy.linalg.sqrtm`` (real part: round-off can add a tiny imaginary part), as in the
authors' reference code; ``tests/test_generative.py`` pins it against a closed form and torchmetrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from ..engine.hooks import extract_features
from ..utils import eval_mode


def _as_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))`` for means ``[D]`` and covariances ``[D, D]`` (arrays or tensors)."""
    mu1, mu2, sigma1, sigma2 = map(_as_numpy, (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: means {mu1.shape}, {mu2.shape}; covariances {sigma1.shape}, {sigma2.shape}")
    with warnings.catch_warnings():  # singular covariances (dead ReLU features, N < D) are usual here
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # the reference code's fallback: offset the diagonals
            offset = 1e-6 * np.eye(len(sigma1))
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance(features1: Tensor | np.ndarray, features2: Tensor | np.ndarray) -> float:
    """The squared Fréchet distance between two sets of feature vectors ``[N1, D]`` and ``[N2, D]``.

    Means and unbiased covariances (``N - 1``, as torchmetrics and the FID reference code) of each set, in float64.

    Raises:
        ValueError: if a set has fewer than 2 vectors or the feature sizes differ.
    """
    f1, f2 = _as_numpy(features1), _as_numpy(features2)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"expected features (N1, D) and (N2, D), got shapes {f1.shape} and {f2.shape}")
    if len(f1) < 2 or len(f2) < 2:
        raise ValueError(f"need at least 2 feature vectors per set for a covariance, got {len(f1)} and {len(f2)}")
    return frechet_distance_gaussians(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))


@torch.no_grad()
def compute_features(
    extractor: nn.Module | Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    layer: str | None = None,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> Tensor:
    """Features ``Tensor[N, D]`` (float64, on the CPU) of the inputs ``x`` (``Tensor[N, ...]``), in batches.

    Args:
        extractor: a module (run in eval mode, its own mode restored after) or any callable ``Tensor[B, ...]``
            -> ``Tensor[B, ...]`` (outputs are flattened).
        layer: read this named layer of ``extractor`` with a forward hook instead of its output
            (e.g. the penultimate layer of the course's MNIST classifier); needs an ``nn.Module``.
        batch_size: inputs per forward pass.
        device: where to run (default: the module's device, else ``x``'s).
    """
    if layer is not None:
        if not isinstance(extractor, nn.Module):
            raise ValueError("layer= reads a named sub-module: pass an nn.Module as extractor, or layer=None")
        return extract_features(extractor, x, layer, batch_size=batch_size, device=device)[layer].double().cpu()
    if device is None:
        params = list(extractor.parameters()) if isinstance(extractor, nn.Module) else []
        device = params[0].device if params else x.device
    outs = []

    def run() -> None:
        for i in range(0, len(x), batch_size):
            outs.append(extractor(x[i : i + batch_size].to(device)).flatten(1).double().cpu())

    if isinstance(extractor, nn.Module):
        with eval_mode(extractor):
            run()
    else:
        run()
    return torch.cat(outs)


def feature_frechet_distance(
    extractor: nn.Module | Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    layer: str | None = None,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> float:
    """The Fréchet distance between the features of ``real`` and ``fake`` inputs under ``extractor`` (an FID with
    the course's classifier in place of Inception). Arguments as in :func:`compute_features`."""
    kw = dict(layer=layer, batch_size=batch_size, device=device)
    return frechet_distance(compute_features(extractor, real, **kw), compute_features(extractor, fake, **kw))
