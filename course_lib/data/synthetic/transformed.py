"""Digits moved on a canvas, and rotated/scaled/translated cluttered MNIST (RTS), for notebook 05b.

- :func:`place_on_canvas`: each digit pasted at its own integer offset on a blank canvas (the
  lecture's "CNN invariance is limited" experiment: accuracy as the digit moves away from where
  the network saw digits during training).
- :func:`make_rts_cluttered_mnist`: as Jaderberg et al. 2015 ("Spatial transformer networks",
  section 4.1, the RTS and cluttered MNIST variants): every digit is first rotated by an angle drawn in
  ``[-degrees, degrees]`` and scaled by a factor drawn in ``scale`` (:func:`course_lib.data.affine`,
  one ``grid_sample`` call for the batch), then placed at a random position among distractor
  fragments by :func:`course_lib.data.make_cluttered_mnist`. Seeded and vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...ops.canvas import window_indices
from ..transforms.augment import affine
from ._canvas import check_canvas, check_digits, check_interval
from .cluttered import ClutteredMNIST, make_cluttered_mnist


def place_on_canvas(x: Tensor, canvas: int, top: Tensor, left: Tensor) -> Tensor:
    """Paste images ``Tensor[N, C, h, w]`` on a zero ``canvas x canvas``, image ``i`` at ``(top[i], left[i])``.

    Returns:
        ``Tensor[N, C, canvas, canvas]``. Raises ``ValueError`` if an image would leave the canvas.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (N, C, h, w), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    top, left = torch.as_tensor(top, device=x.device).long(), torch.as_tensor(left, device=x.device).long()
    if top.shape != (n,) or left.shape != (n,):
        raise ValueError(f"top and left must have shape ({n},), got {tuple(top.shape)} and {tuple(left.shape)}")
    if bool((top < 0).any() | (left < 0).any() | (top + h > canvas).any() | (left + w > canvas).any()):
        raise ValueError(f"every {h}x{w} image must fit inside the {canvas}x{canvas} canvas")
    out = torch.zeros(n, c, canvas, canvas, device=x.device, dtype=x.dtype)
    out.permute(0, 2, 3, 1)[window_indices(top, left, h, w)] = x.permute(0, 2, 3, 1)  # channels last: (n, h, w, C)
    return out


@dataclass
class RTSClutteredMNIST(ClutteredMNIST):
    """A :class:`ClutteredMNIST` whose digits were rotated and scaled first: ``angle`` (degrees) and
    ``scale`` ``Tensor[N]`` of each canvas's digit."""

    angle: Tensor | None = None
    scale: Tensor | None = None


def make_rts_cluttered_mnist(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    canvas: int = 60,
    degrees: float = 45.0,
    scale: tuple[float, float] = (0.7, 1.2),
    n_distractors: int = 4,
    fragment: int = 8,
    seed: int = 0,
) -> RTSClutteredMNIST:
    """``n`` canvases, each a rotated, scaled, randomly placed MNIST digit among distractor fragments.

    Args:
        x: source digits ``Tensor[M, 1, 28, 28]`` in [0, 1] (``load_mnist(normalize=False)``).
        y: their labels ``Tensor[M]``.
        n: number of canvases.
        canvas: side of the canvas (>= 28).
        degrees: rotations drawn uniformly in ``[-degrees, degrees]`` (Jaderberg et al.: 45).
        scale: zoom drawn uniformly in ``[scale[0], scale[1]]`` (Jaderberg et al.: 0.7 to 1.2).
        n_distractors, fragment: as :func:`make_cluttered_mnist` (fragments come from transformed digits too).
        seed: the same seed gives the same canvases (on the same device).
    """
    check_digits(x, y)
    check_canvas(n, canvas, fragment)
    check_interval("scale", scale[0], scale[1], 0, strict=True)
    if degrees < 0:
        raise ValueError(f"degrees must be >= 0, got {degrees}")
    g = torch.Generator(device="cpu").manual_seed(seed + 7919)
    angle = (torch.rand(len(x), generator=g) * 2 - 1) * degrees
    zoom = torch.rand(len(x), generator=g) * (scale[1] - scale[0]) + scale[0]
    warped = affine(x, angle.to(x.device, x.dtype), (0.0, 0.0), zoom.to(x.device, x.dtype), padding_mode="zeros").clamp(
        0, 1
    )
    base = make_cluttered_mnist(warped, y, n, canvas=canvas, n_distractors=n_distractors, fragment=fragment, seed=seed)
    src = base.source.cpu()
    return RTSClutteredMNIST(
        base.images, base.labels, base.boxes, base.source, angle[src].to(x.device), zoom[src].to(x.device)
    )
