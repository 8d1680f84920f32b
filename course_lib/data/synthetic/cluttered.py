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
import torch.nn.functional as F
from torch import Tensor

from ...ops.canvas import ink_boxes
from ._canvas import check_canvas, check_digits, cut, paste_max


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


def make_cluttered_mnist(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    canvas: int = 60,
    n_distractors: int = 4,
    fragment: int = 8,
    zoom: int = 1,
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
        zoom: an integer upscaling of the finished canvases (bilinear), boxes scaled with them: ``zoom=2`` gives the
            same scenes at twice the resolution, side ``zoom * canvas`` (digits, fragments and positions alike).
        seed: the same seed gives the same canvases (on the same device).

    Returns:
        A :class:`ClutteredMNIST`.
    """
    check_digits(x, y)
    check_canvas(n, canvas, fragment)
    if zoom < 1:
        raise ValueError(f"zoom must be an integer >= 1, got {zoom}")
    if n_distractors < 0:
        raise ValueError(f"n_distractors must be >= 0, got {n_distractors}")
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
        frags = cut(x, frag_src, fy, fx, fragment)  # (k, fragment, fragment)
        ft, fl = randint(canvas - fragment + 1, k), randint(canvas - fragment + 1, k)
        for j in range(n_distractors):  # one vectorized pass per distractor slot (overlaps combine by max)
            sel = torch.arange(n, device=dev) * n_distractors + j
            paste_max(images, frags[sel], ft[sel], fl[sel])
    top, left = randint(canvas - 27, n), randint(canvas - 27, n)
    paste_max(images, digits, top, left)
    boxes = ink_boxes(digits > 0.1) + torch.stack([left, top, left, top], 1)  # the digit's ink, on the canvas
    images = images.unsqueeze(1)
    if zoom > 1:
        images = F.interpolate(images, scale_factor=zoom, mode="bilinear", align_corners=False).clamp_(0, 1)
        boxes = boxes * zoom
    return ClutteredMNIST(images, y[src].to(dev), boxes, src)
