"""R-CNN, Fast R-CNN and Faster R-CNN at course scale, readable next to torchvision's
``torchvision/models/detection/{roi_heads,generalized_rcnn,faster_rcnn}.py``.

- :class:`RCNN` (Girshick et al. 2014): every proposal is cropped from the *image*, warped to a fixed size and run
  through the CNN: one CNN pass per region.
- :class:`FastRCNN` (Girshick 2015): the CNN runs once per image; each proposal is pooled from the *feature map* to a
  fixed ``P x P`` grid (ROI pooling: "always 3x3 no matter the size of the candidate location", UvA *Deep learning
  beyond classification*), then fully connected layers give ``C + 1`` class scores and class-specific box deltas.
- :class:`FasterRCNN` (Ren et al. 2015): the proposals come from an :class:`~course_lib.models.vision.rpn.RPN` on the
  same feature map, trained jointly (torchvision's approximate joint training: no gradient through the proposals).

The three share :class:`Backbone` and :class:`BoxHead`, so they differ only in where region features come from.
Labels: class ``c`` of the data is ``c + 1`` inside the heads, ``0`` is background (torchvision's convention); the
detections carry the data's classes. Targets are padded ``Tensor[B, K, 5]`` (class, x1, y1, x2, y2), class -1 empty
(:func:`course_lib.data.detection_targets` makes them from annotated scenes). With targets, ``forward`` returns the
losses ``Tensor[L]`` (their sum is the training loss); without, detections. :func:`detections_of` and
:func:`proposals_of` run a detector over many images, in batches and in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms

from ...ops.boxes import batched_box_iou, clip_boxes, decode_boxes, encode_boxes, match_batched, sample_balanced
from ...ops.roi import roi_align
from ...utils import eval_mode
from .rpn import RPN, box_loss, check_targets

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # the box head's target scaling (torchvision's RoIHeads BoxCoder)
Detections = list[dict[str, Tensor]]


class Backbone(nn.Module):
    """3x3 conv + BatchNorm + ReLU stages, the first ``log2(stride)`` followed by a 2x2 max-pool:
    ``Tensor[B, 1, H, W]`` -> ``Tensor[B, channels[-1], H / stride, W / stride]``."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), stride: int = 8, in_channels: int = 1) -> None:
        super().__init__()
        pools = stride.bit_length() - 1
        if not channels or min(channels) < 1 or stride != 2**pools or pools > len(channels):
            raise ValueError(
                f"need positive channels and a stride 2**k, k <= {len(channels)}; got {channels}, {stride}"
            )
        layers, c_in = [], in_channels
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            layers += [nn.MaxPool2d(2)] if i < pools else []
            c_in = c
        self.features = nn.Sequential(*layers)
        self.stride, self.out_channels = stride, channels[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


class BoxHead(nn.Module):
    """Region features ``Tensor[K, C, P, P]`` -> logits ``Tensor[K, n_classes + 1]``, deltas ``Tensor[K, n_classes + 1, 4]``.

    Two fully connected layers (torchvision's ``TwoMLPHead``), then the two sibling outputs of Fast R-CNN
    (``FastRCNNPredictor``): a softmax over the classes and background, and one box regression per class.
    """

    def __init__(self, in_channels: int, n_classes: int, output_size: int = 3, hidden: int = 128) -> None:
        super().__init__()
        self.n_classes, self.output_size = n_classes, output_size
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * output_size**2, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.cls_score = nn.Linear(hidden, n_classes + 1)
        self.bbox_pred = nn.Linear(hidden, 4 * (n_classes + 1))

    def forward(self, regions: Tensor) -> tuple[Tensor, Tensor]:
        h = self.fc(regions)
        return self.cls_score(h), self.bbox_pred(h).view(len(h), -1, 4)


def fast_rcnn_loss(logits: Tensor, deltas: Tensor, labels: Tensor, box_targets: Tensor) -> tuple[Tensor, Tensor]:
    """Fast R-CNN's multi-task loss (Girshick 2015, eq. 1): cross-entropy over ``C + 1`` classes on every sampled ROI,
    smooth L1 on the deltas of the true class for the foreground ROIs (``labels > 0``), divided by the sampled ROIs."""
    fg = labels > 0
    box = box_loss(deltas[fg, labels[fg]], box_targets[fg], max(len(labels), 1))
    return F.cross_entropy(logits, labels), box


class FastRCNN(nn.Module):
    """Fast R-CNN with external proposals: ``forward(images, targets=None)``.

    Args:
        backbone: a :class:`Backbone` (or any net with ``stride`` and ``out_channels``).
        head: a :class:`BoxHead`.
        pool: the ROI layer, ``(features, boxes) -> Tensor[K, C, P, P]``: :class:`~course_lib.layers.RoIPool` or
            :class:`~course_lib.layers.RoIAlign` with ``spatial_scale = 1 / backbone.stride``.
        proposer: ``images Tensor[B, 1, H, W] -> Tensor[B, P, 4]`` (or a tuple whose first item it is), e.g.
            :func:`~course_lib.methods.propose`; unused by :class:`FasterRCNN`.
        rois_per_image, positive_fraction: Fast R-CNN's sampling (64 per image, 25% foreground in the paper).
        fg_iou, bg_iou: a ROI is foreground at IoU >= ``fg_iou`` with a box, background below ``bg_iou``.
        score_thresh, nms_thresh, detections_per_image: inference (torchvision's defaults: 0.05, 0.5, 100).
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: BoxHead,
        pool: nn.Module | None,
        proposer: Callable | None = None,
        *,
        rois_per_image: int = 32,
        positive_fraction: float = 0.25,
        fg_iou: float = 0.5,
        bg_iou: float = 0.5,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_image: int = 20,
    ) -> None:
        super().__init__()
        self.backbone, self.head, self.pool, self.proposer = backbone, head, pool, proposer
        self.rois_per_image, self.positive_fraction, self.fg_iou, self.bg_iou = (
            rois_per_image,
            positive_fraction,
            fg_iou,
            bg_iou,
        )
        self.score_thresh, self.nms_thresh, self.detections_per_image = score_thresh, nms_thresh, detections_per_image

    def image_features(self, images: Tensor) -> Tensor | None:
        """The one CNN pass per image."""
        return self.backbone(images)

    def propose(self, images: Tensor, features: Tensor | None, targets: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        """Proposals ``Tensor[B, P, 4]`` and the proposal losses (none for external proposals)."""
        with torch.no_grad():
            boxes = self.proposer(images)
        return (boxes[0] if isinstance(boxes, tuple) else boxes).to(images.dtype), []

    def region_features(self, images: Tensor, features: Tensor | None, rois: Tensor) -> Tensor:
        """``Tensor[K, 5]`` (image, x1, y1, x2, y2) -> ``Tensor[K, C, P, P]``: pooled from the shared feature map."""
        return self.pool(features, rois)

    def sample(self, proposals: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Training ROIs ``Tensor[K, 5]``, their labels ``Tensor[K]`` (0 = background) and box targets ``Tensor[K, 4]``.

        The ground-truth boxes join the proposals (as in torchvision), each ROI is matched to its best box, and
        ``rois_per_image`` are sampled per image with at most ``positive_fraction`` foreground.
        """
        valid, gt = targets[..., 0] >= 0, targets[..., 1:]
        rois = torch.cat([proposals, torch.where(valid.unsqueeze(-1), gt, proposals[:, :1])], 1)  # (B, P + K, 4)
        matches = match_batched(batched_box_iou(rois, gt), valid, self.fg_iou, self.bg_iou, keep_best=False)
        pos, neg = sample_balanced(matches, self.rois_per_image, self.positive_fraction)
        image, index = (pos | neg).nonzero(as_tuple=True)  # the sampled ROIs, image by image
        slot = matches[image, index].clamp(min=0)
        labels = torch.where(pos[image, index], targets[image, slot, 0].long() + 1, 0)
        box_targets = encode_boxes(gt[image, slot], rois[image, index], BOX_WEIGHTS)
        return torch.cat([image.unsqueeze(1).to(rois.dtype), rois[image, index]], 1), labels, box_targets

    def forward(self, images: Tensor, targets: Tensor | None = None) -> Tensor | Detections:
        """With ``targets`` ``Tensor[B, K, 5]``: the losses ``Tensor[L]`` (their sum is the training loss). Without:
        per image ``{"boxes": Tensor[D, 4], "scores": Tensor[D], "labels": Tensor[D]}``."""
        if images.dim() != 4:
            raise ValueError(f"expected images (B, C, H, W), got shape {tuple(images.shape)}")
        features = self.image_features(images)
        proposals, losses = self.propose(images, features, targets)
        if targets is None:
            return self.detect(images, features, proposals)
        check_targets(targets, len(images))
        rois, labels, box_targets = self.sample(proposals, targets)
        logits, deltas = self.head(self.region_features(images, features, rois))
        return torch.stack([*losses, *fast_rcnn_loss(logits, deltas, labels, box_targets)])

    def detect(self, images: Tensor, features: Tensor | None, proposals: Tensor, regress: bool = True) -> Detections:
        """Score every proposal ``Tensor[B, P, 4]``; ``regress=False`` keeps the proposals' own boxes (sliding windows)."""
        b, p, _ = proposals.shape
        image = torch.arange(b, device=images.device).repeat_interleave(p)
        rois = torch.cat([image.unsqueeze(1).to(proposals.dtype), proposals.reshape(-1, 4)], 1)
        logits, deltas = self.head(self.region_features(images, features, rois))
        if not regress:
            deltas = torch.zeros_like(deltas)
        return postprocess_detections(
            logits,
            deltas,
            rois,
            tuple(images.shape[-2:]),
            b,
            self.score_thresh,
            self.nms_thresh,
            self.detections_per_image,
        )


def postprocess_detections(
    logits: Tensor,
    deltas: Tensor,
    rois: Tensor,
    image_size: tuple[int, int],
    batch: int,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    per_image: int = 100,
) -> Detections:
    """Detections from the box head (torchvision's ``RoIHeads.postprocess_detections``, vectorized over images).

    Softmax over ``C + 1`` classes, each ROI's class-specific box decoded and clipped, background dropped, scores
    ``> score_thresh`` kept, NMS per image and class at ``nms_thresh``, the ``per_image`` best per image.

    Args:
        logits: ``Tensor[K, C + 1]``; deltas: ``Tensor[K, C + 1, 4]``; rois: ``Tensor[K, 5]`` (image, x1, y1, x2, y2).

    Returns:
        ``batch`` dicts ``{"boxes": Tensor[D, 4], "scores": Tensor[D], "labels": Tensor[D]}``, labels in ``[0, C)``.
    """
    scores = logits.softmax(-1)[:, 1:]  # (K, C): background dropped
    boxes = clip_boxes(decode_boxes(deltas[:, 1:], rois[:, None, 1:], BOX_WEIGHTS), image_size)  # (K, C, 4)
    c = scores.shape[1]
    cls = torch.arange(c, device=logits.device).expand_as(scores).flatten()
    img = rois[:, 0].long().unsqueeze(1).expand_as(scores).flatten()
    keep = (scores.flatten() > score_thresh).nonzero().squeeze(1)
    boxes, scores, cls, img = boxes.reshape(-1, 4)[keep], scores.flatten()[keep], cls[keep], img[keep]
    keep = batched_nms(boxes, scores, img * c + cls, nms_thresh)  # per image and class, best first
    keep = keep[torch.sort(img[keep], stable=True).indices]  # grouped by image, best first within
    counts = torch.bincount(img[keep], minlength=batch)
    rank = torch.arange(len(keep), device=logits.device) - (counts.cumsum(0) - counts)[img[keep]]
    keep = keep[rank < per_image]
    counts = torch.bincount(img[keep], minlength=batch).tolist()
    split = lambda t: t[keep].split(counts)  # one piece per image
    return [{"boxes": bx, "scores": s, "labels": lb} for bx, s, lb in zip(split(boxes), split(scores), split(cls))]


class RCNN(FastRCNN):
    """R-CNN (Girshick et al. 2014) with Fast R-CNN's heads: each ROI is warped to ``crop x crop`` pixels from the image
    (``roi_align``, bilinear), run through the backbone, and its ``crop / stride`` map max-pooled to the head's grid.
    One CNN pass per region instead of one per image. (R-CNN trained SVMs and a separate box regressor; here the
    losses are Fast R-CNN's, so that the two differ only in where the region features come from.)"""

    def __init__(self, backbone: nn.Module, head: BoxHead, proposer: Callable, crop: int = 24, **kwargs) -> None:
        super().__init__(backbone, head, None, proposer, **kwargs)
        if crop < backbone.stride * head.output_size:
            raise ValueError(f"crop {crop} is too small for {head.output_size} cells at stride {backbone.stride}")
        self.crop = crop

    def image_features(self, images: Tensor) -> None:
        return None  # no shared pass

    def region_features(self, images: Tensor, features: Tensor | None, rois: Tensor) -> Tensor:
        warped = roi_align(images, rois, self.crop, sampling_ratio=2, aligned=True)  # (K, 1, crop, crop)
        return F.adaptive_max_pool2d(self.backbone(warped), self.head.output_size)  # (K, C, P, P)


class FasterRCNN(FastRCNN):
    """Faster R-CNN: the :class:`~course_lib.models.vision.rpn.RPN` proposes on the shared feature map (Ren et al. 2015).

    The losses are ``[objectness, rpn box, classification, box]``.
    """

    def __init__(self, backbone: nn.Module, head: BoxHead, pool: nn.Module, rpn: RPN, **kwargs) -> None:
        super().__init__(backbone, head, pool, None, **kwargs)
        self.rpn = rpn

    def propose(self, images: Tensor, features: Tensor | None, targets: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        return self.rpn(features, tuple(images.shape[-2:]), targets)


@torch.no_grad()
def detections_of(
    model: FastRCNN, images: Tensor, proposals: Tensor | None = None, batch_size: int = 16, regress: bool = True
) -> Detections:
    """Detections of ``model`` on ``Tensor[N, 1, H, W]`` images, in batches, in eval mode: one dict per image.

    ``proposals`` ``Tensor[N, P, 4]``: classify these instead of the model's own (``regress=False``: keep their boxes),
    through :meth:`FastRCNN.detect`, the one batch's scoring.
    """
    out = []
    with eval_mode(model):
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size]
            if proposals is None and regress:
                out += model(x)
                continue
            features = model.image_features(x)
            p = model.propose(x, features, None)[0] if proposals is None else proposals[i : i + batch_size]
            out += model.detect(x, features, p, regress)
    return out


@torch.no_grad()
def proposals_of(model: FastRCNN, images: Tensor, batch_size: int = 16) -> Tensor:
    """The proposals ``Tensor[N, P, 4]`` (best first) that ``model`` classifies, in eval mode."""
    with eval_mode(model):
        return torch.cat([model.propose(x, model.image_features(x), None)[0] for x in images.split(batch_size)])
