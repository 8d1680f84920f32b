"""Training curves, confusion matrices and bar charts of results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from ..engine.loop import History
from .images import _finish


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
    return _finish(fig, title)


def plot_confusion(
    y_true: Tensor | np.ndarray,
    y_pred: Tensor | np.ndarray,
    *,
    classes: Sequence | None = None,
    normalize: bool = False,
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
