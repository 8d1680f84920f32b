"""Plots the notebooks share: image grids, training curves, confusion matrices, filters.

Each function draws on a new (or given) matplotlib Axes/Figure and returns it, so a notebook
can restyle or save it for slides (``fig.savefig("lenet_curves.pdf")``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .train import History


def _to_numpy_images(images: Tensor | np.ndarray) -> np.ndarray:
    x = images.detach().float().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images, dtype=float)
    if x.ndim == 4:  # (N, C, H, W)
        x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] == 1:
            x = x[..., 0]
    elif x.ndim != 3:
        raise ValueError(f"expected images (N, C, H, W) or (N, H, W), got shape {x.shape}")
    return x


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
    n = len(x)
    if n == 0:
        raise ValueError("no images to show")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    lab = [int(v) for v in labels] if labels is not None else None
    prd = [int(v) for v in preds] if preds is not None else None
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = x[i]
        lo, hi = float(img.min()), float(img.max())
        ax.imshow((img - lo) / (hi - lo + 1e-12), cmap=cmap, vmin=0, vmax=1)
        if prd is not None:
            ok = lab is None or prd[i] == lab[i]
            text = f"{prd[i]}" if lab is None else f"{prd[i]} ({lab[i]})"
            ax.set_title(text, fontsize=9, color="black" if ok else "crimson")
        elif lab is not None:
            ax.set_title(str(lab[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(histories: History | Mapping[str, History], *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch (train dashed, validation solid) for one or several runs."""
    if isinstance(histories, History):
        histories = {"model": histories}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        ax_loss.plot(h.epoch, h.train_loss, "--", color=color, label=f"{name} train")
        ax_acc.plot(h.epoch, h.train_acc, "--", color=color, label=f"{name} train")
        if not all(np.isnan(h.val_loss)):
            ax_loss.plot(h.epoch, h.val_loss, "-o", color=color, ms=3, label=f"{name} val")
            ax_acc.plot(h.epoch, h.val_acc, "-o", color=color, ms=3, label=f"{name} val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(
    y_true: Tensor | np.ndarray, y_pred: Tensor | np.ndarray, *, classes: Sequence | None = None, normalize: bool = False
) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    from sklearn.metrics import confusion_matrix

    yt = y_true.cpu().numpy() if isinstance(y_true, Tensor) else np.asarray(y_true)
    yp = y_pred.cpu().numpy() if isinstance(y_pred, Tensor) else np.asarray(y_pred)
    labels = np.arange(len(classes)) if classes is not None else np.union1d(yt, yp)
    cm = confusion_matrix(yt, yp, labels=labels).astype(float)
    if normalize:
        cm = cm / cm.sum(1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(0.5 * len(labels) + 2, 0.5 * len(labels) + 1.5))
    im = ax.imshow(cm, cmap="Blues")
    names = list(classes) if classes is not None else [str(v) for v in labels]
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=names, yticklabels=names)
    ax.set(xlabel="predicted", ylabel="true")
    thresh = cm.max() / 2
    for i in range(len(labels)):
        for j in range(len(labels)):
            txt = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="white" if cm[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def show_filters(weight: Tensor, *, ncols: int = 8, size: float = 1.0, title: str | None = None) -> Figure:
    """First-layer filters ``Tensor[out, in, k, k]`` (in = 1 or 3) as images, one per output map.

    Grey-level filters use a diverging colour map centred on 0 (red: positive, blue: negative).
    """
    w = weight.detach().float().cpu()
    if w.dim() != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"expected weights (out, 1 or 3, k, k), got shape {tuple(w.shape)}")
    n = w.shape[0]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        if w.shape[1] == 1:
            m = float(w[i].abs().max()) + 1e-12
            ax.imshow(w[i, 0].numpy(), cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            f = w[i].permute(1, 2, 0)
            ax.imshow(((f - f.min()) / (f.max() - f.min() + 1e-12)).numpy())
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def bar_table(values: Mapping[str, float], *, ylabel: str = "", title: str | None = None, fmt: str = "{:.2f}", ax=None):
    """A labelled bar chart of named values (the value written on each bar)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(values) + 2, 3.2))
    names, vals = list(values), [float(v) for v in values.values()]
    bars = ax.bar(names, vals, color=[f"C{i}" for i in range(len(vals))])
    for b, v in zip(bars, vals):
        ax.annotate(fmt.format(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return ax


__all__ = ["bar_table", "plot_confusion", "plot_history", "show_filters", "show_images"]
