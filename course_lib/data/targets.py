"""Source and target tasks for transfer experiments (notebook 04), at increasing distance from the source.

Lecture: STA211 (Thome), "Transferring representations learned from ImageNet" and "Deep features and
domain adaptation" (Razavian et al. 2014; Azizpour et al. 2015): how well a representation transfers
depends on the target's size and on its distance from the source task. The course's source is MNIST
digits 0-4; its targets, all real data available offline:

- ``mnist_heldout`` (**near**): MNIST digits 5-9. Same writers, scanner and preprocessing as the
  source; new classes.
- ``sklearn_digits`` (**same task, other domain**): scikit-learn's 1,797 handwritten digits 0-9 (UCI
  optdigits: other writers, 32x32 bitmaps counted into 8x8 blocks of 16 grey levels). Each 8x8 image is
  upsampled (bilinear) to 20x20 and zero-padded to 28x28, the layout of an MNIST digit.
- ``easy_vqa_shapes`` (**far**): the images of the easy-VQA dataset (Victor Zhou, shipped in the
  ``easy_vqa`` package): one circle, rectangle or triangle of one of 8 colours on a light 64x64
  background. The shape label of an image is derived from its questions and answers ("what shape
  ...? -> circle", "is there a triangle? -> no"...); images whose questions do not determine the shape
  are left out. Converted to MNIST's look: each pixel's colour distance to the background colour
  (white shape on black), resized to 28x28 (``grayscale=False`` keeps the 64x64 colour images instead).

Every image tensor is float32 in [0, 1]; labels are ``0..K-1``. A task holds a *pool* of training
images and a fixed test set; :meth:`TargetTask.subset` draws a seeded class-balanced training subset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .loader import subset_per_class
from .real.digits import load_digits
from .real.easy_vqa import read_images, read_split
from .real.mnist import load_mnist

SHAPES = ("circle", "rectangle", "triangle")


@dataclass
class TargetTask:
    """A classification task: a pool of training images, a fixed test set, class names and a description.

    Attributes:
        name: short name (``"mnist 5-9"``).
        distance: ``"source"``, ``"near"``, ``"same task, other domain"`` or ``"far"``.
        classes: class names, index = label.
        x_pool: ``Tensor[N, C, H, W]`` in [0, 1], the images training subsets are drawn from.
        y_pool: ``Tensor[N]`` labels in ``0..K-1``.
        x_test: ``Tensor[M, C, H, W]`` in [0, 1].
        y_test: ``Tensor[M]``.
        description: where the images come from and how they were converted.
    """

    name: str
    distance: str
    classes: tuple[str, ...]
    x_pool: Tensor
    y_pool: Tensor
    x_test: Tensor
    y_test: Tensor
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def max_per_class(self) -> int:
        """The largest ``n_per_class`` :meth:`subset` can draw (the rarest class's pool size)."""
        return int(torch.bincount(self.y_pool.cpu(), minlength=self.num_classes).min())

    def subset(self, n_per_class: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """A seeded, class-balanced training set: ``n_per_class`` images of each class from the pool.

        Returns ``x`` ``Tensor[n_per_class * K, C, H, W]`` and ``y`` ``Tensor[n_per_class * K]``.
        The same seed gives the same images; a larger ``n_per_class`` does not contain a smaller one.
        """
        if n_per_class > self.max_per_class():
            raise ValueError(
                f"{self.name}: n_per_class={n_per_class} > {self.max_per_class()} images of the rarest class"
            )
        idx = subset_per_class(self.y_pool, n_per_class, seed=seed, classes=list(range(self.num_classes)))
        return self.x_pool[idx], self.y_pool[idx]

    def __repr__(self) -> str:
        return (
            f"TargetTask({self.name!r}, {self.distance}, {self.num_classes} classes, pool {tuple(self.x_pool.shape)}, "
            f"test {tuple(self.x_test.shape)})"
        )


def _take_classes(x: Tensor, y: Tensor, classes: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Keep the images of ``classes`` and relabel them ``0..K-1`` in that order (vectorized)."""
    lut = torch.full((int(y.max()) + 1,), -1, dtype=torch.int64, device=y.device)
    lut[torch.as_tensor(list(classes), device=y.device)] = torch.arange(len(classes), device=y.device)
    new = lut[y]
    keep = new >= 0
    return x[keep], new[keep]


def _cap_per_class(y: Tensor, n: int | None, seed: int) -> Tensor | None:
    """Indices of at most ``n`` images per class (seeded), or None for all."""
    if n is None:
        return None
    counts = torch.bincount(y.cpu())
    return subset_per_class(y, min(n, int(counts[counts > 0].min())), seed=seed)


def mnist_classes(
    classes: Sequence[int],
    *,
    n_test_per_class: int | None = None,
    seed: int = 0,
    distance: str = "near",
    device: str | torch.device = "cpu",
) -> TargetTask:
    """MNIST restricted to ``classes`` (relabelled ``0..K-1``): pool = training split, test = test split.

    Args:
        classes: digits to keep, e.g. ``(0, 1, 2, 3, 4)`` for the source or ``(5, 6, 7, 8, 9)`` for the near target.
        n_test_per_class: keep a seeded, class-balanced test subset of this size per class (default: all).
        seed: seed of that test subset.
        distance: label stored in the task.
    """
    if len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be distinct digits 0-9, got {classes}")
    x, y = _take_classes(*load_mnist(train=True, normalize=False, device=device), classes)
    xt, yt = _take_classes(*load_mnist(train=False, normalize=False, device=device), classes)
    keep = _cap_per_class(yt, n_test_per_class, seed)
    if keep is not None:
        xt, yt = xt[keep], yt[keep]
    names = tuple(str(c) for c in classes)
    desc = f"MNIST digits {', '.join(names)} (LeCun, Cortes & Burges): training split as pool, test split as test set"
    return TargetTask(f"mnist {names[0]}-{names[-1]}", distance, names, x, y, xt, yt, desc)


def mnist_heldout(classes: Sequence[int] = (5, 6, 7, 8, 9), **kwargs) -> TargetTask:
    """The **near** target: MNIST digits the source never saw (default 5-9). See :func:`mnist_classes`."""
    return mnist_classes(classes, distance="near", **kwargs)


def sklearn_digits(
    *, n_pool_per_class: int = 100, size: int = 28, seed: int = 0, device: str | torch.device = "cpu"
) -> TargetTask:
    """scikit-learn's digits as a **same task, other domain** target, in MNIST's layout.

    The 8x8 images (16 grey levels) are upsampled (bilinear) to ``20 * size // 28`` pixels and zero-padded to
    ``size`` x ``size``, as MNIST centres a 20x20 digit in 28x28. A seeded split puts ``n_pool_per_class``
    images of each digit in the pool and the rest (about 80 per digit) in the test set.
    """
    x8, y = load_digits()
    inner = 20 * size // 28
    pad = size - inner
    x = F.interpolate(x8, size=(inner, inner), mode="bilinear", align_corners=False).clamp_(0, 1)
    x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))  # (1797, 1, size, size)
    counts = torch.bincount(y)
    if n_pool_per_class >= int(counts.min()):
        raise ValueError(
            f"n_pool_per_class={n_pool_per_class} leaves no test image for the rarest digit ({int(counts.min())})"
        )
    pool = subset_per_class(y, n_pool_per_class, seed=seed)
    is_test = torch.ones(len(y), dtype=torch.bool)
    is_test[pool] = False
    desc = (
        "scikit-learn digits (UCI optdigits: other writers than MNIST, 8x8 blocks of 16 grey levels), "
        f"upsampled to {inner}x{inner} and padded to {size}x{size}; {n_pool_per_class} per digit in the pool, the rest for test"
    )
    names = tuple(str(c) for c in range(10))
    return TargetTask(
        "sklearn digits",
        "same task, other domain",
        names,
        x[pool].to(device),
        y[pool].to(device),
        x[is_test].to(device),
        y[is_test].to(device),
        desc,
    )


_NEGATED = re.compile(r"\bnot\b|^is no\b")


def shape_labels(questions: Sequence[str], answers: Sequence[str], image_ids: Sequence[int]) -> dict[int, int]:
    """The shape of each easy-VQA image (index into :data:`SHAPES`), derived from its questions and answers.

    An answer naming a shape gives it ("what shape is in the image?" -> "circle"); a yes/no answer about a
    shape says it is present or absent ("is there not a triangle?" -> "yes" means absent). An image is labelled
    when one shape is present, or when the other two are absent; ambiguous or contradictory images are left out.
    """
    present: dict[int, set[str]] = {}
    absent: dict[int, set[str]] = {}
    for q, a, i in zip(questions, answers, image_ids):
        if a in SHAPES:
            present.setdefault(i, set()).add(a)
        elif a in ("yes", "no"):
            for s in SHAPES:
                if s in q:
                    negated = bool(_NEGATED.search(q))
                    (present if (a == "yes") != negated else absent).setdefault(i, set()).add(s)
    labels = {}
    for i in set(present) | set(absent):
        p, n = present.get(i, set()), absent.get(i, set())
        if p & n or len(p) > 1:
            continue
        if len(p) == 1:
            labels[i] = SHAPES.index(next(iter(p)))
        elif len(n) == len(SHAPES) - 1:
            labels[i] = SHAPES.index(next(iter(set(SHAPES) - n)))
    return labels


def _load_easy_vqa(train: bool, n_per_class: int | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(uint8 images ``Tensor[N, 3, 64, 64]``, labels ``Tensor[N]``) of one easy-VQA split, by image id.

    ``n_per_class`` keeps a seeded, class-balanced subset, chosen before any PNG is decoded. Images whose questions
    do not determine the shape are left out. Raises :class:`~course_lib.data.MissingDataError` (through
    :func:`~course_lib.data.real.easy_vqa.read_split`) when the package or its files are missing.
    """
    split = read_split(train)
    labels = shape_labels(split.texts, split.answers, split.image_ids)
    ids = sorted(i for i in labels if i in split.paths)
    y = torch.tensor([labels[i] for i in ids], dtype=torch.int64)
    keep = _cap_per_class(y, n_per_class, seed)
    if keep is not None:
        ids, y = [ids[k] for k in keep.tolist()], y[keep]
    return read_images(split.paths, ids), y


def shapes_to_mnist_look(rgb: Tensor, size: int = 28) -> Tensor:
    """Colour shapes on a light background -> white shape on black, ``size`` x ``size``.

    Args:
        rgb: ``Tensor[N, 3, H, W]`` in [0, 1].

    Returns:
        ``Tensor[N, 1, size, size]`` in [0, 1]: each pixel's Euclidean colour distance to the image's
        background colour (the median of its border pixels), scaled so the most distant pixel is 1, then
        resized with antialiasing.
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected colour images (N, 3, H, W), got shape {tuple(rgb.shape)}")
    border = torch.cat([rgb[..., 0, :], rgb[..., -1, :], rgb[..., :, 0], rgb[..., :, -1]], dim=-1)  # (N, 3, 4W)
    background = border.median(dim=-1).values[..., None, None]  # (N, 3, 1, 1)
    dist = (rgb - background).norm(dim=1, keepdim=True)  # (N, 1, H, W)
    dist = dist / dist.flatten(1).max(1).values.clamp_min(1e-6).view(-1, 1, 1, 1)
    return F.interpolate(dist, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)


def easy_vqa_shapes(
    *,
    size: int = 28,
    grayscale: bool = True,
    n_pool_per_class: int | None = None,
    n_test_per_class: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> TargetTask:
    """The **far** target: is the easy-VQA image a circle, a rectangle or a triangle? (3 classes)

    Pool: easy-VQA's training images (about 1,200 per shape); test: its test images (about 300 per shape),
    optionally capped at ``n_pool_per_class`` / ``n_test_per_class`` (seeded; fewer PNGs to decode).
    ``grayscale=True`` converts them with :func:`shapes_to_mnist_look`; ``False`` keeps the 64x64 colour images in [0, 1].
    """
    out = []
    for train, cap in ((True, n_pool_per_class), (False, n_test_per_class)):
        images, labels = _load_easy_vqa(train, cap, seed)
        x = images.float().div_(255)  # (N, 3, 64, 64)
        if grayscale:
            x = shapes_to_mnist_look(x, size)
        out.append((x, labels))
    (x, y), (xt, yt) = out
    look = f"colour distance to the background, {size}x{size} grey" if grayscale else "64x64 colour"
    desc = (
        "easy-VQA images (V. Zhou; one circle, rectangle or triangle of 8 colours on a light background), "
        f"shape labels derived from the questions and answers; {look}"
    )
    return TargetTask("easy-vqa shapes", "far", SHAPES, x.to(device), y.to(device), xt.to(device), yt.to(device), desc)
