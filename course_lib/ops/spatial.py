"""Spatial transformer networks (Jaderberg, Simonyan, Zisserman & Kavukcuoglu, NIPS 2015).

Lectures: RCP209 "Localization / Alignment" (Thome), UvA "Beyond classification", the CVPR-style
lecture on spatial transformers. A spatial transformer has three parts:

1. a **localisation net** regresses the six numbers of an affine map ``theta`` from the image;
2. a **grid generator** maps each output pixel's normalized coordinates ``(x_t, y_t)`` to the
   input coordinates ``(x_s, y_s) = theta @ (x_t, y_t, 1)`` (``F.affine_grid``);
3. a **sampler** reads the input there, bilinearly (``F.grid_sample``); bilinear sampling is
   differentiable in the image and in the sampling positions, so ``theta`` is learned from the
   classification loss alone, with no pose labels.

Coordinates are normalized to [-1, 1] (x right, y down) in both images, so the lecture's examples are:
identity ``[[1, 0, 0], [0, 1, 0]]``; zoom in by 2 ``[[.5, 0, 0], [0, .5, 0]]`` (the output shows the
central half of the input); zoom out ``[[2, 0, 0], [0, 2, 0]]`` (the input shrinks to the central half of
the output); a rotation ``[[cos a, -sin a, 0], [sin a, cos a, 0]]`` (the content turns by ``a`` counter-clockwise
on screen, as ``torchvision``'s ``rotate``); a last column ``(t_x, t_y)`` moves the window the output reads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def transform(
    x: Tensor, theta: Tensor, out_size: int | tuple[int, int] | None = None, *, padding_mode: str = "zeros"
) -> Tensor:
    """Sample ``x`` on the affine grid ``theta``: grid generator + bilinear sampler of an STN.

    Args:
        x: images ``Tensor[B, C, H, W]``.
        theta: affine maps ``Tensor[B, 2, 3]`` (or ``Tensor[2, 3]``, shared by the batch), from output to
            input normalized coordinates: ``(x_s, y_s) = theta @ (x_t, y_t, 1)``.
        out_size: output ``(H', W')`` or one side (default: the input's ``(H, W)``).
        padding_mode: value read outside the input (``"zeros"``, ``"border"``, ``"reflection"``).

    Returns:
        ``Tensor[B, C, H', W']``. ``align_corners=False``: with the identity and ``out_size = (H, W)``
        every output pixel centre falls on an input pixel centre, so the input comes back unchanged.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    theta = theta.to(x.device, x.dtype)
    if theta.dim() == 2:
        theta = theta.unsqueeze(0).expand(len(x), 2, 3)
    if theta.shape != (len(x), 2, 3):
        raise ValueError(f"expected theta of shape ({len(x)}, 2, 3) or (2, 3), got {tuple(theta.shape)}")
    if out_size is None:
        out_size = (x.shape[2], x.shape[3])
    elif isinstance(out_size, int):
        out_size = (out_size, out_size)
    grid = F.affine_grid(theta, [len(x), x.shape[1], *out_size], align_corners=False)  # (B, H', W', 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def make_theta(
    angle: float | Tensor = 0.0,
    scale: float | Tensor = 1.0,
    translate: tuple[float, float] | Tensor = (0.0, 0.0),
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """The lecture's ``theta`` from a rotation, a zoom and a shift, for square images.

    ``theta = [[s cos a, -s sin a, t_x], [s sin a, s cos a, t_y]]`` (normalized coordinates, y down).
    ``scale < 1`` zooms in (the output shows a smaller part of the input), ``scale > 1`` zooms out;
    ``angle`` (degrees) > 0 turns the image counter-clockwise on screen, as ``torchvision``'s ``rotate``.

    Args:
        angle: degrees, a number or ``Tensor[B]``.
        scale: a number or ``Tensor[B]``.
        translate: where the output's centre reads in the input, in normalized units, ``(2,)`` or ``Tensor[B, 2]``.
        device: where to build ``theta`` (default: the device of the tensor arguments, else the CPU).

    Any mix of scalar and batched arguments is broadcast to one batch.

    Returns:
        ``Tensor[2, 3]`` for scalar arguments, else ``Tensor[B, 2, 3]``.
    """
    if device is None:
        device = next((v.device for v in (angle, scale, translate) if isinstance(v, Tensor)), None)
    a = torch.as_tensor(angle, dtype=torch.float32, device=device) * (math.pi / 180.0)
    s = torch.as_tensor(scale, dtype=torch.float32, device=device)
    t = torch.as_tensor(translate, dtype=torch.float32, device=device)
    if t.shape[-1:] != (2,):
        raise ValueError(f"translate must be (t_x, t_y) or Tensor[B, 2], got shape {tuple(t.shape)}")
    a, s, tx, ty = torch.broadcast_tensors(a, s, t[..., 0], t[..., 1])
    cos, sin = torch.cos(a) * s, torch.sin(a) * s
    # the output at p reads the input at s R(a) p + t; with y pointing down this turns the content
    # counter-clockwise on screen (pinned against torchvision's rotate and torch.rot90 by the tests)
    row1 = torch.stack([cos, -sin, tx], -1)
    row2 = torch.stack([sin, cos, ty], -1)
    return torch.stack([row1, row2], -2)
