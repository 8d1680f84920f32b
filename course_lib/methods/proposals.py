"""From sliding windows to proposals: a cheap class-agnostic proposal method, and R-CNN-style training windows.

See the docstring of :mod:`course_lib.ops.windows` for the lecture. :func:`propose` ranks windows by isolation
(from integral images), keeps each image's best ``k`` after non-maximum suppression and recentres them on their ink;
:func:`training_windows` draws, per image, a jittered window on the object and background windows around it, to
train a region classifier with a background class (Girshick et al. 2014).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou

from ..ops.boxes import batched_nms_top_k
from ..ops.windows import _check_images, box_features, box_sums, integral_image, square_boxes, window_boxes


def propose(
    x: Tensor,
    sizes: tuple[int, ...] = (28,),
    stride: int = 2,
    k: int = 5,
    iou_threshold: float = 0.5,
    ring: int = 4,
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
    # per-image NMS, then each image's first k survivors (an image with fewer repeats its best box)
    boxes, top_scores = batched_nms_top_k(cand.float().expand(b, -1, -1), score, k, iou_threshold)  # (B, k, 4)
    # one mean-shift step per iteration: move each window onto the centre of mass of the ink inside it
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    moments = integral_image(torch.cat([x, x * (xs + 0.5), x * (ys + 0.5)], 1))  # (B, 3, H+1, W+1), float64
    half = (boxes[..., 2:] - boxes[..., :2]) / 2  # (B, k, 2)
    for _ in range(recentre):
        m = box_sums(moments, boxes.round().long()).float()  # (B, 3, k): ink, x-moment, y-moment
        centre = (m[:, 1:] / m[:, :1].clamp(min=1e-6)).transpose(1, 2)  # (B, k, 2)
        centre = torch.where(m[:, :1].transpose(1, 2) > 0, centre, (boxes[..., :2] + boxes[..., 2:]) / 2)
        boxes = torch.cat([centre - half, centre + half], -1)
    return boxes, top_scores


def training_windows(
    gt: Tensor,
    height: int,
    width: int,
    window: int = 28,
    stride: int = 2,
    n_neg: int = 1,
    jitter: int = 2,
    iou_threshold: float = 0.5,
    generator: torch.Generator | None = None,
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
