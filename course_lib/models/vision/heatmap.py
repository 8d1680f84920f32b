"""A small fully convolutional keypoint detector: per-class centre heatmaps and box sizes (CenterNet) for two
scale ranges of objects.

CVPR-style lecture, *Detection*: the alternative to box regression from anchors is to predict where object
*centres* are, as heatmaps, and read the box size at each centre (Zhou et al. 2019, *Objects as Points*). No anchors,
no IoU matching and no NMS: a 3x3 max pooling keeps the local maxima (:mod:`course_lib.ops.heatmaps`).

Two scale ranges, two heads on one stride-4 map. CenterNet predicts every size with one stride-4 head; feature
pyramids (Lin et al. 2017, FPN) and FCOS (Tian et al. 2019) instead give each *range* of object sizes its own head,
on a level whose receptive field suits them. Here both heads read the same stride-4 grid, so targets, offsets and
decoding are the same for both and the outputs stack into one tensor; the *large* head reads the map after two
dilated 3x3 convolutions (dilation 2 and 4), which widen its receptive field from 27 to 75 input pixels without
lowering the resolution (Yu & Koltun 2016). A box goes to the large head when its longer side is at least ``split``
pixels, to the small head otherwise. ``split=None`` gives the single-head CenterNet (reading the dilated map).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...ops.boxes import non_max_suppression
from ...ops.heatmaps import centre_loss, centre_targets, decode_centres


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class HeatmapDetector(nn.Module):
    """Stride-4 fully convolutional CenterNet with one head per scale range.

    ``Tensor[B, in_channels, H, W]`` -> ``Tensor[B, S, C + 4, H/4, W/4]``: for each of the ``S`` scale ranges
    (``S = 2``: small, large; ``S = 1`` with ``split=None``) ``C`` heatmap logits, then box width, height and centre
    offsets x, y (grid cells), the layout of :func:`~course_lib.ops.heatmaps.centre_loss`.

    Args:
        n_classes: number of classes ``C``.
        width: channels of the first two blocks (the rest have ``2 * width``).
        split: boxes whose longer side is ``>= split`` pixels go to the large head; ``None``: one head for all.
        in_channels: image channels.
        prior: initial heatmap probability (bias ``-log((1 - prior) / prior)``; CenterNet's ``-2.19`` is ``0.1``),
            so that the many negative cells do not swamp the first steps (Lin et al. 2017, focal loss).
        min_overlap: IoU that sets the target Gaussians' radii.
    """

    stride = 4

    def __init__(
        self,
        n_classes: int = 10,
        width: int = 16,
        split: float | None = 16.0,
        in_channels: int = 1,
        prior: float = 0.1,
        min_overlap: float = 0.5,
    ) -> None:
        super().__init__()
        if n_classes < 1 or width < 1:
            raise ValueError(f"n_classes and width must be >= 1, got {n_classes} and {width}")
        if not 0.0 < prior < 1.0 or (split is not None and split <= 0):
            raise ValueError(f"need prior in (0, 1) and split > 0 (or None), got {prior} and {split}")
        c = 2 * width
        self.backbone = nn.Sequential(
            _conv_bn_relu(in_channels, width, stride=2),  # H/2
            _conv_bn_relu(width, width),
            _conv_bn_relu(width, c, stride=2),  # H/4: receptive field 19 pixels
            _conv_bn_relu(c, c),
        )
        self.context = nn.Sequential(_conv_bn_relu(c, c, dilation=2), _conv_bn_relu(c, c, dilation=4))  # 67 pixels
        self.heads = nn.ModuleList(self._head(c, n_classes, prior) for _ in range(1 if split is None else 2))
        self.n_classes, self.split, self.min_overlap = n_classes, split, min_overlap

    @staticmethod
    def _head(c: int, n_classes: int, prior: float) -> nn.Sequential:
        head = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(c, n_classes + 4, 1))
        nn.init.constant_(head[-1].bias[:n_classes], -math.log((1 - prior) / prior))
        return head

    @property
    def n_scales(self) -> int:
        return len(self.heads)

    def forward(self, x: Tensor) -> Tensor:
        small = self.backbone(x)  # (B, 2w, H/4, W/4)
        large = self.context(small)
        feats = [large] if self.split is None else [small, large]
        return torch.stack([head(f) for head, f in zip(self.heads, feats)], 1)  # (B, S, C+4, H/4, W/4)

    def scale_labels(self, boxes: Tensor, labels: Tensor) -> Tensor:
        """``Tensor[N, K, 4]`` boxes, ``Tensor[N, K]`` labels (-1 empty) -> ``Tensor[S, N, K]``: each scale's labels,
        -1 where the box belongs to the other range."""
        if self.split is None:
            return labels.unsqueeze(0)
        large = (boxes[..., 2:] - boxes[..., :2]).amax(-1) >= self.split
        return torch.stack([torch.where(large, -1, labels), torch.where(large, labels, -1)])

    def targets(self, boxes: Tensor, labels: Tensor, image_size: tuple[int, int]) -> Tensor:
        """Training targets ``Tensor[N, S, C + 5, H/4, W/4]`` (:func:`~course_lib.ops.heatmaps.centre_targets` per
        scale range) of boxes ``Tensor[N, K, 4]`` with labels ``Tensor[N, K]`` (-1 empty) on ``image_size = (H, W)``."""
        grid = (-(-image_size[0] // self.stride), -(-image_size[1] // self.stride))
        per_scale = self.scale_labels(boxes, labels)
        return torch.stack(
            [centre_targets(boxes, lab, self.n_classes, grid, self.stride, self.min_overlap) for lab in per_scale], 1
        )

    @staticmethod
    def loss(outputs: Tensor, targets: Tensor) -> Tensor:
        """Sum over scale ranges of CenterNet's loss (:func:`~course_lib.ops.heatmaps.centre_loss`)."""
        if outputs.dim() != 5 or targets.shape[:2] != outputs.shape[:2]:
            raise ValueError(
                f"need outputs Tensor[B, S, C+4, h, w] and targets Tensor[B, S, C+5, h, w], got "
                f"{tuple(outputs.shape)} and {tuple(targets.shape)}"
            )
        return sum(centre_loss(outputs[:, s], targets[:, s]) for s in range(outputs.shape[1]))

    def decode(self, outputs: Tensor, k: int = 10, fixed_size: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Each head's ``k`` best detections: ``boxes`` ``Tensor[B, S, k, 4]``, ``scores`` and ``labels``
        ``Tensor[B, S, k]``. ``fixed_size``: ``Tensor[S, 2]`` (grid cells) replaces the predicted sizes (an ablation)."""
        c, found = self.n_classes, []
        for s in range(outputs.shape[1]):
            out = outputs[:, s]
            size = (
                out[:, c : c + 2] if fixed_size is None else fixed_size[s].view(1, 2, 1, 1).expand_as(out[:, c : c + 2])
            )
            found.append(decode_centres(out[:, :c].sigmoid(), size, out[:, c + 2 : c + 4], self.stride, k))
        boxes, scores, labels = (torch.stack(t, 1) for t in zip(*found))
        return boxes, scores, labels

    def detections(
        self,
        outputs: Tensor,
        k: int = 10,
        min_score: float = 0.05,
        iou_threshold: float = 0.5,
        fixed_size: Tensor | None = None,
    ) -> list[dict[str, Tensor]]:
        """Per image ``{"boxes", "scores", "labels", "scale"}`` (``scale``: the head, 0 small, 1 large): each head's
        ``k`` best peaks scoring at least ``min_score`` (torchvision's detectors drop scores below 0.05 too), merged;
        where both heads find the same object (a box near ``split``), class-wise NMS keeps the higher score."""
        boxes, scores, labels = self.decode(outputs, k, fixed_size)
        b, s = scores.shape[:2]
        scale = torch.arange(s, device=scores.device).view(1, s, 1).expand_as(scores)
        result = []
        for i in range(b):
            bx, sc, lb, sl = boxes[i].flatten(0, 1), scores[i].flatten(), labels[i].flatten(), scale[i].flatten()
            high = sc >= min_score
            bx, sc, lb, sl = bx[high], sc[high], lb[high], sl[high]
            keep = non_max_suppression(bx, sc, iou_threshold, lb) if s > 1 else torch.arange(len(sc), device=sc.device)
            result.append({"boxes": bx[keep], "scores": sc[keep], "labels": lb[keep], "scale": sl[keep]})
        return result

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, split={self.split}, stride={self.stride}"


__all__ = ["HeatmapDetector"]
