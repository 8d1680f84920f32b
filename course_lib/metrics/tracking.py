"""Tracking metrics: the success plot and its area under the curve (OTB, Wu, Lim & Yang 2013).

Lecture: UvA "Tracking" (SINT, Tao et al. 2016, evaluated on OTB): per frame, the IoU of the predicted box with
the ground truth; the success plot is the fraction of frames whose IoU exceeds a threshold, for thresholds from 0
to 1 (OTB samples 21, every 0.05); its AUC is the mean of those fractions. The first frame, given to the tracker,
is left out by default.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.boxes import batched_box_iou


def tracking_iou(pred: Tensor, target: Tensor) -> Tensor:
    """IoU of each predicted box with its ground truth, frame by frame: ``Tensor[N, T, 4]`` x2 -> ``Tensor[N, T]``."""
    if pred.shape != target.shape or pred.shape[-1] != 4:
        raise ValueError(f"expected boxes (..., 4) of one shape, got {tuple(pred.shape)}, {tuple(target.shape)}")
    flat = batched_box_iou(pred.reshape(-1, 1, 4).float(), target.reshape(-1, 1, 4).float())
    return flat.view(pred.shape[:-1])


def success_curve(iou: Tensor, thresholds: Tensor | None = None, skip_first: bool = True) -> tuple[Tensor, Tensor]:
    """``(thresholds, success)``: the fraction of frames with IoU > each threshold (default 0, 0.05, ..., 1).

    ``iou``: ``Tensor[N, T]`` from :func:`tracking_iou`; ``skip_first`` leaves out frame 0 (the given box).
    """
    if iou.dim() != 2:
        raise ValueError(f"expected iou Tensor[N, T] (clips, frames), got shape {tuple(iou.shape)}")
    if skip_first and iou.shape[1] < 2:
        raise ValueError(f"skip_first leaves no frame to score in clips of {iou.shape[1]} frame(s)")
    if thresholds is None:
        thresholds = torch.linspace(0, 1, 21, device=iou.device)
    values = (iou[:, 1:] if skip_first else iou).flatten()
    return thresholds, (values[None, :] > thresholds[:, None]).float().mean(1)


def success_auc(iou: Tensor, skip_first: bool = True) -> float:
    """Area under the success plot: the mean success over OTB's 21 thresholds."""
    return float(success_curve(iou, skip_first=skip_first)[1].mean())
