"""From sliding windows to proposals: windows, region crops, integral images, an attentional cascade.

Lectures: RCP209 "Localization / Alignment" (Thome), UvA "Beyond classification" and the CVPR-style
lecture on detection. Classify *regions* instead of the whole image:

- **sliding windows**: every ``k x k`` window at stride ``s``; an ``H x W`` image has
  ``(floor((H - k) / s) + 1) * (floor((W - k) / s) + 1)`` of them (:func:`num_windows`), cut by one
  ``F.unfold`` call (:func:`sliding_windows`);
- **R-CNN** (Girshick et al. 2014): a few class-agnostic *proposals* -> crop and resize each one
  (:func:`crop_boxes`, ``torchvision.ops.roi_align``) -> CNN -> classify (C classes + background);
- a simple **proposal** method (:func:`propose`): rank windows of a few sizes by a cheap objectness
  score (ink inside the box minus ink on a ring around it, so the box encloses a whole blob), keep the
  top ``k`` after non-maximum suppression;
- the **attentional cascade** of Viola & Jones (2001): box features computed in O(1) per box from an
  integral image (:func:`integral_image`, :func:`box_sums`, :func:`box_features`); each stage rejects
  windows whose feature is below a threshold set to keep nearly all object windows (:func:`fit_cascade`),
  so the expensive classifier only sees the few survivors (:func:`cascade_keep`).

Everything is vectorized over images and windows (no Python loop over windows).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align


def _check_images(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")


def num_windows(height: int, width: int, window: int, stride: int) -> int:
    """Number of ``window x window`` windows at ``stride`` in a ``height x width`` image."""
    if window < 1 or stride < 1 or window > min(height, width):
        raise ValueError(f"need 1 <= window <= min(height, width) and stride >= 1, got window={window}, stride={stride}")
    return ((height - window) // stride + 1) * ((width - window) // stride + 1)


def window_boxes(height: int, width: int, window: int, stride: int, device: torch.device | str | None = None) -> Tensor:
    """Boxes ``Tensor[K, 4]`` (x1, y1, x2, y2; pixel edges, x2/y2 exclusive) of the sliding windows, row by row
    (the order of :func:`sliding_windows` and ``F.unfold``)."""
    num_windows(height, width, window, stride)  # validates
    ys = torch.arange(0, height - window + 1, stride, device=device)
    xs = torch.arange(0, width - window + 1, stride, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    gx, gy = gx.flatten(), gy.flatten()
    return torch.stack([gx, gy, gx + window, gy + window], 1)


def sliding_windows(x: Tensor, window: int, stride: int) -> Tensor:
    """All ``window x window`` crops at ``stride``: ``Tensor[B, C, H, W] -> Tensor[B, K, C, window, window]``."""
    _check_images(x)
    b, c, h, w = x.shape
    k = num_windows(h, w, window, stride)
    cols = F.unfold(x, window, stride=stride)  # (B, C * window * window, K)
    return cols.transpose(1, 2).reshape(b, k, c, window, window)


def square_boxes(boxes: Tensor, margin: float = 0.0, min_side: float = 0.0) -> Tensor:
    """Square boxes ``Tensor[..., 4]`` with the same centres: side ``max(w, h, min_side) + 2 * margin``
    (``min_side=28`` turns a digit's tight box into the 28x28 window centred on it)."""
    if boxes.shape[-1] != 4:
        raise ValueError(f"expected boxes (..., 4), got shape {tuple(boxes.shape)}")
    b = boxes.float()
    cx, cy = (b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2
    half = torch.maximum(torch.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]), torch.full_like(cx, min_side)) / 2 + margin
    return torch.stack([cx - half, cy - half, cx + half, cy + half], -1)


def crop_boxes(x: Tensor, boxes: Tensor | list[Tensor], out_size: int) -> Tensor:
    """Crop and resize boxes to ``out_size x out_size`` (``torchvision.ops.roi_align``, bilinear, ``aligned=True``).

    Args:
        x: images ``Tensor[B, C, H, W]``.
        boxes: ``Tensor[B, K, 4]`` (K boxes per image), a list of ``Tensor[K_i, 4]`` (one per image), or
            ``Tensor[N, 5]`` (image index, x1, y1, x2, y2); coordinates are pixel edges.

    Returns:
        ``Tensor[N, C, out_size, out_size]``, boxes in order (image by image). A box on integer edges whose
        side is ``out_size`` gives exactly ``x[..., y1:y2, x1:x2]``.
    """
    _check_images(x)
    if isinstance(boxes, Tensor) and boxes.dim() == 3:
        if boxes.shape[0] != x.shape[0] or boxes.shape[2] != 4:
            raise ValueError(f"expected boxes ({x.shape[0]}, K, 4), got shape {tuple(boxes.shape)}")
        idx = torch.arange(len(x), device=x.device, dtype=x.dtype).repeat_interleave(boxes.shape[1])
        boxes = torch.cat([idx[:, None], boxes.reshape(-1, 4).to(x.device, x.dtype)], 1)
    elif isinstance(boxes, list | tuple):
        boxes = [b.to(x.device, x.dtype) for b in boxes]
    else:
        boxes = boxes.to(x.device, x.dtype)
    # one sample per output bin when the box is no bigger than the output: the bin's centre (pure resampling)
    return roi_align(x, boxes, out_size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)


