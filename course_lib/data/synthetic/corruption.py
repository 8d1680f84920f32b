"""Randomized versions of a dataset: the experiments of "fitting random labels" (Zhang et al., ICLR 2017).

Zhang, Bengio, Hardt, Recht & Vinyals, "Understanding deep learning requires rethinking generalization",
section 2: the same network, unchanged, is trained on

- **partially corrupted labels**: a fraction ``p`` of the labels replaced by labels drawn uniformly at random
  (``p = 1``: random labels); :func:`corrupt_labels`;
- **shuffled pixels**: one random permutation of the pixels applied to every image; :func:`shuffle_pixels`;
- **random pixels**: a different random permutation for each image; :func:`random_pixels`;
- **Gaussian**: images drawn from a Gaussian with the dataset's mean and variance; :func:`gaussian_like`.

Lecture: RCP209 "open questions" (deep networks fit random labels, so their Rademacher complexity is near 1).
Everything is seeded (a ``torch.Generator`` on the tensors' device) and vectorized: no loop over images.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def corrupt_labels(y: Tensor, p: float, num_classes: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Replace exactly ``round(p * N)`` labels, chosen at random, by labels drawn uniformly from ``num_classes``.

    As in Zhang et al. (2017), a replaced label may by chance equal the true one (a fraction ``1/num_classes``
    of them do), so ``p = 1`` gives labels independent of the images.

    Args:
        y: class indices ``Tensor[N]`` (integer).
        p: fraction of the labels to replace, in [0, 1].
        num_classes: the random labels are uniform over ``0 .. num_classes - 1``.
        seed: seeds which labels are replaced and by what.

    Returns:
        ``(labels, replaced)``: the new labels ``Tensor[N]`` (same dtype and device) and the boolean mask
        ``Tensor[N]`` of the positions that were redrawn.
    """
    if y.dim() != 1 or y.is_floating_point():
        raise ValueError(f"expected integer class indices of shape (N,), got {y.dtype} {tuple(y.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    g = _generator(y.device, seed)
    n = len(y)
    chosen = torch.randperm(n, generator=g, device=y.device)[: round(p * n)]
    replaced = torch.zeros(n, dtype=torch.bool, device=y.device)
    replaced[chosen] = True
    labels = y.clone()
    labels[chosen] = torch.randint(0, num_classes, (len(chosen),), generator=g, device=y.device, dtype=y.dtype)
    return labels, replaced


def _check_images(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")


def shuffle_pixels(x: Tensor, *, seed: int = 0) -> Tensor:
    """Apply one random permutation of the ``H * W`` pixel positions to every image (all channels alike).

    The images keep their pixel values but lose their spatial structure; the same permutation for all of
    them keeps the task learnable (a fully connected net is unaffected, a CNN loses its prior).

    Args:
        x: images ``Tensor[N, C, H, W]``.
        seed: seeds the permutation.

    Returns:
        ``Tensor[N, C, H, W]``: ``out.flatten(2)[..., j] = x.flatten(2)[..., perm[j]]`` for one ``perm``.
    """
    _check_images(x)
    perm = torch.randperm(x.shape[2] * x.shape[3], generator=_generator(x.device, seed), device=x.device)
    return x.flatten(2)[:, :, perm].reshape(x.shape)


def random_pixels(x: Tensor, *, seed: int = 0) -> Tensor:
    """Apply a different random permutation of the pixel positions to each image (Zhang et al.'s "random pixels").

    Each image keeps its histogram of values, nothing else: no structure is shared across images.

    Args:
        x: images ``Tensor[N, C, H, W]``.
        seed: seeds the ``N`` permutations.

    Returns:
        ``Tensor[N, C, H, W]``, image ``i`` permuted by its own ``perm_i`` (the same for its channels).
    """
    _check_images(x)
    n, c, h, w = x.shape
    keys = torch.rand(n, h * w, generator=_generator(x.device, seed), device=x.device)
    perms = keys.argsort(dim=1)  # (N, H*W): one uniform random permutation per image
    return x.flatten(2).gather(2, perms[:, None, :].expand(n, c, h * w)).reshape(x.shape)


def gaussian_like(x: Tensor, *, seed: int = 0) -> Tensor:
    """Images of pure Gaussian noise with the same mean and variance as the dataset ``x`` (one scalar each).

    Args:
        x: images ``Tensor[N, C, H, W]`` (any float shape is accepted).
        seed: seeds the noise.

    Returns:
        ``Tensor`` of ``x``'s shape, ``N(mean(x), var(x))`` independently per pixel.
    """
    if not x.is_floating_point():
        raise ValueError(f"expected float images, got {x.dtype}")
    noise = torch.randn(x.shape, generator=_generator(x.device, seed), device=x.device, dtype=x.dtype)
    return x.mean() + x.std() * noise
