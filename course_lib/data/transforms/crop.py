"""AlexNet's data augmentation on the device: random crops (and optional horizontal flips), per image.

Krizhevsky et al. (2012), section 4.1: train on random 224x224 patches of the 256x256 images and
their horizontal reflections ("increases the size of our training set by a factor of 2048").
Here the same idea for a batch already on the device: pad each image by ``padding`` pixels, then
cut an ``H x W`` window at an offset drawn per image (one advanced-indexing gather, no loop over
images), so the output keeps the input's size. Lecture: STA211 "AlexNet in ILSVRC'12" (data
augmentation); notebook 02. Flips suit natural images, not digits (a mirrored 2 is not a 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...ops.canvas import window_indices


def random_crop(
    x: Tensor, padding: int, *, flip: bool = False, generator: torch.Generator | None = None, fill: float = 0.0
) -> Tensor:
    """Shift each image by a random offset in ``[-padding, padding]`` (pad with ``fill``, then crop back).

    Args:
        x: images ``Tensor[B, C, H, W]``.
        padding: largest shift in pixels (>= 0); 0 returns ``x`` (flipped if asked).
        flip: also mirror each image left-right with probability 1/2.
        generator: a generator on ``x``'s device, for reproducible draws.
        fill: value of the pixels that come from outside the image (the background).

    Returns:
        ``Tensor[B, C, H, W]``: ``out[b] = pad(x[b])[:, top_b : top_b + H, left_b : left_b + W]``.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    b, _, h, w = x.shape
    dev = x.device
    out = x
    if padding:
        padded = F.pad(x, (padding, padding, padding, padding), value=fill)  # (B, C, H + 2p, W + 2p)
        top = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev)
        left = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev)
        win = window_indices(top, left, h, w)
        out = padded.permute(0, 2, 3, 1)[win].permute(0, 3, 1, 2).contiguous()  # (B, H, W, C) -> (B, C, H, W)
    if flip:
        mirror = torch.rand(b, generator=generator, device=dev) < 0.5
        out = torch.where(mirror.view(b, 1, 1, 1), out.flip(3), out)
    return out


class RandomCrop:
    """``random_crop`` as a batch transform for ``DeviceLoader(transform=...)``, with its own seeded generator.

    Args:
        padding: largest shift in pixels.
        flip: random horizontal reflections as well (AlexNet did; not for digits).
        fill: background value of the padded border (e.g. 0 for canvases in [0, 1]).
        seed: seed of the draws (``None``: torch's global generator).
    """

    def __init__(self, padding: int, flip: bool = False, fill: float = 0.0, seed: int | None = None) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding, self.flip, self.fill, self.seed = padding, flip, fill, seed
        self._generators: dict[torch.device, torch.Generator] = {}

    def __call__(self, x: Tensor) -> Tensor:
        g = None
        if self.seed is not None:
            if x.device not in self._generators:
                self._generators[x.device] = torch.Generator(device=x.device).manual_seed(self.seed)
            g = self._generators[x.device]
        return random_crop(x, self.padding, flip=self.flip, generator=g, fill=self.fill)

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding}, flip={self.flip}, fill={self.fill})"
