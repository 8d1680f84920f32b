"""Siamese tracking: an embedding CNN, the marginal contrastive loss, cross-correlation of a fixed template.

Lecture: UvA "Tracking". SINT (Tao, Gavves & Smeulders 2016, "Siamese Instance Search for Tracking"): learn an
embedding in which two patches of the same object are close and patches of different objects are at least a
margin apart (the marginal contrastive loss of Hadsell, Chopra & LeCun 2006), then track by matching the
*first frame's* target against each new frame, with no model update: an updated template drifts. SiamFC
(Bertinetto et al. 2016, "Fully-Convolutional Siamese Networks for Object Tracking"): the matching of the
template's embedding at every position of the frame's embedding is one cross-correlation, a grouped convolution
for a batch. The raw-pixel baseline matches the template's pixels by sum of squared differences.

Coordinates: the embedding has no padding and a total stride ``stride``, so response position ``(u, v)`` is the
template placed with its top-left corner at input pixel ``(stride u, stride v)`` of the (padded) frame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...ops.canvas import window_indices


class SiameseEmbedding(nn.Module):
    """Three unpadded 3x3 conv + BatchNorm + ReLU layers, one 2x2 max pooling after the first (stride 2), and a
    final 3x3 conv: ``Tensor[B, in_channels, H, W] -> Tensor[B, dim, (H - 2) // 2 - 6, ...]``, the same weights
    for the template and the frame (the Siamese branches)."""

    stride = 2

    def __init__(self, in_channels: int = 1, width: int = 16, dim: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(in_channels, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.Conv2d(2 * width, dim, 3),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)

    def embed(self, patches: Tensor) -> Tensor:
        """SINT's patch descriptor: the feature map averaged over positions, L2-normalized: ``Tensor[B, dim]``."""
        return F.normalize(self.features(patches).mean((2, 3)), dim=1)

    def normalized(self, x: Tensor) -> Tensor:
        """The feature map with each position's descriptor L2-normalized: ``Tensor[B, dim, h, w]``. Tracking with
        ``track(..., embed=net.normalized)`` then scores a window by the sum of its positions' cosine similarities."""
        return F.normalize(self.features(x), dim=1)


class SiamesePairs(nn.Module):
    """Both branches of a Siamese pair, one set of weights: ``Tensor[B, 2, C, h, w] -> Tensor[B, 2, D]``.

    The descriptor of a patch is its :meth:`SiameseEmbedding.normalized` map, flattened and divided by the square
    root of its number of positions (a unit vector), so that the contrastive loss's distance
    ``D² = 2 - 2 <a, b>`` is a function of the same cross-correlation score that :func:`track` maximizes."""

    def __init__(self, embedding: SiameseEmbedding) -> None:
        super().__init__()
        self.embedding = embedding

    def forward(self, pairs: Tensor) -> Tensor:
        if pairs.dim() != 5 or pairs.shape[1] != 2:
            raise ValueError(f"expected pairs (B, 2, C, h, w), got {tuple(pairs.shape)}")
        f = self.embedding.normalized(pairs.flatten(0, 1))  # (2B, D, h', w')
        f = f.flatten(1) / (f.shape[-2] * f.shape[-1]) ** 0.5
        return f.view(pairs.shape[0], 2, -1)


def sample_pairs(
    clips: Tensor, boxes: Tensor, n: int, *, patch: int = 28, shift: tuple[float, float] = (3.0, 12.0), seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Training pairs for SINT's contrastive loss from tracking clips with known boxes.

    Args:
        clips: ``Tensor[N, T, C, H, W]``; boxes: ``Tensor[N, T, K, 4]`` (slot 0 the target, slots ``1..`` others).
    Returns:
        ``(pairs Tensor[n, 2, C, patch, patch], same Tensor[n] int64)``: the target's patch in one frame with, half of
        the time, its patch in another frame (``same=1``), else (``same=0``) either another digit's patch in that
        frame or the target's patch shifted by ``shift`` pixels (min, max per axis): so that the embedding tells
        the object from the others *and* from its own misaligned windows.
    """
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


def contrastive_loss(a: Tensor, b: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """The marginal contrastive loss (Hadsell et al. 2006; SINT, Tao et al. 2016, eq. 1), averaged over pairs:

        L = ½ y D² + ½ (1 - y) max(0, ε - D)²,   D = ||a - b||₂,

    ``a, b`` ``Tensor[B, D]`` embeddings, ``same`` ``Tensor[B]`` (1: same object, 0: different), ``margin`` ε.
    """
    if a.dim() != 2 or a.shape != b.shape or same.shape != (len(a),):
        raise ValueError(
            f"expected a, b (B, D) and same (B,), got {tuple(a.shape)}, {tuple(b.shape)}, {tuple(same.shape)}"
        )
    d = (a - b).norm(dim=1)
    y = same.to(d.dtype)
    return (0.5 * y * d.square() + 0.5 * (1 - y) * (margin - d).clamp_min(0).square()).mean()


def cross_correlation(template: Tensor, search: Tensor) -> Tensor:
    """Each template slid over its own search map (SiamFC's ``f(z) ⋆ f(x)``), as one grouped convolution.

    ``template`` ``Tensor[B, C, h, w]``, ``search`` ``Tensor[B, C, H, W]`` -> ``Tensor[B, 1, H - h + 1, W - w + 1]``:
    ``out[b, 0, u, v] = Σ_{c,i,j} template[b, c, i, j] search[b, c, u + i, v + j]``.
    """
    if template.dim() != 4 or search.dim() != 4 or template.shape[:2] != search.shape[:2]:
        raise ValueError(f"expected (B, C, h, w) and (B, C, H, W), got {tuple(template.shape)}, {tuple(search.shape)}")
    b, c, h, w = search.shape
    out = F.conv2d(search.reshape(1, b * c, h, w), template, groups=b)  # (1, B, H', W'): group b sees search b
    return out.view(b, 1, *out.shape[-2:])


def ssd_scores(template: Tensor, search: Tensor) -> Tensor:
    """Minus the sum of squared differences of each template with every window of its search map (higher is
    better): ``-||T||² + 2 T ⋆ S - Σ_window S²``; shapes as :func:`cross_correlation`."""
    ones = torch.ones_like(template[:1, :1]).expand(1, template.shape[1], -1, -1)
    window_energy = F.conv2d(search.square(), ones)  # (B, 1, H', W')
    t_energy = template.square().sum((1, 2, 3)).view(-1, 1, 1, 1)
    return 2 * cross_correlation(template, search) - window_energy - t_energy


def crop_patches(frames: Tensor, centres: Tensor, size: int) -> Tensor:
    """``size x size`` patches of ``frames`` ``Tensor[B, C, H, W]`` centred (rounded down) on ``centres``
    ``Tensor[B, 2]`` (row, column); zeros outside the frame. ``Tensor[B, C, size, size]``."""
    pad = size
    padded = F.pad(frames, (pad, pad, pad, pad))
    top = centres.floor().long() - size // 2 + pad
    top = torch.stack([top[:, 0].clamp(0, padded.shape[-2] - size), top[:, 1].clamp(0, padded.shape[-1] - size)], 1)
    return padded.permute(0, 2, 3, 1)[window_indices(top[:, 0], top[:, 1], size, size)].permute(0, 3, 1, 2)


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
        embed: the Siamese branch (e.g. a :class:`SiameseEmbedding` in eval mode, total stride ``stride``); ``None``
            matches raw pixels (the template-matching baseline).
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
    match = {"xcorr": cross_correlation, "ssd": ssd_scores}.get(score)
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
