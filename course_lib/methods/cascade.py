"""From sliding windows to proposals: windows, region crops, integral images, an attentional cascade.

See the docstring of the companion module for the lecture and the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from ..ops.windows import _check_images, box_features, box_sums, integral_image, square_boxes, window_boxes


def fit_cascade(features: Tensor, keep: float = 0.99) -> Tensor:
    """Viola–Jones stage thresholds: for each feature, the ``1 - keep`` quantile over *object* windows,
    chained so that each stage keeps a ``keep`` share of the object windows that reached it.

    Args:
        features: ``Tensor[N, F]`` box features of object windows (e.g. windows centred on the objects).
        keep: detection rate per stage (the cascade keeps about ``keep ** F`` of the objects).

    Returns:
        thresholds ``Tensor[F]``; stage ``f`` rejects windows with ``features[..., f] < thresholds[f]``.
    """
    if features.dim() != 2 or len(features) == 0:
        raise ValueError(f"expected object-window features (N, F) with N > 0, got shape {tuple(features.shape)}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    thresholds = []
    alive = torch.ones(len(features), dtype=torch.bool, device=features.device)
    for f in range(features.shape[1]):
        v = features[alive, f]
        t = torch.quantile(v if v.is_floating_point() else v.float(), 1.0 - keep)  # in the features' precision
        thresholds.append(t)
        alive &= features[:, f] >= t
    return torch.stack(thresholds)


def cascade_keep(features: Tensor, thresholds: Tensor) -> Tensor:
    """Windows alive after each stage: ``Tensor[..., F]`` features -> ``Tensor[F, ...]`` boolean masks (cumulative)."""
    if features.shape[-1] != len(thresholds):
        raise ValueError(f"{features.shape[-1]} features but {len(thresholds)} thresholds")
    passed = features >= thresholds  # (..., F)
    return passed.cumprod(-1).bool().movedim(-1, 0)


def propose(
    x: Tensor, sizes: tuple[int, ...] = (28,), stride: int = 2, k: int = 5, iou_threshold: float = 0.5, ring: int = 4,
    recentre: int = 2,
) -> tuple[Tensor, Tensor]:
    """A simple class-agnostic proposal method: windows of a few ``sizes`` ranked by isolation
    (box ink minus ring ink, from the integral image), then non-maximum suppression, top ``k`` per image;
    finally each window is moved ``recentre`` times onto the centre of mass of the ink inside it (moments
    from integral images of ``x``, ``x * col`` and ``x * row``: one mean-shift step each), so it is centred
    on the blob it found.

    Args:
        x: 1-channel images ``Tensor[B, 1, H, W]``, ink > 0 on a zero background.

    Returns:
        ``boxes Tensor[B, k, 4]`` (float, pixel edges) and their ``scores Tensor[B, k]``, best first (an image
        with fewer than ``k`` boxes left after NMS repeats its best one).
    """
    _check_images(x)
    b, _, h, w = x.shape
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cand = torch.cat([window_boxes(h, w, s, stride, device=x.device) for s in sizes])  # (K, 4)
    if len(cand) < k:
        raise ValueError(f"only {len(cand)} candidate windows for k={k}")
    ii = integral_image(x)
    side = (cand[:, 2] - cand[:, 0]).float()
    score = box_features(ii, cand, ring=ring)[..., 2].float() * side**2  # (B, K): ink in the box minus ink on its ring
    img = torch.arange(b, device=x.device).repeat_interleave(len(cand))
    flat_boxes = cand.float().repeat(b, 1)
    keep = batched_nms(flat_boxes, score.flatten(), img, iou_threshold)  # sorted by decreasing score
    # the first k survivors of each image (vectorized: a stable sort by image keeps the score order)
    keep = keep[torch.sort(img[keep], stable=True).indices]
    kimg = img[keep]
    first = torch.searchsorted(kimg, torch.arange(b, device=x.device))
    rank = torch.arange(len(keep), device=x.device) - first[kimg]
    top = rank < k
    # an image with fewer than k survivors repeats its best box (every image keeps at least one)
    out_idx = keep[first].unsqueeze(1).repeat(1, k)  # (B, k)
    out_idx[kimg[top], rank[top]] = keep[top]
    boxes = flat_boxes[out_idx]  # (B, k, 4)
    # one mean-shift step per iteration: move each window onto the centre of mass of the ink inside it
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    moments = integral_image(torch.cat([x, x * (xs + 0.5), x * (ys + 0.5)], 1))  # (B, 3, H+1, W+1), float64
    half = (boxes[..., 2:] - boxes[..., :2]) / 2  # (B, k, 2)
    for _ in range(recentre):
        m = box_sums(moments, boxes.round().long()).float()  # (B, 3, k): ink, x-moment, y-moment
        centre = (m[:, 1:] / m[:, :1].clamp(min=1e-6)).transpose(1, 2)  # (B, k, 2)
        centre = torch.where(m[:, :1].transpose(1, 2) > 0, centre, (boxes[..., :2] + boxes[..., 2:]) / 2)
        boxes = torch.cat([centre - half, centre + half], -1)
    return boxes, score.flatten()[out_idx]


def training_windows(
    gt: Tensor, height: int, width: int, window: int = 28, stride: int = 2, n_neg: int = 1, jitter: int = 2,
    iou_threshold: float = 0.5, generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """R-CNN-style training windows for a region classifier with a background class (Girshick et al. 2014).

    One positive per image: the ``window x window`` square centred on the object's box, shifted by up to
    ``jitter`` pixels; ``n_neg`` negatives per image drawn among the sliding windows whose IoU with that
    square is below ``iou_threshold`` (they may hold clutter or part of the object: "background").

    Args:
        gt: one box per image ``Tensor[N, 4]``.
        generator: a CPU generator for reproducible draws.

    Returns:
        ``boxes Tensor[N, 1 + n_neg, 4]`` (float) and ``is_object Tensor[N, 1 + n_neg]`` (True for the positive).
    """
    from torchvision.ops import box_iou

    if gt.dim() != 2 or gt.shape[1] != 4:
        raise ValueError(f"expected one box per image (N, 4), got shape {tuple(gt.shape)}")
    n, dev = len(gt), gt.device
    centred = square_boxes(gt, min_side=window)  # (N, 4)
    shift = torch.randint(-jitter, jitter + 1, (n, 1, 2), generator=generator).to(dev).float().repeat(1, 1, 2)
    pos = centred.unsqueeze(1) + shift  # (N, 1, 4)
    grid = window_boxes(height, width, window, stride, device=dev).float()  # (K, 4)
    far = box_iou(centred, grid) < iou_threshold  # (N, K)
    if not bool(far.any(1).all()):
        raise ValueError("some image has no background window; use a larger canvas or a smaller stride")
    pick = torch.multinomial(far.float().cpu(), n_neg, replacement=True, generator=generator).to(dev)  # (N, n_neg)
    boxes = torch.cat([pos, grid[pick]], 1)
    is_object = torch.zeros(n, 1 + n_neg, dtype=torch.bool, device=dev)
    is_object[:, 0] = True
    return boxes, is_object
