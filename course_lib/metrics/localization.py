"""Weak-localization metrics: how well class maps learned from image-level labels point at the objects.

RCP209 (N. Thome), *Localization / Alignment*, weakly supervised localization. Each metric is computed for every
(scene, class) pair where the class is present, on maps upsampled to the image (``Tensor[N, C, H, W]``):

- pointing game (Zhang et al. 2016, "Top-down neural attention by excitation backprop"; Oquab et al. 2015):
  is the map's maximum inside a box of that class? Easy to saturate: one good pixel is enough.
- positive mass in box: the share of the map's positive part ``relu(M_c)`` that lies inside the class's boxes
  (1 = all the evidence is on the objects; it keeps rising as the maps get sharper, it does not saturate early).
- box IoU: the CAM paper's box (Zhou et al. 2016, section 3: the pixels above 20% of the map's maximum, the box of
  their largest connected component, :func:`map_to_box`) against the best-matching box of the class (the IoU of
  :func:`torchvision.ops.box_iou`); CorLoc is the share with IoU >= 0.5. The threshold is relative to zero, so it
  depends on the maps' offset: a map whose maximum is <= 0 (the class is not detected) gives the box of its peak.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.boxes import batched_box_iou
from ..ops.canvas import class_box_masks, map_to_box, upsample_maps


def pointing_game(maps: Tensor, targets: Tensor) -> Tensor:
    """Hits of the pointing game: is the maximum of each map inside its target region?

    Args:
        maps: ``Tensor[P, H, W]`` one map per (scene, class) pair.
        targets: ``Tensor[P, H, W]`` bool, the class's boxes (or masks) in that scene.

    Returns:
        ``Tensor[P]`` bool (ties: the first maximum in raster order).
    """
    if maps.shape != targets.shape or maps.dim() != 3:
        raise ValueError(
            f"expected maps and targets of the same shape (P, H, W), got {tuple(maps.shape)} and {tuple(targets.shape)}"
        )
    peak = maps.flatten(1).argmax(1, keepdim=True)
    return targets.flatten(1).gather(1, peak).squeeze(1)


def positive_mass_share(maps: Tensor, targets: Tensor) -> Tensor:
    """Share of ``relu(map)`` inside the target: ``Tensor[P, H, W]`` x2 -> ``Tensor[P]`` in [0, 1] (0 if no positive mass)."""
    if maps.shape != targets.shape or maps.dim() != 3:
        raise ValueError(
            f"expected maps and targets of the same shape (P, H, W), got {tuple(maps.shape)} and {tuple(targets.shape)}"
        )
    pos = maps.clamp(min=0).flatten(1)
    total = pos.sum(1)
    inside = (pos * targets.flatten(1)).sum(1)
    return torch.where(total > 0, inside / total.clamp(min=1e-12), torch.zeros_like(total))


def best_box_iou(pred: Tensor, boxes: Tensor, valid: Tensor) -> Tensor:
    """IoU of each predicted box with the best of its own candidate boxes.

    Only the paired IoUs are computed, ``P x K`` of them, in one vectorized call of
    :func:`~course_lib.ops.boxes.batched_box_iou` (each prediction as an image holding one box): the diagonal of
    ``torchvision.ops.box_iou(pred, boxes[p])`` for every ``p``, without the ``P x P x K`` all-against-all.

    Args:
        pred: ``Tensor[P, 4]``.
        boxes: ``Tensor[P, K, 4]`` candidate ground-truth boxes of pair ``p``.
        valid: ``Tensor[P, K]`` bool, which candidates count (e.g. the boxes of the right class).

    Returns:
        ``Tensor[P]`` (0 where a pair has no valid box, or where both boxes are empty).
    """
    if pred.dim() != 2 or pred.shape[-1] != 4 or boxes.shape[:1] + boxes.shape[2:] != (len(pred), 4):
        raise ValueError(f"expected pred (P, 4) and boxes (P, K, 4), got {tuple(pred.shape)}, {tuple(boxes.shape)}")
    if valid.shape != boxes.shape[:2]:
        raise ValueError(f"expected valid (P, K) = {tuple(boxes.shape[:2])}, got {tuple(valid.shape)}")
    if boxes.shape[1] == 0:
        return pred.new_zeros(len(pred), dtype=torch.float32)
    iou = batched_box_iou(pred.float().unsqueeze(1), boxes.float()).squeeze(1)  # (P, K): pair p's own boxes
    return torch.where(valid, iou, torch.zeros_like(iou)).amax(1)


def weak_localization(
    maps: Tensor,
    boxes: Tensor,
    digits: Tensor,
    size: tuple[int, int],
    *,
    threshold: float = 0.2,
    relative_to: str = "range",
    largest_component: bool = True,
    chunk: int = 500,
) -> dict[str, float]:
    """Pointing game, positive mass in box, mean box IoU and CorLoc of class maps on annotated scenes.

    Args:
        maps: ``Tensor[N, C, h, w]`` class maps (any resolution; upsampled bilinearly to ``size``).
        boxes: ``Tensor[N, K, 4]`` boxes of the scenes (e.g. :class:`course_lib.data.DigitScenes`' ``boxes``).
        digits: ``Tensor[N, K]`` class of each box, -1 for empty slots.
        size: ``(H, W)`` of the images the boxes live in.
        threshold, relative_to, largest_component: how :func:`map_to_box` draws the box (default: the CAM paper's, with
            its code's min-max normalization of each map).
        chunk: scenes per vectorized step (bounds the memory).

    Returns:
        ``{"pointing", "mass_in_box", "iou", "corloc"}`` averaged over the (scene, present class) pairs, and
        ``"pairs"``, their number.
    """
    if maps.dim() != 4 or boxes.shape[:2] != digits.shape or len(maps) != len(boxes):
        raise ValueError(
            f"shapes do not match: maps {tuple(maps.shape)}, boxes {tuple(boxes.shape)}, digits {tuple(digits.shape)}"
        )
    n_classes = maps.shape[1]
    sums = dict(pointing=0.0, mass_in_box=0.0, iou=0.0, corloc=0.0)
    pairs = 0
    for lo in range(0, len(maps), chunk):  # chunks of scenes
        m = upsample_maps(maps[lo : lo + chunk], size)  # (n, C, H, W)
        b, d = boxes[lo : lo + chunk].to(m.device), digits[lo : lo + chunk].to(m.device)
        targets = class_box_masks(b, d, n_classes, size)  # (n, C, H, W)
        present = (d.unsqueeze(2) == torch.arange(n_classes, device=d.device).view(1, 1, -1)).any(1)  # (n, C)
        scene, cls = present.nonzero(as_tuple=True)
        pm, pt = m[scene, cls], targets[scene, cls]  # (P, H, W)
        box = map_to_box(pm, threshold, relative_to=relative_to, largest_component=largest_component)  # (P, 4)
        iou = best_box_iou(box, b[scene], d[scene] == cls.unsqueeze(1))
        sums["pointing"] += float(pointing_game(pm, pt).float().sum())
        sums["mass_in_box"] += float(positive_mass_share(pm, pt).sum())
        sums["iou"] += float(iou.sum())
        sums["corloc"] += float((iou >= 0.5).float().sum())
        pairs += len(scene)
    if pairs == 0:
        raise ValueError("no scene has an annotated object")
    return {**{k: v / pairs for k, v in sums.items()}, "pairs": pairs}
