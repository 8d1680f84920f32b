"""Detection boxes (R-CNN family), with torchvision's conventions: box regression targets and their inverse
(``encode_boxes`` / ``decode_boxes``), anchors on a feature-map grid (``anchor_grid``), anchor-to-ground-truth
matching by IoU thresholds (``match_anchors``), and non-maximum suppression (``non_max_suppression``); then the same
on padded batches (every image at once): clipping, IoU, matching, the balanced mini-batch, per-image NMS and top k.
Boxes are (x1, y1, x2, y2) and widths are ``x2 - x1`` (no ``+ 1``): coordinates are continuous, as in torchvision.
Boxes on the pixel canvas (masks of boxes, tight boxes of masks) are in :mod:`course_lib.ops.canvas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image

BACKGROUND, IGNORED = -1, -2  # match_anchors' labels of unmatched anchors (torchvision's Matcher uses the same)


def _centers_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode_boxes(boxes: Tensor, anchors: Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> Tensor:
    """R-CNN box regression targets (Girshick et al. 2014, App. C; Ren et al. 2015, eq. 2) of ``boxes`` w.r.t. ``anchors``.

    ``t = (w_x (x - x_a) / w_a, w_y (y - y_a) / h_a, w_w log(w / w_a), w_h log(h / h_a))`` with centres ``(x, y)``
    and sizes ``(w, h)``; ``weights`` scale the four targets as ``torchvision``'s ``BoxCoder`` does (Fast R-CNN's
    box head uses ``(10, 10, 5, 5)``). ``Tensor[..., 4]`` boxes and anchors (broadcast) -> ``Tensor[..., 4]``.
    """
    if boxes.shape[-1] != 4 or anchors.shape[-1] != 4:
        raise ValueError(
            f"boxes and anchors must end with 4 coordinates, got {tuple(boxes.shape)}, {tuple(anchors.shape)}"
        )
    wx, wy, ww, wh = weights
    x, y, w, h = _centers_sizes(boxes)
    xa, ya, wa, ha = _centers_sizes(anchors.to(boxes.dtype))
    return torch.stack([wx * (x - xa) / wa, wy * (y - ya) / ha, ww * torch.log(w / wa), wh * torch.log(h / ha)], -1)


def decode_boxes(
    deltas: Tensor,
    anchors: Tensor,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clip: float = math.log(1000.0 / 16),
) -> Tensor:
    """Inverse of :func:`encode_boxes`: ``Tensor[..., 4]`` targets and anchors (broadcast) -> ``Tensor[..., 4]`` boxes.

    The log-size targets are clipped at ``clip`` (torchvision's ``bbox_xform_clip``) before ``exp``.
    """
    if deltas.shape[-1] != 4 or anchors.shape[-1] != 4:
        raise ValueError(
            f"deltas and anchors must end with 4 values, got {tuple(deltas.shape)}, {tuple(anchors.shape)}"
        )
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = _centers_sizes(anchors.to(deltas.dtype))
    x, y = deltas[..., 0] / wx * wa + xa, deltas[..., 1] / wy * ha + ya
    w = torch.exp((deltas[..., 2] / ww).clamp(max=clip)) * wa
    h = torch.exp((deltas[..., 3] / wh).clamp(max=clip)) * ha
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], -1)


def base_anchors(
    sizes: Sequence[float],
    aspect_ratios: Sequence[float],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The ``A = len(aspect_ratios) * len(sizes)`` anchors of one position, centred on 0 (Ren et al. 2015, Faster R-CNN).

    Aspect ratio ``r = h / w`` at constant area ``s**2``: ``h = s sqrt(r)``, ``w = s / sqrt(r)``; ordered ratio by
    ratio, sizes within a ratio, and rounded to integers, as ``torchvision``'s ``AnchorGenerator``. ``Tensor[A, 4]``.
    """
    s = torch.as_tensor(sizes, dtype=dtype, device=device)
    h_ratio = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=dtype, device=device))
    ws, hs = ((1 / h_ratio)[:, None] * s[None, :]).flatten(), (h_ratio[:, None] * s[None, :]).flatten()  # (A,)
    return (torch.stack([-ws, -hs, ws, hs], 1) / 2).round()


