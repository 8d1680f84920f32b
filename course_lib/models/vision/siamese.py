"""The Siamese networks of tracking: an embedding CNN, and both branches of a pair with one set of weights.

Lecture: UvA "Tracking". SINT (Tao, Gavves & Smeulders 2016, "Siamese Instance Search for Tracking"): learn an
embedding in which two patches of the same object are close and patches of different objects are at least a
margin apart, then track by matching the first frame's target in each new frame; SiamFC (Bertinetto et al. 2016,
"Fully-Convolutional Siamese Networks for Object Tracking"): the embedding is fully convolutional, so that the
matching at every position is one cross-correlation. The rest of the pipeline lives by kind: the training pairs in
:mod:`course_lib.data.siamese_pairs`, the marginal contrastive loss in :mod:`course_lib.ops.losses`, the
cross-correlation and SSD scores in :mod:`course_lib.ops.correlation`, the tracker in
:mod:`course_lib.methods.tracking`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


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
    root of its number of positions (a unit vector), so that the contrastive loss's distance ``D² = 2 - 2 <a, b>``
    is a function of the same cross-correlation score that :func:`~course_lib.methods.tracking.track` maximizes."""

    def __init__(self, embedding: SiameseEmbedding) -> None:
        super().__init__()
        self.embedding = embedding

    def forward(self, pairs: Tensor) -> Tensor:
        if pairs.dim() != 5 or pairs.shape[1] != 2:
            raise ValueError(f"expected pairs (B, 2, C, h, w), got {tuple(pairs.shape)}")
        f = self.embedding.normalized(pairs.flatten(0, 1))  # (2B, D, h', w')
        f = f.flatten(1) / (f.shape[-2] * f.shape[-1]) ** 0.5
        return f.view(pairs.shape[0], 2, -1)
