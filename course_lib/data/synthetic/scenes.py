"""Multi-digit scenes: several MNIST digits and distractor fragments on a larger canvas.

The course's toy version of a Pascal VOC image (RCP209, *Localization / Alignment*): each canvas holds 1 to
``max_digits`` real MNIST digits at random, non-overlapping places, plus fragments of other digits as clutter.
Every scene comes with the three levels of supervision the lectures use:

- image-level multi-labels (which digits are present): weakly supervised classification (notebook 05a);
- one box per digit (its ink's tight box): detection (notebook 06);
- per-pixel instance and class masks: segmentation (notebook 06).

Built by seeded, vectorized code on ``x``'s device: one vectorized pass per digit slot (a handful), no loop over
images or pixels. Digits are placed by vectorized rejection sampling (``tries`` candidate positions per slot,
the first one that does not overlap the digits already placed wins; a slot with no free position stays empty,
and labels, boxes and masks only ever describe what was actually drawn).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from ...ops.canvas import ink_boxes, window_indices
from ._canvas import check_canvas, check_digits, check_interval, cut, paste_max


@dataclass
class DigitScenes:
    """Scenes and their annotations (``K`` digit slots; empty slots have class -1 and a zero box).

    Attributes:
        images: ``Tensor[N, 1, S, S]`` in [0, 1].
        labels: ``Tensor[N, C]`` float multi-hot: digit ``c`` is present (the image-level labels).
        digits: ``Tensor[N, K]`` int64 class of each slot, -1 when the slot is empty.
        boxes: ``Tensor[N, K, 4]`` float (x1, y1, x2, y2) pixel edges of each digit's ink (x2, y2 exclusive).
        instances: ``Tensor[N, S, S]`` int64 index of the slot whose ink covers the pixel, -1 elsewhere
            (background and clutter).
        source: ``Tensor[N, K]`` int64 index of each digit in the MNIST tensor it came from, -1 when empty.
    """

    images: Tensor
    labels: Tensor
    digits: Tensor
    boxes: Tensor
    instances: Tensor
    source: Tensor

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_classes(self) -> int:
        return self.labels.shape[1]

    def instance_masks(self) -> Tensor:
        """``Tensor[N, K, S, S]`` bool: the pixels of each digit slot."""
        k = self.digits.shape[1]
        return self.instances.unsqueeze(1) == torch.arange(k, device=self.instances.device).view(1, k, 1, 1)

    def class_masks(self) -> Tensor:
        """``Tensor[N, C, S, S]`` bool: the pixels of the digits of each class (segmentation ground truth)."""
        cls = torch.where(
            self.instances >= 0,
            self.digits.gather(1, self.instances.clamp(min=0).flatten(1)).view_as(self.instances),
            -1,
        )
        c = self.n_classes
        return cls.unsqueeze(1) == torch.arange(c, device=cls.device).view(1, c, 1, 1)

    def __getitem__(self, idx: slice | Tensor) -> DigitScenes:
        """A subset of the scenes (every field indexed along its first axis)."""
        return DigitScenes(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def to(self, device: str | torch.device) -> DigitScenes:
        return DigitScenes(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def make_digit_scenes(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    canvas: int = 48,
    digit_size: int | tuple[int, int] = 20,
    min_digits: int = 1,
    max_digits: int = 3,
    min_fragments: int = 2,
    max_fragments: int = 4,
    fragment: int = 8,
    partner_prob: float = 0.0,
    partner_shift: int = 5,
    overlap: int = 2,
    tries: int = 64,
    ink_threshold: float = 0.3,
    n_classes: int = 10,
    seed: int = 0,
) -> DigitScenes:
    """Build ``n`` multi-digit scenes from MNIST digits ``x`` (``Tensor[M, 1, 28, 28]`` in [0, 1]).

    Args:
        x: source digits, **unnormalized** in [0, 1] (``load_mnist(normalize=False)``); scenes are built on its device.
        y: their labels ``Tensor[M]`` in ``[0, n_classes)`` (every class must occur).
        n: number of scenes.
        canvas: side of the square canvas.
        digit_size: side each digit is resized to (its 24x24 centre crop, antialiased; MNIST ink fits in 20x20), or
            ``(low, high)``: each digit's side drawn uniformly in ``[low, high]``, so that small and large digits
            share a canvas (detection at several scales, notebook 06a). ``(d, d)`` is the same as ``d``.
        min_digits, max_digits: digits per scene, uniform in this range (slots without a free place stay empty).
        min_fragments, max_fragments: distractor fragments per scene (``fragment`` x ``fragment`` crops of random
            digits, pasted under the digits; they are clutter, not labelled).
        fragment: side of each fragment.
        partner_prob: probability that a scene's second digit is the *partner* of its first one, class
            ``(c + partner_shift) % n_classes`` (scenes with 1 digit get a second one then). Used to build the
            "absence is informative" family with :func:`veto_labels`; 0 gives independent uniform classes.
        partner_shift: the partner of class ``c`` is ``(c + partner_shift) % n_classes``.
        overlap: how many pixels two digits' ``digit_size`` squares may overlap (their borders are mostly blank).
        tries: candidate positions per digit slot in the rejection sampling.
        ink_threshold: a pixel belongs to a digit's box and mask when the digit's value there exceeds this.
        n_classes: number of classes of ``y``.
        seed: the same seed gives the same scenes (on the same device).

    Returns:
        A :class:`DigitScenes`.
    """
    check_digits(x, y)
    check_canvas(n, canvas, fragment, min_canvas=8)
    check_interval("(min_digits, max_digits)", min_digits, max_digits, 1)
    check_interval("(min_fragments, max_fragments)", min_fragments, max_fragments, 0)
    lo, hi = (digit_size, digit_size) if isinstance(digit_size, int) else (int(digit_size[0]), int(digit_size[1]))
    check_interval("digit_size", lo, hi, 8)
    check_interval("(largest digit_size, canvas)", hi, canvas, 8)
    if tries < 1 or not 0.0 <= partner_prob <= 1.0:
        raise ValueError(f"need tries >= 1 and partner_prob in [0, 1], got {tries} and {partner_prob}")
    dev, k_slots, s, d = x.device, max_digits, canvas, hi  # d: the side of every digit's window (the largest size)
    g = torch.Generator(device="cpu").manual_seed(seed)

    def randint(low: int, high: int, *shape: int) -> Tensor:  # uniform in [low, high]
        return torch.randint(low, high + 1, shape, generator=g).to(dev)

    def rand(*shape: int) -> Tensor:
        return torch.rand(shape, generator=g).to(dev)

    # classes per slot, then a random digit of that class (y sorted once: class c occupies [start[c], start[c]+count[c]))
    count_digits = randint(min_digits, max_digits, n)
    classes = randint(0, n_classes - 1, n, k_slots)
    if k_slots >= 2 and partner_prob > 0:
        pair = rand(n) < partner_prob
        classes[:, 1] = torch.where(pair, (classes[:, 0] + partner_shift) % n_classes, classes[:, 1])
        count_digits = torch.where(pair, count_digits.clamp(min=2), count_digits)
    order = torch.argsort(y)
    per_class = torch.bincount(y, minlength=n_classes)
    if (per_class == 0).any():
        raise ValueError(f"every class must occur in y; counts per class: {per_class.tolist()}")
    start = torch.cumsum(per_class, 0) - per_class
    source = order[start[classes] + (rand(n, k_slots) * per_class[classes]).long().clamp(max=per_class[classes] - 1)]
    crops = x[source.flatten(), :, 2:26, 2:26]  # (n*K, 1, 24, 24): MNIST's ink fits in the central 20x20
    sizes = torch.full((n, k_slots), d, dtype=torch.long, device=dev) if lo == hi else randint(lo, hi, n, k_slots)
    patches = torch.zeros(n * k_slots, 1, d, d, device=dev, dtype=x.dtype)  # each digit top-left in a d x d window
    for size in sizes.unique().tolist():  # one resize per distinct size (a handful)
        pick = sizes.flatten() == size
        resized = crops[pick]
        if size != 24:
            resized = F.interpolate(resized, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        patches[pick, :, :size, :size] = resized
    patches = patches.clamp(0, 1).view(n, k_slots, d, d)
    pad = (
        d - lo
    )  # a window of side d at a place chosen for a smaller digit may pass the canvas edge: pad, crop at the end

    # clutter first: fragments of random digits, pasted by maximum
    images = torch.zeros(n, s + pad, s + pad, device=dev, dtype=x.dtype)
    count_frags = randint(min_fragments, max_fragments, n)
    for j in range(max_fragments):  # one vectorized pass per fragment slot
        src = randint(0, len(x) - 1, n)
        fy, fx = randint(0, 28 - fragment, n), randint(0, 28 - fragment, n)
        frag = cut(x, src, fy, fx, fragment) * (j < count_frags).view(n, 1, 1)  # (n, fragment, fragment)
        top, left = randint(0, s - fragment, n), randint(0, s - fragment, n)
        paste_max(images, frag, top, left)

    # digits: rejection sampling of non-overlapping places, one slot at a time
    pos = torch.zeros(n, k_slots, 2, dtype=torch.long, device=dev)  # (top, left)
    active = torch.zeros(n, k_slots, dtype=torch.bool, device=dev)
    digit_value = torch.zeros(n, s + pad, s + pad, device=dev, dtype=x.dtype)
    instances = torch.full((n, s + pad, s + pad), -1, dtype=torch.long, device=dev)
    boxes = torch.zeros(n, k_slots, 4, device=dev)
    for j in range(k_slots):
        if lo == hi:
            cand = randint(0, s - d, n, tries, 2)  # (n, T, 2)
        else:  # uniform in [0, s - size] for this slot's size
            cand = (rand(n, tries, 2) * (s - sizes[:, j] + 1).view(n, 1, 1)).long()
        # two squares (top-left p, side a) and (q, b) clash when they overlap by more than `overlap` on both axes
        p, q = cand.unsqueeze(2), pos[:, :j].unsqueeze(1)  # (n, T, 1, 2), (n, 1, j, 2)
        a, b = sizes[:, j].view(n, 1, 1, 1), sizes[:, :j].view(n, 1, j, 1)
        clash = (((p < q + b - overlap) & (q < p + a - overlap)).all(-1) & active[:, :j].unsqueeze(1)).any(-1)  # (n, T)
        free = ~clash
        first = free.float().argmax(1)  # first free candidate (0 if none)
        pos[:, j] = cand[torch.arange(n, device=dev), first]
        active[:, j] = free.any(1) & (j < count_digits)
        patch = patches[:, j] * active[:, j].view(n, 1, 1)
        win = window_indices(pos[:, j, 0], pos[:, j, 1], d, d)
        images[win] = torch.maximum(images[win], patch)
        owns = (patch > ink_threshold) & (patch > digit_value[win])
        instances[win] = torch.where(owns, j, instances[win])
        digit_value[win] = torch.maximum(digit_value[win], patch)
        ink_box = ink_boxes(patch > ink_threshold).float()
        offset = torch.stack([pos[:, j, 1], pos[:, j, 0], pos[:, j, 1], pos[:, j, 0]], 1).float()
        boxes[:, j] = torch.where(active[:, j].view(n, 1), ink_box + offset, 0.0)
    digits = torch.where(active, classes, -1)
    labels = torch.zeros(n, n_classes + 1, device=dev).scatter_(1, digits % (n_classes + 1), 1.0)[
        :, :n_classes
    ]  # -1 -> dropped column
    images, instances = images[:, :s, :s].contiguous(), instances[:, :s, :s].contiguous()  # the padding: no ink
    return DigitScenes(images.unsqueeze(1), labels, digits, boxes, instances, torch.where(active, source, -1))


def veto_labels(digits: Tensor, *, shift: int = 5, n_classes: int = 10) -> Tensor:
    """Labels of the "absence is informative" family: class ``c`` is on when digit ``c`` is present **and** its
    partner ``(c + shift) % n_classes`` is absent. ``Tensor[N, K]`` slot classes (-1 empty) -> ``Tensor[N, C]`` float.

    A region that shows the partner is negative evidence for ``c`` (the point of MANTRA, Durand et al. 2015, and of
    WILDCAT's min term): no single region proves the label, one region can refute it.
    """
    present = torch.zeros(len(digits), n_classes + 1, device=digits.device)
    present = present.scatter_(1, digits % (n_classes + 1), 1.0)[:, :n_classes].bool()
    partner = present.roll(-shift, dims=1)  # partner[:, c] = present[:, (c + shift) % C]
    return (present & ~partner).float()


__all__ = ["DigitScenes", "make_digit_scenes", "veto_labels"]
