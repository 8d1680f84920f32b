"""Looking inside a trained CNN: top-activating patches, activation maximization, single units vs random units.

Lecture: the CVPR-style *Deep learning* lecture, "visualizing and understanding": first-layer filters; the image
patches that most activate a unit of a deeper layer (Zeiler & Fergus 2014; Girshick et al. 2014), cropped to the
unit's receptive field; back-propagation to the pixels to maximize an activation (Erhan et al. 2009; Simonyan et
al. 2014), regularized so that the image stays natural; and Szegedy et al. (2014): "it is the space, rather than
the individual units, that contains the semantic information", probed here with linear classifiers on the k most
class-selective single units, on k random units and on all units (Alain & Bengio 2016, linear probes), with the
most selective unit of each class (what a local code would need), and with Szegedy et al.'s section 3 test: the
images that most activate a single unit vs those that most activate a random direction of the same space.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from sklearn.feature_selection import f_classif
from sklearn.linear_model import LogisticRegression
from torch import Tensor, nn

from ..ops.receptive_field import analytic_receptive_field


@dataclass(frozen=True)
class UnitGeometry:
    """Where a unit of a feature map looks: unit ``(i, j)`` sees input rows ``start + i * jump`` to
    ``start + i * jump + size - 1`` (likewise columns); ``start`` may be negative (padding)."""

    size: int
    jump: int
    start: int


def unit_geometry(layers: Sequence[tuple[int, int, int]]) -> UnitGeometry:
    """Receptive field of a stack of ``(kernel_size, stride, padding)`` layers, input to output.

    ``size`` is :func:`course_lib.ops.analytic_receptive_field`'s last value (no dilation); the jump is the product
    of the strides and ``start_l = start_{l-1} - padding_l * jump_{l-1}``.
    """
    if not layers:
        raise ValueError("need at least one layer")
    size = analytic_receptive_field([(k, s, 1) for k, s, _ in layers])[-1]
    jump, start = 1, 0
    for _, s, p in layers:
        start -= p * jump
        jump *= s
    return UnitGeometry(size, jump, start)


def top_patches(fmap: Tensor, images: Tensor, geometry: UnitGeometry, units: Sequence[int], k: int = 8) -> Tensor:
    """The ``k`` input patches that activate each unit (channel) most, at its best position.

    Args:
        fmap: activations ``Tensor[N, C, H, W]`` of the layer on ``images``.
        images: ``Tensor[N, c, S, S]``.
        geometry: the layer's :func:`unit_geometry`.
        units: channels to show.
        k: patches per unit.

    Returns:
        ``Tensor[len(units), k, c, size, size]``: receptive-field crops (zero outside the image), best first.
    """
    if fmap.dim() != 4 or images.dim() != 4 or len(fmap) != len(images):
        raise ValueError(
            f"expected fmap (N, C, H, W) and images (N, c, S, S), got {tuple(fmap.shape)}, {tuple(images.shape)}"
        )
    _, _, h, w = fmap.shape
    r, pad = geometry.size, geometry.size  # pad by a full field so that every crop is inside
    padded = F.pad(images, (pad, pad, pad, pad))
    out = []
    for u in units:
        best = fmap[:, u].flatten().topk(k).indices  # over (image, position)
        img, pos = best // (h * w), best % (h * w)
        rows = geometry.start + (pos // w) * geometry.jump + pad
        cols = geometry.start + (pos % w) * geometry.jump + pad
        crops = [padded[i, :, a : a + r, b : b + r] for i, a, b in zip(img.tolist(), rows.tolist(), cols.tolist())]
        out.append(torch.stack(crops))  # (k, c, r, r)
    return torch.stack(out)


def maximize_activation(
    score: Callable[[Tensor], Tensor],
    shape: tuple[int, ...],
    *,
    steps: int = 100,
    lr: float = 0.05,
    l2: float = 1e-2,
    jitter: int = 1,
    blur_every: int = 10,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Gradient ascent on the pixels: ``argmax_x score(x) - l2 * ||x - 0.5||^2``, ``x`` in [0, 1].

    Regularizers (Yosinski et al. 2015): a random shift of up to ``jitter`` pixels at each step, a 3x3 blur every
    ``blur_every`` steps, the L2 penalty, and the clamp to [0, 1]. Normalized-gradient steps of size ``lr``.

    Args:
        score: ``x Tensor[B, ...] -> Tensor[B]``, e.g. ``lambda x: model(x)[:, classes].diagonal()``.
        shape: ``(B, C, H, W)`` of the images to optimize (one per row of ``score``).

    Returns:
        ``Tensor[B, C, H, W]`` in [0, 1].
    """
    g = torch.Generator(device=device).manual_seed(seed)
    x = 0.5 + 0.01 * torch.randn(shape, generator=g, device=device)
    kernel = torch.ones(shape[1], 1, 3, 3, device=device) / 9
    for t in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=g, device=device).tolist() if jitter else (0, 0)
        xs = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
        with torch.enable_grad():
            objective = score(xs).sum() - l2 * ((xs - 0.5) ** 2).sum()
            (grad,) = torch.autograd.grad(objective, xs)
        grad = torch.roll(grad, (-dy, -dx), dims=(2, 3))
        x = (
            x + lr * grad / (grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-12) * np.sqrt(x[0].numel()) / 10
        ).clamp(0, 1)
        if blur_every and (t + 1) % blur_every == 0:
            x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=shape[1])
    return x.detach()


