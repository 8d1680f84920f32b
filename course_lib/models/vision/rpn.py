"""The region proposal network of Faster R-CNN (Ren et al. 2015), readable next to torchvision's
``torchvision/models/detection/rpn.py`` (``RPNHead``, ``RegionProposalNetwork``).

A 3x3 convolution slides over the backbone's feature map; at each of its ``H x W`` positions two 1x1 convolutions
score ``A`` anchor boxes (objectness) and regress 4 box deltas per anchor (:func:`~course_lib.ops.encode_boxes`
targets). The UvA lecture *Deep learning beyond classification*: "k anchor boxes per position". Training samples
``per_image`` anchors per image, half positives (IoU >= 0.7 with a ground-truth box, or the best anchor of a box) and
half negatives (IoU < 0.3); the proposals are the decoded boxes of the best anchors after non-maximum suppression.

Targets are padded: ``Tensor[B, K, 5]`` rows (class, x1, y1, x2, y2), class ``-1`` for an empty slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...ops.boxes import (
    anchor_grid,
    batched_box_iou,
    batched_nms_top_k,
    clip_boxes,
    decode_boxes,
    encode_boxes,
    match_batched,
    sample_balanced,
)


def check_targets(targets: Tensor, batch: int) -> None:
    """``ValueError`` unless ``targets`` is ``Tensor[batch, K, 5]`` (class, x1, y1, x2, y2), class -1 when empty."""
    if targets.dim() != 3 or targets.shape[0] != batch or targets.shape[2] != 5:
        raise ValueError(f"targets must be Tensor[{batch}, K, 5] (class, x1, y1, x2, y2), got {tuple(targets.shape)}")


def box_loss(deltas: Tensor, targets: Tensor, normalizer: int | Tensor) -> Tensor:
    """Smooth L1 (Girshick 2015, eq. 3; ``beta = 1/9`` as torchvision) summed over the boxes, divided by ``normalizer``."""
    return F.smooth_l1_loss(deltas, targets, beta=1 / 9, reduction="sum") / normalizer


class RPN(nn.Module):
    """Region proposal network: ``Tensor[B, C, H, W]`` features -> ``Tensor[B, post_nms_top_n, 4]`` proposals.

    Args:
        in_channels: channels ``C`` of the backbone's feature map.
        sizes, aspect_ratios: the ``A = len(sizes) * len(aspect_ratios)`` anchors of a position
            (:func:`~course_lib.ops.base_anchors`, ratio = height / width), in input pixels.
        pre_nms_top_n: anchors kept per image (best objectness) before NMS.
        post_nms_top_n: proposals returned per image after NMS at ``nms_thresh``.
        fg_iou, bg_iou: an anchor is positive at IoU >= ``fg_iou`` (or as the best anchor of a box), negative below
            ``bg_iou``, ignored in between.
        per_image, positive_fraction: anchors sampled per image for the loss, and the positive share at most.
    """

    def __init__(
        self,
        in_channels: int,
        sizes: Sequence[float] = (12, 18, 26),
        aspect_ratios: Sequence[float] = (1.0, 2.0),
        pre_nms_top_n: int = 200,
        post_nms_top_n: int = 32,
        nms_thresh: float = 0.7,
        fg_iou: float = 0.7,
        bg_iou: float = 0.3,
        per_image: int = 64,
        positive_fraction: float = 0.5,
    ) -> None:
        super().__init__()
        if in_channels < 1 or min(pre_nms_top_n, post_nms_top_n, per_image) < 1:
            raise ValueError("in_channels, pre_nms_top_n, post_nms_top_n and per_image must be positive")
        self.sizes, self.aspect_ratios = tuple(sizes), tuple(aspect_ratios)
        a = len(self.sizes) * len(self.aspect_ratios)
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.cls_logits = nn.Conv2d(in_channels, a, 1)  # one objectness logit per anchor
        self.bbox_pred = nn.Conv2d(in_channels, 4 * a, 1)  # four deltas per anchor
        for layer in (self.conv, self.cls_logits, self.bbox_pred):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
        self.pre_nms_top_n, self.post_nms_top_n, self.nms_thresh = pre_nms_top_n, post_nms_top_n, nms_thresh
        self.fg_iou, self.bg_iou, self.per_image, self.positive_fraction = fg_iou, bg_iou, per_image, positive_fraction

    @property
    def num_anchors(self) -> int:
        """Anchors per position, the lecture's ``k``."""
        return len(self.sizes) * len(self.aspect_ratios)

    def anchors(self, feature_size: tuple[int, int], image_size: tuple[int, int], device: torch.device) -> Tensor:
        """``Tensor[H * W * A, 4]``: the anchors of every position (:func:`~course_lib.ops.anchor_grid`)."""
        return anchor_grid(feature_size, image_size, self.sizes, self.aspect_ratios, device=device)

    def head(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Objectness logits ``Tensor[B, H*W*A]`` and deltas ``Tensor[B, H*W*A, 4]``, in :meth:`anchors`' order."""
        b, _, h, w = features.shape
        t = F.relu(self.conv(features))
        logits = self.cls_logits(t).permute(0, 2, 3, 1).reshape(b, -1)  # (B, A, H, W) -> (B, H*W*A)
        deltas = self.bbox_pred(t).view(b, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(b, -1, 4)  # (B, H*W*A, 4)
        return logits, deltas

    def proposals(
        self, logits: Tensor, deltas: Tensor, anchors: Tensor, image_size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        """Decode, clip, keep the ``pre_nms_top_n`` best per image, NMS, the ``post_nms_top_n`` best: boxes and scores."""
        boxes = clip_boxes(
            decode_boxes(deltas.detach(), anchors), image_size
        )  # (B, N, 4): no gradient through proposals
        scores = logits.detach()
        top = scores.topk(min(self.pre_nms_top_n, scores.shape[1]), dim=1).indices  # (B, n)
        boxes, scores = boxes.gather(1, top.unsqueeze(-1).expand(-1, -1, 4)), scores.gather(1, top)
        return batched_nms_top_k(boxes, scores, self.post_nms_top_n, self.nms_thresh)

    def loss(self, logits: Tensor, deltas: Tensor, anchors: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Objectness (binary cross-entropy) and box (smooth L1) losses on the sampled anchors (Ren et al. 2015, eq. 1)."""
        valid, gt = targets[..., 0] >= 0, targets[..., 1:]
        iou = batched_box_iou(anchors.expand(len(gt), -1, -1), gt)  # (B, N, K)
        matches = match_batched(iou, valid, self.fg_iou, self.bg_iou, keep_best=True)
        pos, neg = sample_balanced(matches, self.per_image, self.positive_fraction)
        sampled = pos | neg
        objectness = F.binary_cross_entropy_with_logits(logits[sampled], pos[sampled].float())
        matched = gt.gather(1, matches.clamp(min=0).unsqueeze(-1).expand(-1, -1, 4))  # (B, N, 4) each anchor's box
        target = encode_boxes(matched[pos], anchors.expand_as(matched)[pos])
        return objectness, box_loss(deltas[pos], target, sampled.sum().clamp(min=1))

    def forward(
        self, features: Tensor, image_size: tuple[int, int], targets: Tensor | None = None
    ) -> tuple[Tensor, list]:
        """Proposals ``Tensor[B, post_nms_top_n, 4]`` (best first), the losses ``[objectness, box]`` (``[]`` without targets)."""
        logits, deltas = self.head(features)
        anchors = self.anchors(tuple(features.shape[-2:]), tuple(image_size), features.device)
        boxes, _ = self.proposals(logits, deltas, anchors, tuple(image_size))
        if targets is None:
            return boxes, []
        check_targets(targets, len(features))
        return boxes, list(self.loss(logits, deltas, anchors, targets))

    def extra_repr(self) -> str:
        return (
            f"anchors={self.num_anchors} per position (sizes={self.sizes}, aspect_ratios={self.aspect_ratios}), "
            f"post_nms_top_n={self.post_nms_top_n}"
        )
