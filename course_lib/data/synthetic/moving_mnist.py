"""Moving MNIST clips for tracking: digits moving at constant velocity and bouncing off the canvas edges.

As in Srivastava, Mansimov & Salakhutdinov 2015 ("Unsupervised learning of video representations using LSTMs":
28x28 digits on a 64x64 canvas, random direction and speed, reflected at the edges), with what tracking needs
(UvA "Tracking": SINT, Tao et al. 2016; SiamFC, Bertinetto et al. 2016): the tight box of every digit in every
frame, and optional distractor digits moving the same way. Slot 0 of each clip is the target; slots ``1..``
are distractors (by default of other classes than the target's, so that "the first frame's digit" is defined).
Pixels combine by maximum. Built by seeded, vectorized code on the digits' device.

Motion: the patch corner moves ``p_t = p_0 + v t`` folded into ``[0, S - 28]`` by reflection (a triangle wave),
rounded to whole pixels, so every box stays inside the canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...ops.canvas import ink_boxes
from ._canvas import check_digits, paste_max


@dataclass
class MovingMNIST:
    """``clips``: ``Tensor[N, T, 1, S, S]`` in [0, 1]; ``boxes``: ``Tensor[N, T, K, 4]`` int64 (x1, y1, x2, y2, pixel
    edges, x2/y2 exclusive) of each digit's ink; ``corners``: ``Tensor[N, T, K, 2]`` (top, left) of each 28x28 patch;
    ``labels``: ``Tensor[N, K]``; ``source``: ``Tensor[N, K]`` index of each digit in the source tensor."""

    clips: Tensor
    boxes: Tensor
    corners: Tensor
    labels: Tensor
    source: Tensor

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def target_boxes(self) -> Tensor:
        """``Tensor[N, T, 4]``: the boxes of the tracked digit (slot 0)."""
        return self.boxes[:, :, 0]


def bounce(start: Tensor, velocity: Tensor, frames: int, high: float) -> Tensor:
    """Positions ``Tensor[..., T]`` of points starting at ``start`` with ``velocity`` (per frame), reflected at 0 and
    ``high``: the triangle wave ``high - |((start + v t) mod 2 high) - high|``."""
    t = torch.arange(frames, device=start.device, dtype=start.dtype)
    u = (start[..., None] + velocity[..., None] * t) % (2 * high)
    return high - (u - high).abs()


def make_moving_mnist(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    frames: int = 20,
    canvas: int = 64,
    n_distractors: int = 0,
    speed: tuple[float, float] = (2.0, 4.0),
    distinct_classes: bool = True,
    seed: int = 0,
) -> MovingMNIST:
    """Build ``n`` clips of ``frames`` frames from MNIST digits ``x`` (``Tensor[M, 1, 28, 28]`` in [0, 1]).

    Args:
        x, y: source digits, unnormalized (``load_mnist(normalize=False)``), and their labels.
        canvas: side of the square canvas (> 28).
        n_distractors: digits besides the target in each clip.
        speed: (min, max) pixels per frame; the direction is uniform on the circle.
        distinct_classes: draw distractors from other classes than the target's.
        seed: the same seed gives the same clips (on the same device).
    """
    check_digits(x, y)
    if n < 1 or frames < 1 or canvas <= 28 or n_distractors < 0 or not 0 <= speed[0] <= speed[1]:
        raise ValueError(
            f"need n, frames >= 1, canvas > 28, n_distractors >= 0, 0 <= speed; got {n}, {frames}, {canvas}, "
            f"{n_distractors}, {speed}"
        )
    dev, k = x.device, 1 + n_distractors
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, len(x), (n, k), generator=g).to(dev)
    if distinct_classes and n_distractors:
        y_cpu = y.cpu()
        for _ in range(100):  # redraw distractors of the target's class (vectorized; a few rounds suffice)
            same = (y_cpu[src[:, 1:].cpu()] == y_cpu[src[:, :1].cpu()]).to(dev)
            if not same.any():
                break
            src[:, 1:][same] = torch.randint(0, len(x), (int(same.sum()),), generator=g).to(dev)
        else:
            raise ValueError("could not draw distractors of other classes: does y hold a single class?")
    high = float(canvas - 28)
    start = torch.rand(n, k, 2, generator=g) * high
    angle = torch.rand(n, k, generator=g) * 2 * math.pi
    rate = speed[0] + torch.rand(n, k, generator=g) * (speed[1] - speed[0])
    velocity = torch.stack([angle.sin(), angle.cos()], -1) * rate[..., None]  # (n, k, 2) rows, columns
    corners = bounce(start, velocity, frames, high).round().long().permute(0, 3, 1, 2).to(dev)  # (n, T, k, 2)
    digits = x[src, 0]  # (n, k, 28, 28)
    images = torch.zeros(n * frames, canvas, canvas, device=dev, dtype=x.dtype)
    for slot in range(k):  # vectorized over every clip and frame
        patch = digits[:, slot, None].expand(-1, frames, -1, -1).reshape(n * frames, 28, 28)
        top, left = corners[:, :, slot, 0].reshape(-1), corners[:, :, slot, 1].reshape(-1)
        paste_max(images, patch, top, left)
    ink = ink_boxes(digits.flatten(0, 1) > 0).view(n, 1, k, 4)  # in the patch
    shift = corners.flip(-1).repeat(1, 1, 1, 2)  # (left, top, left, top)
    boxes = torch.where(ink.sum(-1, keepdim=True) > 0, ink + shift, torch.zeros_like(ink + shift))
    return MovingMNIST(images.view(n, frames, 1, canvas, canvas), boxes, corners, y[src], src)