def rank_units(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Units (columns of ``features``, ``(N, D)``) from the most to the least class-selective, by the ANOVA F
    statistic of each unit alone (scikit-learn's ``f_classif``); constant units come last."""
    varying = features.std(0) > 0  # f_classif divides by the within-class variance: skip constant units
    f = np.full(features.shape[1], -1.0)
    if varying.any():
        f[varying] = np.nan_to_num(f_classif(features[:, varying], labels)[0], nan=-1.0)
    return np.argsort(-f, kind="stable")


def probe_accuracy(
    f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray, units: Sequence[int] | None = None
) -> float:
    """Test accuracy of a linear probe (standardized features, scikit-learn ``LogisticRegression``) on the
    columns ``units`` (all when None)."""
    cols = slice(None) if units is None else np.asarray(units)
    a, b = f_train[:, cols], f_test[:, cols]
    mu, sd = a.mean(0), a.std(0) + 1e-6
    clf = LogisticRegression(max_iter=500).fit((a - mu) / sd, y_train)
    return float(clf.score((b - mu) / sd, y_test))


def single_vs_random_units(
    f_train: np.ndarray,
    y_train: np.ndarray,
    f_test: np.ndarray,
    y_test: np.ndarray,
    ks: Sequence[int],
    *,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Probe accuracy from the ``k`` best single units (:func:`rank_units` on the training features) and from ``k``
    random units (mean over ``repeats`` draws), for each ``k``; and from all units (``"all"``, one value)."""
    order = rank_units(f_train, y_train)
    rng = np.random.default_rng(seed)
    d = f_train.shape[1]
    best = [probe_accuracy(f_train, y_train, f_test, y_test, order[:k]) for k in ks]
    rand = [
        float(
            np.mean(
                [
                    probe_accuracy(f_train, y_train, f_test, y_test, rng.choice(d, k, replace=False))
                    for _ in range(repeats)
                ]
            )
        )
        for k in ks
    ]
    return {"best": best, "random": rand, "all": [probe_accuracy(f_train, y_train, f_test, y_test)]}


def class_selective_units(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """The most selective unit of each class: ``features`` ``(N, D)``, ``labels`` ``(N,)`` -> ``(num_classes,)``.

    A unit's selectivity for class ``c`` is the area under its ROC curve for "``c`` vs the rest" (the probability that
    an image of ``c`` activates it more than one of another class; ties count one half), computed for every unit at
    once from the ranks (Mann-Whitney). A *local* code, one unit per class, would make these units enough to classify.
    """
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(f"expected features (N, D) and labels (N,), got {features.shape} and {labels.shape}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    ranks = rankdata(features, axis=0)  # (N, D), average ranks for ties
    units = np.empty(num_classes, dtype=np.int64)
    for c in range(num_classes):
        pos = labels == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            raise ValueError(f"class {c} needs positive and negative examples, got {n_pos} and {n_neg}")
        auc = (ranks[pos].sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)  # (D,)
        units[c] = int(auc.argmax())
    return units


def top_image_purity(features: np.ndarray, labels: np.ndarray, directions: np.ndarray, k: int = 10) -> np.ndarray:
    """For each direction, the share of its ``k`` top-scoring images that carry their most common label.

    ``features`` ``(N, D)``, ``labels`` ``(N,)``, ``directions`` ``(M, D)`` -> ``(M,)`` in ``[1/k, 1]``. Rows of the
    identity are single units; random unit vectors are random directions. Szegedy et al. (2014, section 3) found the
    top images of random directions as semantically coherent as those of single units.
    """
    features, directions, labels = np.asarray(features), np.asarray(directions), np.asarray(labels)
    if features.ndim != 2 or directions.ndim != 2 or directions.shape[1] != features.shape[1]:
        raise ValueError(f"expected features (N, D) and directions (M, D), got {features.shape} and {directions.shape}")
    if labels.shape != (len(features),) or not 1 <= k <= len(features):
        raise ValueError(f"expected labels ({len(features)},) and 1 <= k <= {len(features)}, got {labels.shape}, {k}")
    top = np.argsort(-(features @ directions.T), axis=0, kind="stable")[:k]  # (k, M) image indices
    top_labels = labels[top]  # (k, M)
    counts = (top_labels[None] == np.unique(labels)[:, None, None]).sum(1)  # (classes, M)
    return counts.max(0) / k


def first_layer(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` of ``model`` (its filters are the ones that can be shown as images)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("the model has no Conv2d")
