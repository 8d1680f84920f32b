"""Detection metrics: mean average precision at IoU 0.5 (PASCAL VOC's criterion) and averaged over IoU
0.5:0.05:0.95 (COCO's), through ``torchmetrics``' ``MeanAveragePrecision`` (COCO evaluation, ``pycocotools``).

AP is COCO's: precision made monotone, read at 101 recall points, averaged over classes present; a detection is
a true positive when it matches, greedily by decreasing score, an unmatched ground-truth box of its class with
IoU >= the threshold.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import torch
from torch import Tensor


def _check(items: Sequence[dict[str, Tensor]], keys: tuple[str, ...], what: str) -> None:
    for i, d in enumerate(items):
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"{what}[{i}] lacks {missing}: each needs {keys}")
        if d["boxes"].dim() != 2 or d["boxes"].shape[-1] != 4:
            raise ValueError(
                f"{what}[{i}]['boxes'] must be Tensor[N, 4] (x1, y1, x2, y2), got {tuple(d['boxes'].shape)}"
            )


def detection_map(
    preds: Sequence[dict[str, Tensor]], targets: Sequence[dict[str, Tensor]], class_metrics: bool = False
) -> dict[str, float | list]:
    """Mean average precision of detections against ground truth, one dict per image.

    Args:
        preds: per image ``{"boxes": Tensor[N, 4], "scores": Tensor[N], "labels": Tensor[N]}`` (x1, y1, x2, y2
            in pixels).
        targets: per image ``{"boxes": Tensor[M, 4], "labels": Tensor[M]}``.
        class_metrics: also return ``"classes"`` and their ``"map_per_class"`` (mAP@[.5:.95] of each, lists).

    Returns:
        ``{"map_50": mAP@0.5, "map": mAP@[.5:.95], "map_75": mAP@0.75, "mar_100": recall at 100 detections}`` as
        floats in [0, 1] (``-1`` when there is no ground truth at all).
    """
    from torchmetrics.detection import MeanAveragePrecision

    if len(preds) != len(targets):
        raise ValueError(f"one prediction dict per target dict, got {len(preds)} and {len(targets)}")
    _check(preds, ("boxes", "scores", "labels"), "preds")
    _check(targets, ("boxes", "labels"), "targets")
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=class_metrics)
    metric.update(
        [{k: v.detach().cpu() for k, v in p.items()} for p in preds],
        [{k: v.detach().cpu() for k, v in t.items()} for t in targets],
    )
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        result = metric.compute()
    out = {k: float(result[k]) for k in ("map_50", "map", "map_75", "mar_100")}
    if class_metrics:
        out["classes"] = [int(c) for c in result["classes"].flatten()]
        out["map_per_class"] = [float(v) for v in result["map_per_class"].flatten()]
    return out


def small_object_map(
    preds: Sequence[dict[str, Tensor]], targets: Sequence[dict[str, Tensor]], max_side: float
) -> dict[str, float | list]:
    """:func:`detection_map` on the small objects only: boxes whose longer side is ``<= max_side`` pixels.

    The larger ground-truth boxes are marked ``iscrowd`` (COCO's "ignore" regions): a detection that falls on one
    counts neither as a true nor as a false positive, so the larger objects change nothing. (COCO's own "small",
    area < 32**2, would hold every object of a course-scale scene.)
    """
    if max_side <= 0:
        raise ValueError(f"max_side must be positive, got {max_side}")
    marked = []
    for t in targets:
        b = t["boxes"]
        large = torch.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) > max_side
        marked.append({**t, "iscrowd": large.long()})
    return detection_map(preds, marked)


def proposal_recall(proposals: Tensor, targets: Tensor, ks: Sequence[int], iou_threshold: float = 0.5) -> list[float]:
    """Share of the ground-truth boxes that some proposal among each image's first ``k`` covers with IoU >= ``iou_threshold``.

    Args:
        proposals: ``Tensor[N, P, 4]``, best first (as :func:`~course_lib.methods.propose` and the RPN return them).
        targets: padded ``Tensor[N, K, 5]`` (class, x1, y1, x2, y2), class -1 for an empty slot.
        ks: the numbers of proposals ``k <= P`` at which to measure.

    Returns:
        one recall in [0, 1] per ``k``.
    """
    from ..ops.boxes import batched_box_iou

    if proposals.dim() != 3 or targets.dim() != 3 or len(proposals) != len(targets) or max(ks) > proposals.shape[1]:
        raise ValueError(
            f"expected proposals (N, P, 4) and targets (N, K, 5) with k <= P, got {tuple(proposals.shape)}, "
            f"{tuple(targets.shape)}, ks={list(ks)}"
        )
    valid = targets[..., 0] >= 0  # (N, K)
    iou = batched_box_iou(targets[..., 1:], proposals.to(targets.dtype))  # (N, K, P)
    best_up_to = (iou >= iou_threshold).cummax(2).values  # covered by one of the first p + 1 proposals
    return [float(best_up_to[..., k - 1][valid].float().mean()) for k in ks]
