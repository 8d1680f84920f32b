"""Objects as points: centre heatmaps, their focal loss, peak extraction and decoding (CenterNet).

CVPR-style lecture, *Detection*: instead of regressing boxes from anchors (R-CNN, RPN), a keypoint detector
predicts, for every class ``c``, a heatmap whose peaks are the object centres, plus the box size at each centre
(Zhou, Wang & Krähenbühl 2019, *Objects as Points*, section 3; the heatmap loss is CornerNet's, Law & Deng 2018).

Conventions (CenterNet's, on an output grid of stride ``R``):

- an object with box ``(x1, y1, x2, y2)`` (pixel edges, ``x2``/``y2`` exclusive) has its centre
  ``p = ((x1 + x2) / 2, (y1 + y2) / 2)``; on the grid it is ``p / R``, its cell ``p~ = floor(p / R)`` and its
  offset ``p / R - p~`` in ``[0, 1)``;
- the target heatmap of class ``c`` is ``Y = max_k exp(-|q - p~_k|^2 / (2 sigma_k^2))`` over that class's
  objects ``k``: exactly 1 at each centre cell, a Gaussian around it whose width follows the object's size;
- sizes ``(x2 - x1, y2 - y1)`` and offsets are regressed (L1) at the centre cells only; sizes are in grid cells.

The Gaussian's radius ``r`` is the largest centre error (the same along both axes) at which a box of the object's
size still overlaps it with IoU ``>= min_overlap``, and ``sigma = (2r + 1) / 6`` as in CenterNet's code.
CenterNet's code reuses CornerNet's three-case radius for corner pairs with ``min_overlap=0.7``, floors ``r`` and
draws the Gaussian in a ``(2r+1)^2`` window; here ``r`` is the exact centre-shift radius (real-valued), the default
``min_overlap=0.5`` is mAP@0.5's criterion, and the Gaussian runs over the whole grid (beyond ``3 sigma`` it is
below 1.2%, where ``(1 - Y)^beta`` leaves the penalty almost whole).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_radius(width: Tensor, height: Tensor, min_overlap: float = 0.5) -> Tensor:
    """The largest shift ``r`` along both axes for which a ``width x height`` box keeps IoU >= ``min_overlap``.

    A box shifted by ``(r, r)`` overlaps the original by ``(w - r)(h - r)``; IoU ``>= t`` solves
    ``r^2 - (w + h) r + w h (1 - t) / (1 + t) >= 0``, whose smaller root is ``r``. Any shapes (broadcast).
    """
    if not 0.0 < min_overlap < 1.0:
        raise ValueError(f"min_overlap must be in (0, 1), got {min_overlap}")
    w, h = width.clamp(min=0), height.clamp(min=0)
    b, c = w + h, w * h * (1 - min_overlap) / (1 + min_overlap)
    return (b - (b * b - 4 * c).clamp(min=0).sqrt()) / 2


def _check_boxes(boxes: Tensor, labels: Tensor) -> None:
    if boxes.dim() != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be Tensor[N, K, 4] (x1, y1, x2, y2), got shape {tuple(boxes.shape)}")
    if labels.shape != boxes.shape[:2]:
        raise ValueError(
            f"labels must be Tensor[N, K] matching boxes {tuple(boxes.shape[:2])}, got {tuple(labels.shape)}"
        )


def centre_targets(
    boxes: Tensor, labels: Tensor, n_classes: int, grid: tuple[int, int], stride: int, min_overlap: float = 0.5
) -> Tensor:
    """CenterNet's training targets on a ``grid = (h, w)`` of stride ``stride``, packed in one tensor.

    Args:
        boxes: ``Tensor[N, K, 4]`` (x1, y1, x2, y2) in input pixels.
        labels: ``Tensor[N, K]`` int64 class of each box in ``[0, n_classes)``, ``-1`` for an empty slot (ignored).
        n_classes: ``C``.
        grid: the output grid ``(h, w)``; centres outside it are clamped to its border cells.
        stride: input pixels per grid cell ``R``.
        min_overlap: IoU that fixes each Gaussian's radius (:func:`gaussian_radius`).

    Returns:
        ``Tensor[N, C + 5, h, w]``: channels ``[0, C)`` the heatmaps ``Y``, ``C, C+1`` the box width and height
        (grid cells), ``C+2, C+3`` the centre offsets (x, y) in ``[0, 1)``, ``C+4`` the centre mask (1 at the cells
        where sizes and offsets are regressed). Two objects with the same centre cell: the later slot's size wins.
    """
    _check_boxes(boxes, labels)
    if n_classes < 1 or stride < 1 or min(grid) < 1:
        raise ValueError(f"need n_classes, stride and grid sides >= 1, got {n_classes}, {stride}, {grid}")
    if (labels >= n_classes).any():
        raise ValueError(f"labels must be < n_classes={n_classes} (or -1 for empty), got max {int(labels.max())}")
    n, k_slots = labels.shape
    h, w = grid
    dev = boxes.device
    box = boxes.float() / stride  # (N, K, 4) in grid units
    cx, cy = (box[..., 0] + box[..., 2]) / 2, (box[..., 1] + box[..., 3]) / 2
    bw, bh = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    ix, iy = cx.floor().clamp(0, w - 1), cy.floor().clamp(0, h - 1)  # the centre cell p~
    sigma = (2 * gaussian_radius(bw, bh, min_overlap) + 1) / 6
    valid = labels >= 0
    gy, gx = torch.arange(h, device=dev).float(), torch.arange(w, device=dev).float()
    heat = torch.zeros(n, n_classes, h * w, device=dev)
    dense = torch.zeros(n, 5, h * w + 1, device=dev)  # size, offset, mask; column h*w swallows empty slots
    for j in range(k_slots):  # one vectorized pass per slot (a handful)
        d2 = (gy.view(1, h, 1) - iy[:, j].view(n, 1, 1)) ** 2 + (gx.view(1, 1, w) - ix[:, j].view(n, 1, 1)) ** 2
        g = torch.exp(-d2 / (2 * sigma[:, j].view(n, 1, 1) ** 2)) * valid[:, j].view(n, 1, 1)  # (N, h, w)
        cls = labels[:, j].clamp(min=0).view(n, 1, 1).expand(n, 1, h * w)
        heat.scatter_reduce_(1, cls, g.view(n, 1, h * w), reduce="amax")
        cell = torch.where(valid[:, j], (iy[:, j] * w + ix[:, j]).long(), h * w)  # (N,)
        values = torch.stack(
            [bw[:, j], bh[:, j], cx[:, j] - ix[:, j], cy[:, j] - iy[:, j], torch.ones_like(cx[:, j])], 1
        )
        dense.scatter_(2, cell.view(n, 1, 1).expand(n, 5, 1), values.unsqueeze(2))
    return torch.cat([heat, dense[..., : h * w]], 1).view(n, n_classes + 5, h, w)


def heatmap_focal_loss(logits: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """CenterNet's eq. (1), a penalty-reduced pixel-wise logistic regression with focal loss (CornerNet):

    ``L_k = -1/N sum_{xyc} (1 - P)^alpha log P`` where ``Y = 1``, ``(1 - Y)^beta P^alpha log(1 - P)`` elsewhere,
    with ``P = sigmoid(logits)`` and ``N`` the number of ``Y = 1`` cells in the batch (at least 1).

    Args:
        logits: ``Tensor[B, C, h, w]`` heatmap logits (``log P`` is computed as ``logsigmoid``: no clamping needed).
        target: ``Tensor[B, C, h, w]`` target heatmaps ``Y`` in [0, 1], exactly 1 at the centres.
        alpha, beta: the focusing and penalty-reduction exponents (2 and 4 in both papers).

    Returns:
        The loss, a 0-d tensor.
    """
    if logits.shape != target.shape:
        raise ValueError(
            f"logits and target must have the same shape, got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    p = torch.sigmoid(logits)
    pos = target == 1
    pos_term = (1 - p) ** alpha * F.logsigmoid(logits)
    neg_term = (1 - target) ** beta * p**alpha * F.logsigmoid(-logits)
    return -torch.where(pos, pos_term, neg_term).sum() / pos.sum().clamp(min=1)


def centre_loss(outputs: Tensor, targets: Tensor, size_weight: float = 0.1, offset_weight: float = 1.0) -> Tensor:
    """CenterNet's detection loss ``L_det = L_k + lambda_size L_size + lambda_off L_off`` (section 3; 0.1 and 1).

    Args:
        outputs: ``Tensor[B, C + 4, h, w]``: heatmap logits, then predicted width, height, offset x, offset y.
        targets: ``Tensor[B, C + 5, h, w]`` from :func:`centre_targets`.

    ``L_size`` and ``L_off`` are L1 losses at the centre cells, summed over their two coordinates and divided by the
    number of objects, as ``L_k`` is.
    """
    c = outputs.shape[1] - 4
    if outputs.dim() != 4 or targets.shape != (outputs.shape[0], c + 5, *outputs.shape[2:]):
        raise ValueError(
            f"outputs Tensor[B, C+4, h, w] needs targets Tensor[B, C+5, h, w], got "
            f"{tuple(outputs.shape)} and {tuple(targets.shape)}"
        )
    mask = targets[:, c + 4 :]  # (B, 1, h, w)
    n = mask.sum().clamp(min=1)
    l1 = ((outputs[:, c:] - targets[:, c : c + 4]).abs() * mask).sum((0, 2, 3)) / n  # (4,)
    return (
        heatmap_focal_loss(outputs[:, :c], targets[:, :c]) + size_weight * l1[:2].sum() + offset_weight * l1[2:].sum()
    )


def heatmap_peaks(heat: Tensor, k: int = 10, kernel: int = 3) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """CenterNet's peak extraction: the cells that equal the max of their ``kernel x kernel`` neighbourhood (a max
    pooling replaces NMS), then the ``k`` highest over all classes and positions.

    Args:
        heat: ``Tensor[B, C, h, w]`` heatmap scores (probabilities).
        k: peaks per image (at most ``C * h * w``).
        kernel: odd side of the neighbourhood.

    Returns:
        ``scores``, ``classes``, ``ys``, ``xs``: ``Tensor[B, k]`` each, by decreasing score (cells that are not peaks
        are given score 0; on a plateau of equal maxima every cell is a peak).
    """
    if heat.dim() != 4:
        raise ValueError(f"heat must be Tensor[B, C, h, w], got shape {tuple(heat.shape)}")
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be odd and >= 1, got {kernel}")
    _, c, h, w = heat.shape
    if not 1 <= k <= c * h * w:
        raise ValueError(f"k must be in [1, C*h*w={c * h * w}], got {k}")
    peaks = heat * (heat == F.max_pool2d(heat, kernel, stride=1, padding=kernel // 2))
    scores, index = peaks.flatten(1).topk(k, dim=1)  # (B, k)
    return scores, index // (h * w), (index % (h * w)) // w, index % w


def decode_centres(
    heat: Tensor, size: Tensor, offset: Tensor, stride: int, k: int = 10, kernel: int = 3
) -> tuple[Tensor, Tensor, Tensor]:
    """Peaks + sizes + offsets -> boxes (CenterNet section 4): ``centre = (cell + offset) R``, ``side = size R``.

    Args:
        heat: ``Tensor[B, C, h, w]`` heatmap probabilities.
        size: ``Tensor[B, 2, h, w]`` box width and height in grid cells.
        offset: ``Tensor[B, 2, h, w]`` centre offsets (x, y) in grid cells.
        stride: input pixels per grid cell ``R``.
        k, kernel: as in :func:`heatmap_peaks`.

    Returns:
        ``boxes`` ``Tensor[B, k, 4]`` (x1, y1, x2, y2) in input pixels, ``scores`` ``Tensor[B, k]`` and ``labels``
        ``Tensor[B, k]`` int64, by decreasing score.
    """
    if size.shape != (heat.shape[0], 2, *heat.shape[2:]) or offset.shape != size.shape:
        raise ValueError(
            f"size and offset must be Tensor[B, 2, h, w] for heat {tuple(heat.shape)}, got "
            f"{tuple(size.shape)} and {tuple(offset.shape)}"
        )
    scores, labels, ys, xs = heatmap_peaks(heat, k, kernel)
    w = heat.shape[3]
    cell = (ys * w + xs).unsqueeze(1).expand(-1, 2, -1)  # (B, 2, k)
    wh = size.flatten(2).gather(2, cell).transpose(1, 2)  # (B, k, 2)
    off = offset.flatten(2).gather(2, cell).transpose(1, 2)
    centre = torch.stack([xs, ys], 2).to(off.dtype) + off  # (B, k, 2) grid units
    boxes = torch.cat([centre - wh / 2, centre + wh / 2], 2) * stride
    return boxes, scores, labels


__all__ = ["centre_loss", "centre_targets", "decode_centres", "gaussian_radius", "heatmap_focal_loss", "heatmap_peaks"]
