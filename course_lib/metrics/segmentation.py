"""Segmentation metrics: mean intersection over union (torchmetrics) and accuracy near label boundaries.

Lecture: UvA "Dense prediction" and RCP209 (DeepLab): mIoU over classes is the benchmark measure (PASCAL VOC:
per class, intersections and unions summed over the whole set, then averaged over classes); the dense CRF's
gain shows most near object boundaries, measured (as in Krähenbühl & Koltun 2011, Kohli et al. 2009's "trimap")
by the accuracy of the pixels within ``k`` pixels of a label boundary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.classification import multiclass_jaccard_index


def _check(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape or target.dim() != 3:
        raise ValueError(
            f"expected label maps Tensor[B, H, W] of one shape, got {tuple(pred.shape)}, {tuple(target.shape)}"
        )


def mean_iou(
    pred: Tensor, target: Tensor, n_classes: int, ignore_index: int | None = None, per_class: bool = False
) -> float | list[float]:
    """Dataset-level mIoU of label maps ``Tensor[B, H, W]`` (torchmetrics' ``multiclass_jaccard_index``).

    Each class's IoU sums its intersections and unions over every pixel of the batch; classes absent from both
    prediction and target count as 0 (torchmetrics' ``zero_division``). ``per_class``: the list of IoUs.
    """
    _check(pred, target)
    average = "none" if per_class else "macro"
    iou = multiclass_jaccard_index(pred, target, n_classes, average=average, ignore_index=ignore_index)
    return iou.tolist() if per_class else float(iou)


def boundary_band(target: Tensor, k: int = 2) -> Tensor:
    """``Tensor[B, H, W]`` bool: the pixels within ``k`` pixels (Chebyshev distance) of a pixel of another label,
    i.e. whose ``(2k+1) x (2k+1)`` window holds more than one label."""
    if target.dim() != 3 or k < 1:
        raise ValueError(f"expected Tensor[B, H, W] and k >= 1, got {tuple(target.shape)}, k={k}")
    y = target[:, None].float()
    high = F.max_pool2d(y, 2 * k + 1, stride=1, padding=k)  # padding is -inf: the image border is no boundary
    low = -F.max_pool2d(-y, 2 * k + 1, stride=1, padding=k)
    return (high != low)[:, 0]


def boundary_accuracy(pred: Tensor, target: Tensor, k: int = 2, ignore_index: int | None = None) -> float:
    """Pixel accuracy restricted to :func:`boundary_band` of the target (``nan`` if the band is empty)."""
    _check(pred, target)
    band = boundary_band(target, k)
    if ignore_index is not None:
        band &= target != ignore_index
    if not band.any():
        return float("nan")
    return (pred[band] == target[band]).float().mean().item()


def pixel_accuracy(pred: Tensor, target: Tensor, ignore_index: int | None = None) -> float:
    """Fraction of the (non-ignored) pixels labelled correctly."""
    _check(pred, target)
    keep = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    if not keep.any():
        raise ValueError(f"every pixel is ignored (ignore_index={ignore_index}): no pixel to score")
    return (pred[keep] == target[keep]).float().mean().item()
