"""Boxes (x1, y1, x2, y2; pixel edges, x2/y2 exclusive): masks of boxes, tight boxes of masks, the box around a
thresholded map, and the advanced-indexing triplet of one window per image (paste or cut without a loop).

For detection (R-CNN family), with torchvision's conventions: box regression targets and their inverse
(``encode_boxes`` / ``decode_boxes``), anchors on a feature-map grid (``anchor_grid``), anchor-to-ground-truth
matching by IoU thresholds (``match_anchors``), and non-maximum suppression (``non_max_suppression``).
Widths are ``x2 - x1`` (no ``+ 1``): coordinates are continuous, as in torchvision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import batched_nms, box_iou


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


def map_to_box(maps: Tensor, threshold: float = 0.5, *, relative_to: str = "range", largest_component: bool = False) -> Tensor:
    """Box around the pixels of each map above a relative threshold: ``Tensor[P, H, W]`` -> ``Tensor[P, 4]``.

    ``relative_to="range"``: the pixels where the min-max normalized map is >= ``threshold``;
    ``relative_to="max"``: the pixels >= ``threshold * max`` (a map whose maximum is <= 0 keeps its maximum only).
    With ``largest_component=True`` the box covers only the largest 8-connected component of those pixels.
    The CAM paper's recipe (Zhou et al. 2016, section 3) is ``threshold=0.2, relative_to="max",
    largest_component=True``: "the regions of which the value is above 20% of the max value of the CAM", then "the
    bounding box that covers the largest connected component". The maximum is always kept: no box is empty.
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
        from .cam import largest_component as _largest  # the CAM paper's step, defined with the CAMs

        on = _largest(on)
    return ink_boxes(on).float()


