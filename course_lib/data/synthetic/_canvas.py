"""Pieces shared by the canvas generators (cluttered, scenes, transformed): input checks, cut and paste by window."""

from __future__ import annotations

import torch
from torch import Tensor

from ...ops.canvas import window_indices


def check_digits(x: Tensor, y: Tensor) -> None:
    """``ValueError`` unless ``x`` is MNIST digits ``Tensor[M, 1, 28, 28]`` in [0, 1] and ``y`` holds ``M`` labels."""
    if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected MNIST digits (M, 1, 28, 28), got shape {tuple(x.shape)}")
    if len(y) != len(x):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError("need at least one source digit, got none")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError("x must hold pixels in [0, 1] (load_mnist(normalize=False))")


def check_canvas(n: int, canvas: int, fragment: int, *, min_canvas: int = 28) -> None:
    """``ValueError`` unless ``n >= 1``, ``canvas >= min_canvas`` and ``1 <= fragment <= min(28, canvas)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if canvas < min_canvas:
        raise ValueError(f"canvas must be >= {min_canvas} pixels, got {canvas}")
    if not 1 <= fragment <= min(28, canvas):
        raise ValueError(f"fragment must be in [1, {min(28, canvas)}], got {fragment}")


def check_interval(name: str, low: float, high: float, minimum: float, *, strict: bool = False) -> None:
    """``ValueError`` unless ``minimum <= low <= high`` (``minimum < low`` with ``strict``)."""
    if not ((minimum < low) if strict else (minimum <= low)) or not low <= high:
        raise ValueError(f"need {minimum} {'<' if strict else '<='} low <= high for {name}, got ({low}, {high})")


def cut(images: Tensor, which: Tensor, top: Tensor, left: Tensor, size: int) -> Tensor:
    """``images[which[i], 0, top[i] : top[i] + size, left[i] : left[i] + size]`` for every ``i``: ``Tensor[K, size, size]``."""
    i, rows, cols = window_indices(top, left, size, size)
    return images[which[i], 0, rows, cols]


def paste_max(canvas: Tensor, patches: Tensor, top: Tensor, left: Tensor) -> None:
    """In place, for every ``i`` at once: ``canvas[i, top[i]:top[i]+h, left[i]:left[i]+w]`` becomes its maximum with
    ``patches[i]`` (``canvas`` ``Tensor[N, H, W]``, ``patches`` ``Tensor[N, h, w]``)."""
    win = window_indices(top, left, patches.shape[1], patches.shape[2])
    canvas[win] = torch.maximum(canvas[win], patches)
