"""Image grids and filter banks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor


def _to_numpy_images(images: Tensor | np.ndarray) -> np.ndarray:
    x = images.detach().float().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images, dtype=float)
    if x.ndim == 4:  # (N, C, H, W)
        x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] == 1:
            x = x[..., 0]
    elif x.ndim != 3:
        raise ValueError(f"expected images (N, C, H, W) or (N, H, W), got shape {x.shape}")
    return x


def _grid(n: int, ncols: int, size: float, aspect: float = 1.0) -> tuple[Figure, list]:
    """A figure of ``n`` axes on a grid of ``ncols`` columns, every axis off: the figure and its first ``n`` axes."""
    if n == 0:
        raise ValueError("nothing to show")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * aspect), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _finish(fig: Figure, title: str | None = None) -> Figure:
    """Give ``fig`` its title (if any) and a tight layout; returns it."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(
    images: Tensor | np.ndarray,
    labels: Sequence | Tensor | None = None,
    preds: Sequence | Tensor | None = None,
    *,
    ncols: int = 10,
    size: float = 1.2,
    cmap: str = "gray",
    title: str | None = None,
) -> Figure:
    """A grid of images with optional true labels and predictions (wrong predictions in red).

    Args:
        images: ``Tensor[N, C, H, W]`` (C = 1 or 3) or ``Tensor[N, H, W]``; each image is
            min-max scaled for display.
        labels: true labels, shown under each image.
        preds: predicted labels; shown as ``pred (true)`` and coloured red when wrong.
    """
    x = _to_numpy_images(images)
    fig, axes = _grid(len(x), ncols, size, aspect=1.15)
    lab = [int(v) for v in labels] if labels is not None else None
    prd = [int(v) for v in preds] if preds is not None else None
    for i, ax in enumerate(axes):
        img = x[i]
        lo, hi = float(img.min()), float(img.max())
        ax.imshow((img - lo) / (hi - lo + 1e-12), cmap=cmap, vmin=0, vmax=1)
        if prd is not None:
            ok = lab is None or prd[i] == lab[i]
            text = f"{prd[i]}" if lab is None else f"{prd[i]} ({lab[i]})"
            ax.set_title(text, fontsize=9, color="black" if ok else "crimson")
        elif lab is not None:
            ax.set_title(str(lab[i]), fontsize=9)
    return _finish(fig, title)


def show_filters(weight: Tensor, *, ncols: int = 8, size: float = 1.0, title: str | None = None) -> Figure:
    """First-layer filters ``Tensor[out, in, k, k]`` (in = 1 or 3) as images, one per output map.

    Grey-level filters use a diverging colour map centred on 0 (red: positive, blue: negative).
    """
    w = weight.detach().float().cpu()
    if w.dim() != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"expected weights (out, 1 or 3, k, k), got shape {tuple(w.shape)}")
    fig, axes = _grid(w.shape[0], ncols, size)
    for i, ax in enumerate(axes):
        if w.shape[1] == 1:
            m = float(w[i].abs().max()) + 1e-12
            ax.imshow(w[i, 0].numpy(), cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            f = w[i].permute(1, 2, 0)
            ax.imshow(((f - f.min()) / (f.max() - f.min() + 1e-12)).numpy())
    return _finish(fig, title)