def anchor_grid(
    feature_size: tuple[int, int],
    image_size: tuple[int, int],
    sizes: Sequence[float] = (32, 64, 128),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Anchors of every feature-map position (Faster R-CNN's RPN): ``Tensor[H * W * A, 4]`` in image pixels.

    Position ``(i, j)`` of the ``H x W`` map shifts the :func:`base_anchors` to ``(j * stride_x, i * stride_y)``
    with ``stride = image_size // feature_size``; positions in row-major order, the ``A`` anchors of a position
    consecutive: the layout of an RPN head's ``(B, A * 4, H, W)`` output read as ``(B, H, W, A, 4)``, and of
    ``torchvision``'s ``AnchorGenerator``.
    """
    (fh, fw), (ih, iw) = feature_size, image_size
    if min(fh, fw, ih, iw) < 1:
        raise ValueError(f"feature_size and image_size must be positive, got {feature_size}, {image_size}")
    ys = torch.arange(fh, device=device) * (ih // fh)
    xs = torch.arange(fw, device=device) * (iw // fw)
    sy, sx = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack([sx, sy, sx, sy], -1).reshape(-1, 1, 4).to(dtype)  # (H*W, 1, 4)
    return (shifts + base_anchors(sizes, aspect_ratios, device=device, dtype=dtype)).reshape(-1, 4)


def match_anchors(
    anchors: Tensor, gt_boxes: Tensor, fg_iou: float = 0.7, bg_iou: float = 0.3, keep_best: bool = True
) -> Tensor:
    """Assign each anchor a ground-truth box by IoU (Ren et al. 2015, Faster R-CNN, Sec. 3.1.2).

    An anchor whose best IoU is ``>= fg_iou`` is matched to that box; ``< bg_iou`` is background
    (``BACKGROUND = -1``); in between it is ignored (``IGNORED = -2``). With ``keep_best``, the anchors with the
    highest IoU for some box (ties included) are kept as foreground, matched to their own best box, so that every
    box has an anchor: ``torchvision``'s ``Matcher(fg_iou, bg_iou, allow_low_quality_matches=True)``.

    Args:
        anchors: ``Tensor[N, 4]``; gt_boxes: ``Tensor[M, 4]`` (``M = 0``: every anchor is background).

    Returns:
        ``Tensor[N]`` int64: the matched box's index in ``[0, M)``, or ``BACKGROUND`` / ``IGNORED``.
    """
    if not bg_iou <= fg_iou:
        raise ValueError(f"need bg_iou <= fg_iou, got {bg_iou} and {fg_iou}")
    if gt_boxes.shape[0] == 0:
        return torch.full((anchors.shape[0],), BACKGROUND, dtype=torch.long, device=anchors.device)
    iou = box_iou(gt_boxes, anchors)  # (M, N)
    best, best_gt = iou.max(0)  # each anchor's best box
    matches = torch.where(best >= fg_iou, best_gt, torch.where(best < bg_iou, BACKGROUND, IGNORED))
    if keep_best:
        is_best = (iou == iou.max(1, keepdim=True).values).any(0)  # the best anchor(s) of some box
        matches = torch.where(is_best, best_gt, matches)
    return matches


def non_max_suppression(
    boxes: Tensor, scores: Tensor, iou_threshold: float = 0.5, labels: Tensor | None = None
) -> Tensor:
    """Greedy NMS (``torchvision.ops.batched_nms``): indices of the kept boxes, by decreasing score.

    ``Tensor[N, 4]`` boxes, ``Tensor[N]`` scores; a box is dropped when it overlaps a higher-scoring kept box by
    IoU ``> iou_threshold``. With ``labels`` (``Tensor[N]``), boxes of different labels never suppress each other.
    """
    if labels is None:
        labels = torch.zeros_like(scores, dtype=torch.long)
    return batched_nms(boxes, scores, labels, iou_threshold)


# ------------------------------------------------------------------ detection on padded batches (notebook 06a)


def clip_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clip ``Tensor[..., 4]`` boxes to an ``(H, W)`` image: ``torchvision.ops.clip_boxes_to_image``, shape checked."""
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must end with 4 coordinates, got shape {tuple(boxes.shape)}")
    return clip_boxes_to_image(boxes, size)


def batched_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every pair within each image: ``Tensor[B, N, 4]``, ``Tensor[B, M, 4]`` -> ``Tensor[B, N, M]``.

    ``box_iou(boxes1[b], boxes2[b])`` for every image at once (0 where both boxes are empty).
    """
    if (
        boxes1.dim() != 3
        or boxes2.dim() != 3
        or boxes1.shape[-1] != 4
        or boxes2.shape[-1] != 4
        or len(boxes1) != len(boxes2)
    ):
        raise ValueError(
            f"expected Tensor[B, N, 4] and Tensor[B, M, 4], got {tuple(boxes1.shape)}, {tuple(boxes2.shape)}"
        )
    area = lambda b: (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    lt = torch.maximum(boxes1[:, :, None, :2], boxes2[:, None, :, :2])
    rb = torch.minimum(boxes1[:, :, None, 2:], boxes2[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)  # (B, N, M)
    union = area(boxes1)[:, :, None] + area(boxes2)[:, None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), 0.0)


def match_batched(
    iou: Tensor, valid: Tensor, fg_iou: float = 0.7, bg_iou: float = 0.3, keep_best: bool = True
) -> Tensor:
    """:func:`match_anchors` for a batch of padded ground truths (the same rules, every image at once).

    Args:
        iou: ``Tensor[B, N, M]`` IoU of each image's ``N`` anchors (or proposals) with its ``M`` box slots.
        valid: ``Tensor[B, M]`` bool, which slots hold a box (padding slots are never matched).

    Returns:
        ``Tensor[B, N]`` int64: the matched slot in ``[0, M)``, or ``BACKGROUND`` / ``IGNORED``.
    """
    if iou.dim() != 3 or valid.shape != (iou.shape[0], iou.shape[2]) or not bg_iou <= fg_iou:
        raise ValueError(
            f"expected iou (B, N, M), valid (B, M), bg_iou <= fg_iou; got {tuple(iou.shape)}, "
            f"{tuple(valid.shape)}, {bg_iou}, {fg_iou}"
        )
    iou = iou.masked_fill(~valid[:, None, :], -1.0)
    best, best_gt = iou.max(2)  # (B, N): each anchor's best box
    matches = torch.where(best >= fg_iou, best_gt, torch.where(best < bg_iou, BACKGROUND, IGNORED))
    if keep_best:
        is_best = ((iou == iou.max(1, keepdim=True).values) & valid[:, None, :]).any(2)  # best anchor(s) of some box
        matches = torch.where(is_best, best_gt, matches)
    return matches


def sample_balanced(
    matches: Tensor, per_image: int, positive_fraction: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The mini-batch of Fast R-CNN (Girshick 2015, Sec. 2.3) and of the RPN (Ren et al. 2015, Sec. 3.1.3).

    Per image, up to ``positive_fraction * per_image`` random positives (``matches >= 0``), then random negatives
    (``BACKGROUND``) up to ``per_image`` in all (``IGNORED`` never): ``torchvision``'s
    ``BalancedPositiveNegativeSampler``, vectorized over images. ``Tensor[B, N]`` -> (positive, negative) ``Tensor[B, N]``
    bool masks. ``generator``: on ``matches``' device (default: torch's global generator).
    """
    if matches.dim() != 2 or per_image < 1 or not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(
            f"expected matches (B, N), per_image >= 1, a fraction in [0, 1]; got {tuple(matches.shape)}, "
            f"{per_image}, {positive_fraction}"
        )
    pos, neg = matches >= 0, matches == BACKGROUND
    n_pos = pos.sum(1).clamp(max=int(per_image * positive_fraction))  # (B,)
    n_neg = torch.minimum(per_image - n_pos, neg.sum(1))
    key = torch.rand(
        matches.shape, device=matches.device, generator=generator
    )  # a random order of each image's anchors
    rank = lambda m: torch.where(m, key, 2.0).argsort(1).argsort(1)  # rank in a random order, members first
    return pos & (rank(pos) < n_pos[:, None]), neg & (rank(neg) < n_neg[:, None])


def batched_nms_top_k(boxes: Tensor, scores: Tensor, k: int, iou_threshold: float = 0.7) -> tuple[Tensor, Tensor]:
    """Per-image NMS, then each image's ``k`` best boxes (the RPN's proposals, Ren et al. 2015, Sec. 3.3).

    ``Tensor[B, N, 4]`` boxes, ``Tensor[B, N]`` scores -> ``Tensor[B, k, 4]``, ``Tensor[B, k]`` by decreasing score;
    an image with fewer than ``k`` survivors repeats its best one (:func:`~course_lib.methods.propose` uses it too).
    One ``batched_nms`` for the whole batch (the image is the NMS group).
    """
    if boxes.dim() != 3 or scores.shape != boxes.shape[:2] or k < 1:
        raise ValueError(
            f"expected boxes (B, N, 4), scores (B, N), k >= 1; got {tuple(boxes.shape)}, {tuple(scores.shape)}, {k}"
        )
    b, n = scores.shape
    img = torch.arange(b, device=boxes.device).repeat_interleave(n)
    keep = batched_nms(boxes.reshape(-1, 4), scores.reshape(-1), img, iou_threshold)  # by decreasing score
    keep = keep[torch.sort(img[keep], stable=True).indices]  # grouped by image, score order kept
    kimg = img[keep]
    first = torch.searchsorted(kimg, torch.arange(b, device=boxes.device))  # every image keeps >= 1 box
    rank = torch.arange(len(keep), device=boxes.device) - first[kimg]
    top = rank < k
    idx = keep[first].unsqueeze(1).repeat(1, k)  # (B, k), padded with the best box
    idx[kimg[top], rank[top]] = keep[top]
    return boxes.reshape(-1, 4)[idx], scores.reshape(-1)[idx]