def upsample_maps(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of class maps ``Tensor[N, C, h, w]`` -> ``Tensor[N, C, H, W]``."""
    if maps.dim() != 4:
        raise ValueError(f"expected maps (N, C, h, w), got shape {tuple(maps.shape)}")
    return F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------------------ detection

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
        raise ValueError(f"boxes and anchors must end with 4 coordinates, got {tuple(boxes.shape)}, {tuple(anchors.shape)}")
    wx, wy, ww, wh = weights
    x, y, w, h = _centers_sizes(boxes)
    xa, ya, wa, ha = _centers_sizes(anchors.to(boxes.dtype))
    return torch.stack([wx * (x - xa) / wa, wy * (y - ya) / ha, ww * torch.log(w / wa), wh * torch.log(h / ha)], -1)


def decode_boxes(deltas: Tensor, anchors: Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                 clip: float = math.log(1000.0 / 16)) -> Tensor:  # fmt: skip
    """Inverse of :func:`encode_boxes`: ``Tensor[..., 4]`` targets and anchors (broadcast) -> ``Tensor[..., 4]`` boxes.

    The log-size targets are clipped at ``clip`` (torchvision's ``bbox_xform_clip``) before ``exp``.
    """
    if deltas.shape[-1] != 4 or anchors.shape[-1] != 4:
        raise ValueError(f"deltas and anchors must end with 4 values, got {tuple(deltas.shape)}, {tuple(anchors.shape)}")
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = _centers_sizes(anchors.to(deltas.dtype))
    x, y = deltas[..., 0] / wx * wa + xa, deltas[..., 1] / wy * ha + ya
    w = torch.exp((deltas[..., 2] / ww).clamp(max=clip)) * wa
    h = torch.exp((deltas[..., 3] / wh).clamp(max=clip)) * ha
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], -1)


def base_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float], *, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> Tensor:  # fmt: skip
    """The ``A = len(aspect_ratios) * len(sizes)`` anchors of one position, centred on 0 (Ren et al. 2015, Faster R-CNN).

    Aspect ratio ``r = h / w`` at constant area ``s**2``: ``h = s sqrt(r)``, ``w = s / sqrt(r)``; ordered ratio by
    ratio, sizes within a ratio, and rounded to integers, as ``torchvision``'s ``AnchorGenerator``. ``Tensor[A, 4]``.
    """
    s = torch.as_tensor(sizes, dtype=dtype, device=device)
    h_ratio = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=dtype, device=device))
    ws, hs = ((1 / h_ratio)[:, None] * s[None, :]).flatten(), (h_ratio[:, None] * s[None, :]).flatten()  # (A,)
    return (torch.stack([-ws, -hs, ws, hs], 1) / 2).round()


def anchor_grid(feature_size: tuple[int, int], image_size: tuple[int, int], sizes: Sequence[float] = (32, 64, 128),
                aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0), *, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> Tensor:  # fmt: skip
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


def match_anchors(anchors: Tensor, gt_boxes: Tensor, fg_iou: float = 0.7, bg_iou: float = 0.3,
                  keep_best: bool = True) -> Tensor:  # fmt: skip
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


def non_max_suppression(boxes: Tensor, scores: Tensor, iou_threshold: float = 0.5, labels: Tensor | None = None) -> Tensor:
    """Greedy NMS (``torchvision.ops.batched_nms``): indices of the kept boxes, by decreasing score.

    ``Tensor[N, 4]`` boxes, ``Tensor[N]`` scores; a box is dropped when it overlaps a higher-scoring kept box by
    IoU ``> iou_threshold``. With ``labels`` (``Tensor[N]``), boxes of different labels never suppress each other.
    """
    if labels is None:
        labels = torch.zeros_like(scores, dtype=torch.long)
    return batched_nms(boxes, scores, labels, iou_threshold)


# ------------------------------------------------------------------ detection on padded batches (notebook 06a)


def clip_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clip ``Tensor[..., 4]`` boxes to an ``(H, W)`` image (``torchvision.ops.clip_boxes_to_image``)."""
    h, w = size
    x, y = boxes[..., 0::2].clamp(0, w), boxes[..., 1::2].clamp(0, h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def batched_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every pair within each image: ``Tensor[B, N, 4]``, ``Tensor[B, M, 4]`` -> ``Tensor[B, N, M]``.

    ``box_iou(boxes1[b], boxes2[b])`` for every image at once (0 where both boxes are empty).
    """
    if boxes1.dim() != 3 or boxes2.dim() != 3 or boxes1.shape[-1] != 4 or boxes2.shape[-1] != 4 or len(boxes1) != len(boxes2):
        raise ValueError(f"expected Tensor[B, N, 4] and Tensor[B, M, 4], got {tuple(boxes1.shape)}, {tuple(boxes2.shape)}")
    area = lambda b: (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    lt = torch.maximum(boxes1[:, :, None, :2], boxes2[:, None, :, :2])
    rb = torch.minimum(boxes1[:, :, None, 2:], boxes2[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)  # (B, N, M)
    union = area(boxes1)[:, :, None] + area(boxes2)[:, None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), 0.0)


def match_batched(iou: Tensor, valid: Tensor, fg_iou: float = 0.7, bg_iou: float = 0.3, keep_best: bool = True) -> Tensor:
    """:func:`match_anchors` for a batch of padded ground truths (the same rules, every image at once).

    Args:
        iou: ``Tensor[B, N, M]`` IoU of each image's ``N`` anchors (or proposals) with its ``M`` box slots.
        valid: ``Tensor[B, M]`` bool, which slots hold a box (padding slots are never matched).

    Returns:
        ``Tensor[B, N]`` int64: the matched slot in ``[0, M)``, or ``BACKGROUND`` / ``IGNORED``.
    """
    if iou.dim() != 3 or valid.shape != (iou.shape[0], iou.shape[2]) or not bg_iou <= fg_iou:
        raise ValueError(f"expected iou (B, N, M), valid (B, M), bg_iou <= fg_iou; got {tuple(iou.shape)}, "
                         f"{tuple(valid.shape)}, {bg_iou}, {fg_iou}")  # fmt: skip
    iou = iou.masked_fill(~valid[:, None, :], -1.0)
    best, best_gt = iou.max(2)  # (B, N): each anchor's best box
    matches = torch.where(best >= fg_iou, best_gt, torch.where(best < bg_iou, BACKGROUND, IGNORED))
    if keep_best:
        is_best = ((iou == iou.max(1, keepdim=True).values) & valid[:, None, :]).any(2)  # best anchor(s) of some box
        matches = torch.where(is_best, best_gt, matches)
    return matches


def sample_balanced(matches: Tensor, per_image: int, positive_fraction: float,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The mini-batch of Fast R-CNN (Girshick 2015, Sec. 2.3) and of the RPN (Ren et al. 2015, Sec. 3.1.3).

    Per image, up to ``positive_fraction * per_image`` random positives (``matches >= 0``), then random negatives
    (``BACKGROUND``) up to ``per_image`` in all (``IGNORED`` never): ``torchvision``'s
    ``BalancedPositiveNegativeSampler``, vectorized over images. ``Tensor[B, N]`` -> (positive, negative) ``Tensor[B, N]``
    bool masks. ``generator``: on ``matches``' device (default: torch's global generator).
    """
    if matches.dim() != 2 or per_image < 1 or not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"expected matches (B, N), per_image >= 1, a fraction in [0, 1]; got {tuple(matches.shape)}, "
                         f"{per_image}, {positive_fraction}")  # fmt: skip
    pos, neg = matches >= 0, matches == BACKGROUND
    n_pos = pos.sum(1).clamp(max=int(per_image * positive_fraction))  # (B,)
    n_neg = torch.minimum(per_image - n_pos, neg.sum(1))
    key = torch.rand(matches.shape, device=matches.device, generator=generator)  # a random order of each image's anchors
    rank = lambda m: torch.where(m, key, 2.0).argsort(1).argsort(1)  # rank in a random order, members first
    return pos & (rank(pos) < n_pos[:, None]), neg & (rank(neg) < n_neg[:, None])


def batched_nms_top_k(boxes: Tensor, scores: Tensor, k: int, iou_threshold: float = 0.7) -> tuple[Tensor, Tensor]:
    """Per-image NMS, then each image's ``k`` best boxes (the RPN's proposals, Ren et al. 2015, Sec. 3.3).

    ``Tensor[B, N, 4]`` boxes, ``Tensor[B, N]`` scores -> ``Tensor[B, k, 4]``, ``Tensor[B, k]`` by decreasing score;
    an image with fewer than ``k`` survivors repeats its best one (as :func:`~course_lib.methods.propose`).
    One ``batched_nms`` for the whole batch (the image is the NMS group).
    """
    if boxes.dim() != 3 or scores.shape != boxes.shape[:2] or k < 1:
        raise ValueError(f"expected boxes (B, N, 4), scores (B, N), k >= 1; got {tuple(boxes.shape)}, {tuple(scores.shape)}, {k}")
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
