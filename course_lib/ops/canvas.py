"""Boxes on the pixel canvas (x1, y1, x2, y2; pixel edges, x2/y2 exclusive): masks of boxes, tight boxes of masks,
the box around a thresholded map, the advanced-indexing triplet of one window per image (paste or cut without a
loop) and the zero-padded patch around one centre per image (a tracker's template). The detection boxes of the
R-CNN family (continuous coordinates, anchors, matching, NMS) are in :mod:`course_lib.ops.boxes`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .cam import largest_component as _largest_component


def boxes_to_masks(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Boolean masks ``Tensor[..., H, W]`` of boxes ``Tensor[..., 4]`` (x1, y1, x2, y2 pixel edges, x2/y2 exclusive)."""
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must end with 4 coordinates, got shape {tuple(boxes.shape)}")
    h, w = size
    ys = torch.arange(h, device=boxes.device, dtype=boxes.dtype).view(h, 1)
    xs = torch.arange(w, device=boxes.device, dtype=boxes.dtype).view(1, w)
    b = boxes[..., None, None, :]  # (..., 1, 1, 4)
    return (xs >= b[..., 0]) & (xs < b[..., 2]) & (ys >= b[..., 1]) & (ys < b[..., 3])


def class_box_masks(boxes: Tensor, digits: Tensor, n_classes: int, size: tuple[int, int]) -> Tensor:
    """Union of each class's boxes: ``Tensor[N, K, 4]`` boxes, ``Tensor[N, K]`` classes (-1 empty) -> ``Tensor[N, C, H, W]``."""
    masks = boxes_to_masks(boxes, size)  # (N, K, H, W)
    onehot = digits.unsqueeze(2) == torch.arange(n_classes, device=digits.device).view(1, 1, -1)  # (N, K, C)
    return (onehot.unsqueeze(-1).unsqueeze(-1) & masks.unsqueeze(2)).any(1)


def window_indices(top: Tensor, left: Tensor, height: int, width: int) -> tuple[Tensor, Tensor, Tensor]:
    """Advanced-indexing triplet ``(image, row, col)`` of one ``height x width`` window per image.

    Args:
        top, left: ``Tensor[N]`` integer corner of image ``i``'s window.
        height, width: the window's size.

    Returns:
        three ``Tensor[N, height, width]`` (int64): ``images[window_indices(top, left, h, w)]`` is
        ``stack([images[i, top[i] : top[i] + h, left[i] : left[i] + w] for i in range(N)])`` for ``images``
        ``Tensor[N, H, W]`` (or ``Tensor[N, H, W, C]``), and assigning to it pastes one patch per image.
    """
    if top.dim() != 1 or top.shape != left.shape or height < 1 or width < 1:
        raise ValueError(
            f"expected top and left of shape (N,) and a positive size, got {tuple(top.shape)}, {tuple(left.shape)}, "
            f"{height}x{width}"
        )
    n, dev = len(top), top.device
    rows = (top.long().view(n, 1, 1) + torch.arange(height, device=dev).view(1, height, 1)).expand(n, height, width)
    cols = (left.long().view(n, 1, 1) + torch.arange(width, device=dev).view(1, 1, width)).expand(n, height, width)
    image = torch.arange(n, device=dev).view(n, 1, 1).expand(n, height, width)
    return image, rows, cols


def crop_patches(frames: Tensor, centres: Tensor, size: int) -> Tensor:
    """``size x size`` patches of ``frames`` ``Tensor[B, C, H, W]`` centred (rounded down) on ``centres``
    ``Tensor[B, 2]`` (row, column); zeros outside the frame. ``Tensor[B, C, size, size]``.

    One patch per image by :func:`window_indices` (no loop): the templates of a Siamese tracker (SINT, Tao et al.
    2016) and the patches of its training pairs.
    """
    if frames.dim() != 4 or centres.shape != (len(frames), 2) or size < 1:
        raise ValueError(
            f"expected frames (B, C, H, W), centres (B, 2) and a positive size, got {tuple(frames.shape)}, "
            f"{tuple(centres.shape)}, {size}"
        )
    pad = size
    padded = F.pad(frames, (pad, pad, pad, pad))
    top = centres.floor().long() - size // 2 + pad
    top = torch.stack([top[:, 0].clamp(0, padded.shape[-2] - size), top[:, 1].clamp(0, padded.shape[-1] - size)], 1)
    return padded.permute(0, 2, 3, 1)[window_indices(top[:, 0], top[:, 1], size, size)].permute(0, 3, 1, 2)


