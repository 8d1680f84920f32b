"""Boxes (x1, y1, x2, y2; pixel edges, x2/y2 exclusive): masks of boxes, the box around a thresholded map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


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


def map_to_box(maps: Tensor, threshold: float = 0.5) -> Tensor:
    """Box around the pixels where the min-max normalized map is >= ``threshold``: ``Tensor[P, H, W]`` -> ``Tensor[P, 4]``."""
    if maps.dim() != 3 or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"expected maps (P, H, W) and a threshold in [0, 1], got {tuple(maps.shape)} and {threshold}")
    flat = maps.flatten(1)
    lo, hi = flat.amin(1).view(-1, 1, 1), flat.amax(1).view(-1, 1, 1)
    on = (maps - lo) >= threshold * (hi - lo)  # (P, H, W); the maximum is always on
    _, h, w = maps.shape
    rows, cols = on.any(2), on.any(1)
    ar_h, ar_w = torch.arange(h, device=maps.device), torch.arange(w, device=maps.device)
    y1, y2 = torch.where(rows, ar_h, h).amin(1), torch.where(rows, ar_h + 1, 0).amax(1)
    x1, x2 = torch.where(cols, ar_w, w).amin(1), torch.where(cols, ar_w + 1, 0).amax(1)
    return torch.stack([x1, y1, x2, y2], 1).float()


def upsample_maps(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of class maps ``Tensor[N, C, h, w]`` -> ``Tensor[N, C, H, W]``."""
    if maps.dim() != 4:
        raise ValueError(f"expected maps (N, C, h, w), got shape {tuple(maps.shape)}")
    return F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=False)
