"""A template tracker: match the first frame's target in every frame (SINT / SiamFC), or the raw-pixel baseline.

Lecture: UvA "Tracking". SINT (Tao, Gavves & Smeulders 2016, "Siamese Instance Search for Tracking") tracks by
matching the *first frame's* target against each new frame, with no model update: an updated template drifts.
SiamFC (Bertinetto et al. 2016) scores every position of the frame at once, by cross-correlating the template's
embedding with the frame's (:func:`course_lib.ops.correlation.cross_correlation`). With no embedding, the same
search matches raw pixels (sum of squared differences or cross-correlation): the template-matching baseline.

Coordinates: the embedding has no padding and a total stride ``stride``, so response position ``(u, v)`` is the
template placed with its top-left corner at input pixel ``(stride u, stride v)`` of the (padded) frame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops.canvas import crop_patches
from ..ops.correlation import cross_correlation, ssd_scores

SCORES = {"xcorr": cross_correlation, "ssd": ssd_scores}


def track(
    frames: Tensor,
    first_box: Tensor,
    embed: Callable[[Tensor], Tensor] | None = None,
    *,
    stride: int = 1,
    patch: int = 28,
    score: str = "xcorr",
    update: bool = False,
) -> Tensor:
    """Track one target per clip by matching its first-frame patch in every frame (SINT / SiamFC, no model update).

    Args:
        frames: ``Tensor[N, T, C, H, W]`` clips; first_box: ``Tensor[N, 4]`` (x1, y1, x2, y2) in frame 0.
        embed: the Siamese branch (e.g. a :class:`~course_lib.models.vision.SiameseEmbedding` in eval mode, total
            stride ``stride``); ``None`` matches raw pixels (the template-matching baseline).
        patch: side of the template, centred on the box (the digit's 28 x 28 patch by default).
        score: ``"xcorr"`` (cross-correlation, SiamFC) or ``"ssd"`` (minus squared differences).
        update: replace the template by the patch found in each frame (the drifting tracker of the lecture).
    Returns:
        ``Tensor[N, T, 4]`` float boxes of the first box's size, centred on the best match (frame 0: ``first_box``).
    """
    if frames.dim() != 5 or first_box.shape != (frames.shape[0], 4):
        raise ValueError(
            f"expected frames (N, T, C, H, W) and boxes (N, 4), got {tuple(frames.shape)}, {tuple(first_box.shape)}"
        )
    match = SCORES.get(score)
    if match is None:
        raise ValueError(f"score must be 'xcorr' or 'ssd', got {score!r}")
    embed = embed if embed is not None else (lambda x: x)
    t_len = frames.shape[1]
    first_box = first_box.to(frames.dtype)
    size = first_box[:, 2:] - first_box[:, :2]  # (N, 2) width, height
    centre = (first_box[:, :2] + first_box[:, 2:]).flip(-1) / 2  # (N, 2) row, column
    template = embed(crop_patches(frames[:, 0], centre, patch))
    boxes = [first_box]
    pad = patch  # the target may sit at the border: search the zero-padded frame
    for t in range(1, t_len):
        search = embed(F.pad(frames[:, t], (pad, pad, pad, pad)))
        response = match(template, search)  # (N, 1, h', w')
        best = response.flatten(1).argmax(1)
        u, v = best // response.shape[-1], best % response.shape[-1]
        top_left = torch.stack([u, v], 1).to(frames.dtype) * stride - pad
        centre = top_left + patch // 2  # crop_patches' convention: the centre pixel of the patch
        xy = centre.flip(-1)
        boxes.append(torch.cat([xy - size / 2, xy + size / 2], 1))
        if update:
            template = embed(crop_patches(frames[:, t], centre, patch))
    return torch.stack(boxes, 1)