def ink_boxes(mask: Tensor) -> Tensor:
    """Tight boxes of boolean masks: ``Tensor[N, H, W]`` -> ``Tensor[N, 4]`` int64 (x1, y1, x2, y2; x2/y2 exclusive).

    The smallest box holding every ``True`` pixel of each mask (``torchvision.ops.masks_to_boxes`` plus one on
    x2 and y2); an empty mask gives the empty box ``(0, 0, 0, 0)``.
    """
    if mask.dim() != 3:
        raise ValueError(f"expected masks (N, H, W), got shape {tuple(mask.shape)}")
    mask = mask.bool()
    _, h, w = mask.shape
    rows, cols = mask.any(2), mask.any(1)  # (N, H), (N, W)
    ar_h, ar_w = torch.arange(h, device=mask.device), torch.arange(w, device=mask.device)
    y1, y2 = torch.where(rows, ar_h, h).amin(1), torch.where(rows, ar_h + 1, 0).amax(1)
    x1, x2 = torch.where(cols, ar_w, w).amin(1), torch.where(cols, ar_w + 1, 0).amax(1)
    boxes = torch.stack([x1, y1, x2, y2], 1)
    return torch.where(rows.any(1, keepdim=True), boxes, torch.zeros_like(boxes))


def map_to_box(
    maps: Tensor, threshold: float = 0.5, *, relative_to: str = "range", largest_component: bool = False
) -> Tensor:
    """Box around the pixels of each map above a relative threshold: ``Tensor[P, H, W]`` -> ``Tensor[P, 4]``.

    ``relative_to="range"``: the pixels where the min-max normalized map is >= ``threshold``;
    ``relative_to="max"``: the pixels >= ``threshold * max`` (a map whose maximum is <= 0 keeps its maximum only).
    With ``largest_component=True`` the box covers only the largest 8-connected component of those pixels.
    The CAM paper's recipe (Zhou et al. 2016, section 3) is ``threshold=0.2, relative_to="range",
    largest_component=True``: "the regions of which the value is above 20% of the max value of the CAM", then "the
    bounding box that covers the largest connected component"; the authors' code (github.com/zhoubolei/CAM) first
    normalizes each map to [0, 1] (``cam - np.min(cam)``, ``cam / np.max(cam)``), so the 20% are of the range.
    The maximum is always kept: no box is empty.
    """
    if maps.dim() != 3 or not 0.0 <= threshold <= 1.0 or relative_to not in ("range", "max"):
        raise ValueError(
            f"expected maps (P, H, W), a threshold in [0, 1] and relative_to 'range' or 'max', got {tuple(maps.shape)}, "
            f"{threshold} and {relative_to!r}"
        )
    flat = maps.flatten(1)
    lo, hi = flat.amin(1).view(-1, 1, 1), flat.amax(1).view(-1, 1, 1)
    if relative_to == "range":
        on = (maps - lo) >= threshold * (hi - lo)  # (P, H, W); the maximum is always on
    else:
        on = (maps >= threshold * hi.clamp(min=0)) | (maps == hi)
    if largest_component:
        on = _largest_component(on)  # the CAM paper's step, defined with the CAMs
    return ink_boxes(on).float()


def upsample_maps(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of class maps ``Tensor[N, C, h, w]`` -> ``Tensor[N, C, H, W]``."""
    if maps.dim() != 4:
        raise ValueError(f"expected maps (N, C, h, w), got shape {tuple(maps.shape)}")
    return F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=False)
