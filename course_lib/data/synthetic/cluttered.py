"""Cluttered MNIST: a digit at a random place on a larger canvas, among distractor fragments.

As in Mnih et al. 2014 ("Recurrent models of visual attention", 60x60 cluttered MNIST) and
Jaderberg et al. 2015 ("Spatial transformer networks"): each canvas holds one MNIST digit at a
uniformly random position and ``n_distractors`` fragments (random ``fragment`` x ``fragment``
crops of other random digits) at random positions; pixels combine by maximum. The label is the
digit's; its box is the tight box around its ink. Built by seeded, vectorized code on any device
(advanced indexing, no loop over images). Used by notebooks 02 (AlexNet ablations: a task where
depth matters) and 05 (localization, spatial transformers).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ClutteredMNIST:
    """``images``: ``Tensor[N, 1, S, S]`` in [0, 1]; ``labels``: ``Tensor[N]``;
    ``boxes``: ``Tensor[N, 4]`` as (x1, y1, x2, y2) pixel edges of the digit's ink (x2, y2 exclusive);
    ``source``: index of each digit in the MNIST tensor it was drawn from."""

    images: Tensor
    labels: Tensor
    boxes: Tensor
    source: Tensor

    def __len__(self) -> int:
        return len(self.labels)


def _paste_max(canvas: Tensor, patches: Tensor, top: Tensor, left: Tensor) -> None:
    """In place: ``canvas[n, top:top+h, left:left+w] = max(canvas, patch)`` for every n at once."""
    n, h, w = patches.shape
    rows = (top.view(n, 1, 1) + torch.arange(h, device=canvas.device).view(1, h, 1)).expand(n, h, w)
    cols = (left.view(n, 1, 1) + torch.arange(w, device=canvas.device).view(1, 1, w)).expand(n, h, w)
    idx = torch.arange(n, device=canvas.device).view(n, 1, 1).expand(n, h, w)
    canvas[idx, rows, cols] = torch.maximum(canvas[idx, rows, cols], patches)


def make_cluttered_mnist(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    canvas: int = 60,
    n_distractors: int = 4,
    fragment: int = 8,
    seed: int = 0,
) -> ClutteredMNIST:
    """Build ``n`` cluttered canvases from MNIST digits ``x`` (``Tensor[M, 1, 28, 28]`` in [0, 1]).

    Args:
        x: source digits, **unnormalized** in [0, 1] (e.g. ``load_mnist(normalize=False)``); the
            canvases are built on ``x``'s device.
        y: their labels ``Tensor[M]``.
        n: number of canvases.
        canvas: side of the square canvas (>= 28).
        n_distractors: fragments per canvas.
        fragment: side of each fragment (<= 28).
        seed: the same seed gives the same canvases (on the same device).

    Returns:
        A :class:`ClutteredMNIST`.
    """
    if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected MNIST digits (M, 1, 28, 28), got shape {tuple(x.shape)}")
    if canvas < 28:
        raise ValueError(f"canvas must be >= 28 pixels, got {canvas}")
    if not 1 <= fragment <= 28:
        raise ValueError(f"fragment must be in [1, 28], got {fragment}")
    if n < 1 or n_distractors < 0:
        raise ValueError("n must be >= 1 and n_distractors >= 0")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError("x must hold pixels in [0, 1] (load_mnist(normalize=False))")
    dev = x.device
    g = torch.Generator(device="cpu").manual_seed(seed)

    def randint(high: int, *shape: int) -> Tensor:
        return torch.randint(0, high, shape, generator=g).to(dev)

    m = len(x)
    src = randint(m, n)
    digits = x[src, 0]  # (n, 28, 28)
    images = torch.zeros(n, canvas, canvas, device=dev, dtype=x.dtype)
    if n_distractors:
        k = n * n_distractors
        frag_src = randint(m, k)
        fy, fx = randint(28 - fragment + 1, k), randint(28 - fragment + 1, k)
        rows = fy.view(k, 1, 1) + torch.arange(fragment, device=dev).view(1, fragment, 1)
        cols = fx.view(k, 1, 1) + torch.arange(fragment, device=dev).view(1, 1, fragment)
        frags = x[frag_src.view(k, 1, 1), 0, rows, cols]  # (k, fragment, fragment)
        ft, fl = randint(canvas - fragment + 1, k), randint(canvas - fragment + 1, k)
        for j in range(n_distractors):  # one vectorized pass per distractor slot (overlaps combine by max)
            sel = torch.arange(n, device=dev) * n_distractors + j
            _paste_max(images, frags[sel], ft[sel], fl[sel])
    top, left = randint(canvas - 27, n), randint(canvas - 27, n)
    _paste_max(images, digits, top, left)
    ink = digits > 0.1
    any_row, any_col = ink.any(2), ink.any(1)  # (n, 28)
    ar = torch.arange(28, device=dev)
    y1 = torch.where(any_row, ar, 28).amin(1)
    y2 = torch.where(any_row, ar + 1, 0).amax(1)
    x1 = torch.where(any_col, ar, 28).amin(1)
    x2 = torch.where(any_col, ar + 1, 0).amax(1)
    boxes = torch.stack([left + x1, top + y1, left + x2, top + y2], 1)
    return ClutteredMNIST(images.unsqueeze(1), y[src].to(dev), boxes, src)
