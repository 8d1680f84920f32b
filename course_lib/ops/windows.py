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
- the **attentional cascade** of Viola & Jones (2001): Haar-like box features computed in O(1) per box from
  an integral image (:func:`integral_image`, :func:`box_sums`, :func:`box_features`, :func:`haar_features`);
  each stage, a boosted classifier of stumps on them (``course_lib.methods.cascade``), rejects the windows it
  scores below a threshold set to keep nearly all objects, so the expensive classifier sees only the survivors.

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
        raise ValueError(
            f"need 1 <= window <= min(height, width) and stride >= 1, got window={window}, stride={stride}"
        )
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
    half = (
        torch.maximum(torch.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]), torch.full_like(cx, min_side)) / 2
        + margin
    )
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
    inner = torch.stack(
        [boxes[..., 0] + w // 4, boxes[..., 1] + h // 4, boxes[..., 2] - w // 4, boxes[..., 3] - h // 4], -1
    )
    outer = boxes + torch.tensor([-ring, -ring, ring, ring], device=boxes.device)
    s_box, s_inner, s_outer = (box_sums(ii, bb)[:, 0] for bb in (boxes, inner, outer))  # (B, K) each
    area_inner = ((inner[..., 2] - inner[..., 0]) * (inner[..., 3] - inner[..., 1])).clamp(min=1).float()
    density = s_box / area
    centre = s_inner / area_inner - density
    isolation = (2 * s_box - s_outer) / area  # box minus ring = s_box - (s_outer - s_box)
    return torch.stack([density, centre, isolation], -1)


HAAR_REGIONS = ("window", "top-left", "top-right", "bottom-left", "bottom-right", "centre")
HAAR_KINDS = ("mean", "left-right", "top-bottom", "centre column", "centre row")


def _haar_rectangles(boxes: Tensor) -> Tensor:
    """The 11 rectangles of each of the 6 regions of every window: ``Tensor[..., 4]`` -> ``Tensor[..., 66, 4]``.

    Per region: itself, its left / right halves, top / bottom halves, left / middle / right thirds of its
    columns, top / middle / bottom thirds of its rows (integer edges).
    """
    x1, y1, x2, y2 = boxes.unbind(-1)
    w, h = x2 - x1, y2 - y1
    regions = [  # (x1, y1, x2, y2) of each region, in HAAR_REGIONS order
        (x1, y1, x2, y2),
        (x1, y1, x1 + w // 2, y1 + h // 2),
        (x1 + w // 2, y1, x2, y1 + h // 2),
        (x1, y1 + h // 2, x1 + w // 2, y2),
        (x1 + w // 2, y1 + h // 2, x2, y2),
        (x1 + w // 4, y1 + h // 4, x2 - w // 4, y2 - h // 4),
    ]
    rects = []
    for a1, b1, a2, b2 in regions:
        rw, rh = a2 - a1, b2 - b1
        xm, ym, xt1, xt2, yt1, yt2 = a1 + rw // 2, b1 + rh // 2, a1 + rw // 3, a2 - rw // 3, b1 + rh // 3, b2 - rh // 3
        rects += [
            (a1, b1, a2, b2),
            (a1, b1, xm, b2),
            (xm, b1, a2, b2),
            (a1, b1, a2, ym),
            (a1, ym, a2, b2),
            (a1, b1, xt1, b2),
            (xt1, b1, xt2, b2),
            (xt2, b1, a2, b2),
            (a1, b1, a2, yt1),
            (a1, yt1, a2, yt2),
            (a1, yt2, a2, b2),
        ]
    return torch.stack([torch.stack(r, -1) for r in rects], -2)


def _haar_weights(device: torch.device | str | None) -> Tensor:
    """``Tensor[30, 66]``: each feature as a combination of the rectangles' mean ink (``_haar_rectangles`` order)."""
    one_region = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # mean
            [0, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0],  # left half minus right half (two rectangles)
            [0, 0, 0, 1, -1, 0, 0, 0, 0, 0, 0],  # top half minus bottom half
            [
                0,
                0,
                0,
                0,
                0,
                -0.5,
                1,
                -0.5,
                0,
                0,
                0,
            ],  # middle third of the columns minus the outer thirds (three rectangles)
            [0, 0, 0, 0, 0, 0, 0, 0, -0.5, 1, -0.5],  # middle third of the rows minus the outer thirds
        ],
        dtype=torch.float64,
        device=device,
    )
    return torch.block_diag(*[one_region] * len(HAAR_REGIONS))


def haar_features(ii: Tensor, boxes: Tensor, ring: int = 4) -> Tensor:
    """A bank of 31 Haar-like features per window, each a few reads of the integral image (Viola & Jones 2001).

    For each of 6 regions of the window (:data:`HAAR_REGIONS`: the window, its four quadrants, its central half)
    the 5 kinds of :data:`HAAR_KINDS`: mean ink, and the two-rectangle (left minus right, top minus bottom) and
    three-rectangle (middle third minus outer thirds, along columns and along rows) differences of mean ink;
    feature ``5 * region + kind``. The last feature (30) is the isolation of :func:`box_features` (ink in the
    window minus ink on a ring of width ``ring`` around it, over the window's area). Boosting chooses among them.

    Args:
        ii: ``Tensor[B, 1, H + 1, W + 1]`` from :func:`integral_image`.
        boxes: integer windows ``Tensor[K, 4]`` or ``Tensor[B, K, 4]`` (x1, y1, x2, y2), at least 6 pixels a side.

    Returns:
        ``Tensor[B, K, 31]`` (float32).
    """
    if ii.dim() != 4 or ii.shape[1] != 1:
        raise ValueError(
            f"haar_features expects a 1-channel integral image (B, 1, H+1, W+1), got shape {tuple(ii.shape)}"
        )
    boxes = boxes.to(ii.device).long()
    if boxes.shape[-1] != 4 or boxes.dim() not in (2, 3):
        raise ValueError(f"expected boxes (K, 4) or (B, K, 4), got shape {tuple(boxes.shape)}")
    side = torch.minimum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    if bool((side < 6).any()):
        raise ValueError("haar_features needs windows of at least 6x6 pixels (thirds of quadrants)")
    b = ii.shape[0]
    rects = _haar_rectangles(boxes)  # (K, 66, 4) or (B, K, 66, 4)
    k, m = rects.shape[-3], rects.shape[-2]
    sums = box_sums(ii, rects.reshape(*rects.shape[:-3], k * m, 4))[:, 0].view(b, k, m)  # (B, K, 66)
    area = ((rects[..., 2] - rects[..., 0]) * (rects[..., 3] - rects[..., 1])).clamp(min=1).to(sums.dtype)
    haar = (sums / area) @ _haar_weights(ii.device).to(sums.dtype).T  # (B, K, 30)
    isolation = box_features(ii, boxes, ring=ring)[..., 2:]  # (B, K, 1)
    return torch.cat([haar, isolation], -1).float()
