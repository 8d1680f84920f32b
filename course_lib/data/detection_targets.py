"""Detection targets from annotated scenes: the padded tensor the detectors train on, and torchvision's dicts.

The R-CNN family of :mod:`course_lib.models.vision.fast_rcnn` (Girshick 2015; Ren et al. 2015) trains on padded
targets ``Tensor[N, K, 5]`` (class, x1, y1, x2, y2), class -1 for an empty slot, so that a batch of images with
different numbers of objects is one tensor (a :class:`~course_lib.data.DeviceLoader` batches it like labels).
The evaluation (:func:`~course_lib.metrics.detection_map`, torchmetrics' COCO mAP) reads one
``{"boxes", "labels"}`` dict per image, torchvision's format.
"""

from __future__ import annotations

import torch
from torch import Tensor


def detection_targets(digits: Tensor, boxes: Tensor) -> Tensor:
    """Padded targets ``Tensor[N, K, 5]`` from slot classes ``Tensor[N, K]`` (-1 empty) and boxes ``Tensor[N, K, 4]``
    (e.g. a :class:`~course_lib.data.DigitScenes`' ``digits`` and ``boxes``)."""
    if digits.shape != boxes.shape[:2] or boxes.shape[-1] != 4:
        raise ValueError(f"expected digits (N, K) and boxes (N, K, 4), got {tuple(digits.shape)}, {tuple(boxes.shape)}")
    return torch.cat([digits.unsqueeze(-1).to(boxes.dtype), boxes], -1)


def target_dicts(targets: Tensor) -> list[dict[str, Tensor]]:
    """Per-image ``{"boxes": Tensor[k, 4], "labels": Tensor[k]}`` dicts of padded targets ``Tensor[N, K, 5]``, the
    empty slots dropped (the format of :func:`~course_lib.metrics.detection_map`)."""
    if targets.dim() != 3 or targets.shape[-1] != 5:
        raise ValueError(f"expected targets (N, K, 5) (class, x1, y1, x2, y2), got {tuple(targets.shape)}")
    return [{"boxes": t[t[:, 0] >= 0, 1:], "labels": t[t[:, 0] >= 0, 0].long()} for t in targets]
