"""Training pairs for a Siamese tracker, sampled from clips with known boxes.

Lecture: UvA "Tracking". SINT (Tao, Gavves & Smeulders 2016, "Siamese Instance Search for Tracking") learns its
embedding from pairs of patches, labelled same object or not, with the marginal contrastive loss
(:func:`course_lib.ops.losses.contrastive_loss`); the negatives here are other objects of the frame and the target's
own misaligned windows, so that the embedding localizes as well as identifies.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.canvas import crop_patches


def sample_pairs(
    clips: Tensor, boxes: Tensor, n: int, *, patch: int = 28, shift: tuple[float, float] = (3.0, 12.0), seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Training pairs for SINT's contrastive loss from tracking clips with known boxes.

    Args:
        clips: ``Tensor[N, T, C, H, W]``; boxes: ``Tensor[N, T, K, 4]`` (slot 0 the target, slots ``1..`` others),
            e.g. a :class:`~course_lib.data.synthetic.MovingMNIST`'s ``clips`` and ``boxes``.
        n: the number of pairs.
        patch: the side of the square patches, centred on the boxes.
        shift: the misalignment of the shifted negatives, in pixels (min, max per axis).
        seed: the sampling's seed (a generator of its own: the global random state is left alone).
    Returns:
        ``(pairs Tensor[n, 2, C, patch, patch], same Tensor[n] int64)``: the target's patch in one frame with, half of
        the time, its patch in another frame (``same=1``), else (``same=0``) either another digit's patch in that
        frame or the target's patch shifted by ``shift`` pixels: so that the embedding tells the object from the
        others *and* from its own misaligned windows.
    """
    if clips.dim() != 5 or boxes.dim() != 4 or boxes.shape[:2] != clips.shape[:2] or boxes.shape[-1] != 4:
        raise ValueError(
            f"expected clips (N, T, C, H, W) and boxes (N, T, K, 4), got {tuple(clips.shape)}, {tuple(boxes.shape)}"
        )
    g = torch.Generator().manual_seed(seed)
    n_clips, t_len, k = boxes.shape[:3]
    dev = clips.device

    def centre(i: Tensor, t: Tensor, slot: Tensor) -> Tensor:
        b = boxes[i, t, slot].to(clips.dtype)
        return (b[:, :2] + b[:, 2:]).flip(-1) / 2  # (n, 2) row, column

    i, t0, t1 = (torch.randint(0, hi, (n,), generator=g).to(dev) for hi in (n_clips, t_len, t_len))
    same = torch.rand(n, generator=g).to(dev) < 0.5
    other = (torch.rand(n, generator=g).to(dev) < 0.5) & ~same & (k > 1)  # negatives: another digit...
    slot = torch.where(other, torch.randint(1, max(k, 2), (n,), generator=g).to(dev), 0).clamp(max=k - 1)
    offset = shift[0] + torch.rand(n, 2, generator=g).to(dev) * (shift[1] - shift[0])
    offset = offset * torch.where(torch.rand(n, 2, generator=g).to(dev) < 0.5, -1.0, 1.0)
    moved = ~same & ~other  # ...or the target, misaligned
    zeros = torch.zeros_like(i)
    a = crop_patches(clips[i, t0], centre(i, t0, zeros), patch)
    b = crop_patches(clips[i, t1], centre(i, t1, slot) + offset * moved[:, None], patch)
    return torch.stack([a, b], 1), same.long()