def integral_image(x: Tensor) -> Tensor:
    """Summed-area table with a leading zero row and column: ``Tensor[B, C, H, W] -> Tensor[B, C, H + 1, W + 1]``.

    ``ii[..., y, x] = sum of x[..., :y, :x]`` (Viola & Jones 2001; Crow 1984). Accumulated and returned in
    float64 (float32 on MPS, which has no float64): a box sum is a difference of four large totals, and float32's
    24-bit mantissa loses whole units once a total passes 2**24 (a 1024x1024 image of values up to 255 does);
    float64 keeps integer sums exact up to 2**53.
    """
    _check_images(x)
    acc = torch.float32 if x.device.type == "mps" else torch.float64
    return F.pad(x.to(acc).cumsum(2).cumsum(3), (1, 0, 1, 0))


def box_sums(ii: Tensor, boxes: Tensor) -> Tensor:
    """Sums over integer boxes from an integral image, four reads per box.

    Args:
        ii: ``Tensor[B, C, H + 1, W + 1]`` from :func:`integral_image`.
        boxes: integer (x1, y1, x2, y2) pixel edges, ``Tensor[K, 4]`` (the same boxes in every image) or
            ``Tensor[B, K, 4]``; clamped to the image.

    Returns:
        ``Tensor[B, C, K]``, in the integral image's dtype.
    """
    if ii.dim() != 4:
        raise ValueError(f"expected an integral image (B, C, H+1, W+1), got shape {tuple(ii.shape)}")
    b, c, hp, wp = ii.shape
    boxes = boxes.to(ii.device).long()
    if boxes.dim() == 2:
        boxes = boxes.unsqueeze(0).expand(b, -1, -1)
    if boxes.dim() != 3 or boxes.shape[0] != b or boxes.shape[2] != 4:
        raise ValueError(f"expected boxes (K, 4) or ({b}, K, 4), got shape {tuple(boxes.shape)}")
    x1, x2 = boxes[..., 0].clamp(0, wp - 1), boxes[..., 2].clamp(0, wp - 1)
    y1, y2 = boxes[..., 1].clamp(0, hp - 1), boxes[..., 3].clamp(0, hp - 1)
    flat = ii.flatten(2)  # (B, C, (H+1)(W+1))

    def read(yy: Tensor, xx: Tensor) -> Tensor:
        return flat.gather(2, (yy * wp + xx).unsqueeze(1).expand(b, c, -1))  # (B, C, K)

    return read(y2, x2) - read(y1, x2) - read(y2, x1) + read(y1, x1)


def box_features(ii: Tensor, boxes: Tensor, ring: int = 4) -> Tensor:
    """Three Haar-like box features per window, each O(1) from the integral image of a 1-channel image.

    - ``density``: mean ink in the box;
    - ``centre``: mean ink in the central half of the box minus mean ink in the box (objects are centred);
    - ``isolation``: ink in the box minus ink on a ring of width ``ring`` around it, over the box area
      (the box encloses a whole blob rather than cutting through one).

    Args:
        ii: ``Tensor[B, 1, H + 1, W + 1]``.
        boxes: ``Tensor[K, 4]`` or ``Tensor[B, K, 4]`` integer boxes.

    Returns:
        ``Tensor[B, K, 3]``.
    """
    if ii.shape[1] != 1:
        raise ValueError(f"box_features expects a 1-channel integral image, got {ii.shape[1]} channels")
    boxes = boxes.long()
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    area = (w * h).clamp(min=1).float()
    inner = torch.stack([boxes[..., 0] + w // 4, boxes[..., 1] + h // 4, boxes[..., 2] - w // 4, boxes[..., 3] - h // 4], -1)
    outer = boxes + torch.tensor([-ring, -ring, ring, ring], device=boxes.device)
    s_box, s_inner, s_outer = (box_sums(ii, bb)[:, 0] for bb in (boxes, inner, outer))  # (B, K) each
    area_inner = ((inner[..., 2] - inner[..., 0]) * (inner[..., 3] - inner[..., 1])).clamp(min=1).float()
    density = s_box / area
    centre = s_inner / area_inner - density
    isolation = (2 * s_box - s_outer) / area  # box minus ring = s_box - (s_outer - s_box)
    return torch.stack([density, centre, isolation], -1)
