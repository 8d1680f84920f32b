"""From sliding windows to proposals, and the attentional cascade of Viola & Jones (2001).

See the docstring of :mod:`course_lib.ops.windows` for the lecture. The cascade, as in the paper (section 4) and
the lecture's slide: each stage is a boosted classifier ``h(x) = sign(sum_j alpha_j h_j(x))`` of decision stumps
on Haar-like box features (:func:`adaboost`, discrete AdaBoost / SAMME with two classes, as scikit-learn's
``AdaBoostClassifier``), whose threshold is lowered until it keeps nearly all the objects; the next stage is
trained on the background windows that the cascade so far lets through (bootstrapped negatives), so each stage
learns what the previous ones missed (:func:`fit_boosted_cascade`). :func:`fit_cascade` is the unboosted
baseline: one threshold on one feature per stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from ..ops.windows import _check_images, box_features, box_sums, integral_image, square_boxes, window_boxes


def fit_cascade(features: Tensor, keep: float = 0.99) -> Tensor:
    """Viola–Jones stage thresholds: for each feature, the ``1 - keep`` quantile over *object* windows,
    chained so that each stage keeps a ``keep`` share of the object windows that reached it.

    Args:
        features: ``Tensor[N, F]`` box features of object windows (e.g. windows centred on the objects).
        keep: detection rate per stage (the cascade keeps about ``keep ** F`` of the objects).

    Returns:
        thresholds ``Tensor[F]``; stage ``f`` rejects windows with ``features[..., f] < thresholds[f]``.
    """
    if features.dim() != 2 or len(features) == 0:
        raise ValueError(f"expected object-window features (N, F) with N > 0, got shape {tuple(features.shape)}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    thresholds = []
    alive = torch.ones(len(features), dtype=torch.bool, device=features.device)
    for f in range(features.shape[1]):
        v = features[alive, f]
        t = torch.quantile(v if v.is_floating_point() else v.float(), 1.0 - keep)  # in the features' precision
        thresholds.append(t)
        alive &= features[:, f] >= t
    return torch.stack(thresholds)


def cascade_keep(features: Tensor, thresholds: Tensor) -> Tensor:
    """Windows alive after each stage: ``Tensor[..., F]`` features -> ``Tensor[F, ...]`` boolean masks (cumulative)."""
    if features.shape[-1] != len(thresholds):
        raise ValueError(f"{features.shape[-1]} features but {len(thresholds)} thresholds")
    passed = features >= thresholds  # (..., F)
    return passed.cumprod(-1).bool().movedim(-1, 0)


def propose(
    x: Tensor, sizes: tuple[int, ...] = (28,), stride: int = 2, k: int = 5, iou_threshold: float = 0.5, ring: int = 4,
    recentre: int = 2,
) -> tuple[Tensor, Tensor]:
    """A simple class-agnostic proposal method: windows of a few ``sizes`` ranked by isolation
    (box ink minus ring ink, from the integral image), then non-maximum suppression, top ``k`` per image;
    finally each window is moved ``recentre`` times onto the centre of mass of the ink inside it (moments
    from integral images of ``x``, ``x * col`` and ``x * row``: one mean-shift step each), so it is centred
    on the blob it found.

    Args:
        x: 1-channel images ``Tensor[B, 1, H, W]``, ink > 0 on a zero background.

    Returns:
        ``boxes Tensor[B, k, 4]`` (float, pixel edges) and their ``scores Tensor[B, k]``, best first (an image
        with fewer than ``k`` boxes left after NMS repeats its best one).
    """
    _check_images(x)
    b, _, h, w = x.shape
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cand = torch.cat([window_boxes(h, w, s, stride, device=x.device) for s in sizes])  # (K, 4)
    if len(cand) < k:
        raise ValueError(f"only {len(cand)} candidate windows for k={k}")
    ii = integral_image(x)
    side = (cand[:, 2] - cand[:, 0]).float()
    score = box_features(ii, cand, ring=ring)[..., 2].float() * side**2  # (B, K): ink in the box minus ink on its ring
    img = torch.arange(b, device=x.device).repeat_interleave(len(cand))
    flat_boxes = cand.float().repeat(b, 1)
    keep = batched_nms(flat_boxes, score.flatten(), img, iou_threshold)  # sorted by decreasing score
    # the first k survivors of each image (vectorized: a stable sort by image keeps the score order)
    keep = keep[torch.sort(img[keep], stable=True).indices]
    kimg = img[keep]
    first = torch.searchsorted(kimg, torch.arange(b, device=x.device))
    rank = torch.arange(len(keep), device=x.device) - first[kimg]
    top = rank < k
    # an image with fewer than k survivors repeats its best box (every image keeps at least one)
    out_idx = keep[first].unsqueeze(1).repeat(1, k)  # (B, k)
    out_idx[kimg[top], rank[top]] = keep[top]
    boxes = flat_boxes[out_idx]  # (B, k, 4)
    # one mean-shift step per iteration: move each window onto the centre of mass of the ink inside it
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    moments = integral_image(torch.cat([x, x * (xs + 0.5), x * (ys + 0.5)], 1))  # (B, 3, H+1, W+1), float64
    half = (boxes[..., 2:] - boxes[..., :2]) / 2  # (B, k, 2)
    for _ in range(recentre):
        m = box_sums(moments, boxes.round().long()).float()  # (B, 3, k): ink, x-moment, y-moment
        centre = (m[:, 1:] / m[:, :1].clamp(min=1e-6)).transpose(1, 2)  # (B, k, 2)
        centre = torch.where(m[:, :1].transpose(1, 2) > 0, centre, (boxes[..., :2] + boxes[..., 2:]) / 2)
        boxes = torch.cat([centre - half, centre + half], -1)
    return boxes, score.flatten()[out_idx]


def training_windows(
    gt: Tensor, height: int, width: int, window: int = 28, stride: int = 2, n_neg: int = 1, jitter: int = 2,
    iou_threshold: float = 0.5, generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """R-CNN-style training windows for a region classifier with a background class (Girshick et al. 2014).

    One positive per image: the ``window x window`` square centred on the object's box, shifted by up to
    ``jitter`` pixels; ``n_neg`` negatives per image drawn among the sliding windows whose IoU with that
    square is below ``iou_threshold`` (they may hold clutter or part of the object: "background").

    Args:
        gt: one box per image ``Tensor[N, 4]``.
        generator: a CPU generator for reproducible draws.

    Returns:
        ``boxes Tensor[N, 1 + n_neg, 4]`` (float) and ``is_object Tensor[N, 1 + n_neg]`` (True for the positive).
    """
    from torchvision.ops import box_iou

    if gt.dim() != 2 or gt.shape[1] != 4:
        raise ValueError(f"expected one box per image (N, 4), got shape {tuple(gt.shape)}")
    n, dev = len(gt), gt.device
    centred = square_boxes(gt, min_side=window)  # (N, 4)
    shift = torch.randint(-jitter, jitter + 1, (n, 1, 2), generator=generator).to(dev).float().repeat(1, 1, 2)
    pos = centred.unsqueeze(1) + shift  # (N, 1, 4)
    grid = window_boxes(height, width, window, stride, device=dev).float()  # (K, 4)
    far = box_iou(centred, grid) < iou_threshold  # (N, K)
    if not bool(far.any(1).all()):
        raise ValueError("some image has no background window; use a larger canvas or a smaller stride")
    pick = torch.multinomial(far.float().cpu(), n_neg, replacement=True, generator=generator).to(dev)  # (N, n_neg)
    boxes = torch.cat([pos, grid[pick]], 1)
    is_object = torch.zeros(n, 1 + n_neg, dtype=torch.bool, device=dev)
    is_object[:, 0] = True
    return boxes, is_object


@dataclass
class Stumps:
    """A boosted classifier of decision stumps: ``h(x) = sign(sum_j alpha_j h_j(x))``.

    Stump ``j`` reads feature ``feature[j]`` and answers ``left[j]`` (+1 object, -1 background) where
    ``x[..., feature[j]] <= threshold[j]``, else ``right[j]``. All fields are ``Tensor[T]``.
    """

    feature: Tensor
    threshold: Tensor
    left: Tensor
    right: Tensor
    alpha: Tensor

    def __len__(self) -> int:
        return len(self.alpha)

    def votes(self, x: Tensor) -> Tensor:
        """Each stump's answer ``h_j(x)`` in {-1, +1}: ``Tensor[..., F] -> Tensor[..., T]`` (float64)."""
        v = x[..., self.feature].double()  # (..., T); in float64, as the thresholds were fitted
        return torch.where(v <= self.threshold, self.left, self.right).double()

    def decision(self, x: Tensor) -> Tensor:
        """``sum_j alpha_j h_j(x)`` over ``Tensor[..., F]`` -> ``Tensor[...]`` (float64; its sign is the class)."""
        return self.votes(x) @ self.alpha


def _check_stump_inputs(x: Tensor, y: Tensor, w: Tensor, criterion: str) -> None:
    if x.dim() != 2 or y.shape != (len(x),) or w.shape != (len(x),) or len(x) < 2:
        shapes = f"{tuple(x.shape)}, {tuple(y.shape)}, {tuple(w.shape)}"
        raise ValueError(f"expected x (N, F), y (N,), w (N,) with N >= 2, got {shapes}")
    if criterion not in ("error", "gini"):
        raise ValueError(f"criterion must be 'error' or 'gini', got {criterion!r}")


def _best_stump(values: Tensor, order: Tensor, y: Tensor, w: Tensor, criterion: str) -> tuple[int, float, int, int, float]:
    """:func:`fit_stump` on columns already sorted (``values, order = x.double().sort(0)``): AdaBoost sorts once."""
    wp, wn = (w * y)[order], (w * ~y)[order]  # (N, F): positive / negative weight in sorted order
    lp, ln = wp.cumsum(0)[:-1], wn.cumsum(0)[:-1]  # (N-1, F): weight left of each split (x <= threshold)
    tp, tn = wp.sum(0), wn.sum(0)
    rp, rn = tp - lp, tn - ln
    valid = values[1:] > values[:-1]  # a split lies between two distinct values
    if criterion == "error":
        cost = torch.minimum(lp, ln) + torch.minimum(rp, rn)
    else:  # minimize w_l * gini_l + w_r * gini_r  <=>  maximize (lp^2 + ln^2) / w_l + (rp^2 + rn^2) / w_r
        cost = -((lp**2 + ln**2) / (lp + ln).clamp(min=1e-300) + (rp**2 + rn**2) / (rp + rn).clamp(min=1e-300))
    cost = torch.where(valid, cost, math.inf)
    best = int(cost.argmin())
    i, f = divmod(best, values.shape[1])
    if not math.isfinite(float(cost[i, f])):  # every feature constant: one leaf for all
        lab = 1 if float(tp[0]) > float(tn[0]) else -1
        return 0, math.inf, lab, lab, float(min(tp[0], tn[0]) / (tp[0] + tn[0]))
    threshold = float(values[i, f] / 2 + values[i + 1, f] / 2)
    left = 1 if float(lp[i, f]) > float(ln[i, f]) else -1
    right = 1 if float(rp[i, f]) > float(rn[i, f]) else -1
    wrong = (ln[i, f] if left == 1 else lp[i, f]) + (rn[i, f] if right == 1 else rp[i, f])
    return f, threshold, left, right, float(wrong / (tp[f] + tn[f]))


def fit_stump(x: Tensor, y: Tensor, w: Tensor, criterion: str = "error") -> tuple[int, float, int, int, float]:
    """The best decision stump on weighted samples, every feature and split at once (sorting, no loop over splits).

    Args:
        x: features ``Tensor[N, F]``; y: ``Tensor[N]`` bool (True: object); w: sample weights ``Tensor[N]`` >= 0.
        criterion: ``"error"`` minimizes the weighted misclassification (Viola & Jones); ``"gini"`` the weighted
            Gini impurity of the two leaves (scikit-learn's ``DecisionTreeClassifier(max_depth=1)``).

    Returns:
        ``(feature, threshold, left, right, weighted_error)``; thresholds are midpoints between sorted distinct
        values, leaves answer their weighted majority (+1 / -1; a tie answers -1, the first class).
    """
    _check_stump_inputs(x, y, w, criterion)
    values, order = x.double().sort(0)
    return _best_stump(values, order, y.bool(), w.double(), criterion)


def adaboost(
    x: Tensor, y: Tensor, rounds: int, sample_weight: Tensor | None = None, criterion: str = "error"
) -> Stumps:
    """Discrete AdaBoost of decision stumps (Freund & Schapire 1997; Viola & Jones 2001, Table 1; SAMME with two
    classes, as scikit-learn's ``AdaBoostClassifier(DecisionTreeClassifier(max_depth=1))``).

    Each round fits the stump of least weighted error (:func:`fit_stump`), gives it the vote
    ``alpha = log((1 - err) / err)`` and multiplies the weights of the samples it gets wrong by ``exp(alpha)``.
    Stops early on a perfect stump (its vote is 1) or one no better than chance (dropped).

    Args:
        x: features ``Tensor[N, F]``; y: labels ``Tensor[N]`` bool (True: object).
        rounds: number of stumps ``T``.
        sample_weight: initial weights ``Tensor[N]`` (default uniform; Viola & Jones balance the two classes).
        criterion: how each stump is chosen (see :func:`fit_stump`).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    y = y.bool()
    _check_stump_inputs(x, y, torch.empty(len(y)), criterion)
    values, order = x.double().sort(0)  # once: only the weights change from round to round
    w = torch.full((len(x),), 1.0 / len(x), dtype=torch.float64, device=x.device) if sample_weight is None else \
        sample_weight.double().to(x.device) / sample_weight.double().sum()  # fmt: skip
    fields: list[tuple[int, float, int, int, float]] = []
    for _ in range(rounds):
        f, t, left, right, err = _best_stump(values, order, y, w, criterion)
        if err <= 0:
            fields.append((f, t, left, right, 1.0))
            break
        if err >= 0.5:
            if not fields:
                raise ValueError("the first stump is no better than chance: AdaBoost cannot start")
            break
        alpha = math.log((1 - err) / err)
        fields.append((f, t, left, right, alpha))
        pred = torch.where(x[:, f].double() <= t, left, right) > 0
        w = w * torch.exp(alpha * (pred != y).double())
        w = w / w.sum()
    f, t, le, ri, a = zip(*fields)
    dev = x.device
    as64 = lambda v: torch.tensor(v, dtype=torch.float64, device=dev)
    return Stumps(torch.tensor(f, device=dev), as64(t), torch.tensor(le, device=dev), torch.tensor(ri, device=dev), as64(a))


@dataclass
class BoostedCascade:
    """An attentional cascade: stage ``s`` rejects a window when ``stages[s].decision(x) < thresholds[s]``.

    ``negatives[s]``: how many background windows stage ``s`` was trained on (those the earlier stages let
    through); ``background_left[s]``: the share of the training background that passes stages ``0..s``.
    """

    stages: list[Stumps]
    thresholds: Tensor
    negatives: list[int]
    background_left: list[float]

    def scores(self, x: Tensor) -> Tensor:
        """Every stage's score: ``Tensor[..., F] -> Tensor[..., S]``."""
        return torch.stack([st.decision(x) for st in self.stages], -1)

    def keep(self, x: Tensor) -> Tensor:
        """Windows alive after each stage: ``Tensor[..., F] -> Tensor[S, ...]`` boolean masks (cumulative)."""
        return cascade_keep(self.scores(x), self.thresholds)


def fit_boosted_cascade(
    pos: Tensor, neg: Tensor, rounds: tuple[int, ...] = (2, 5, 10), keep: float = 0.995, n_neg: int | None = None,
    generator: torch.Generator | None = None,
) -> BoostedCascade:
    """Train a Viola–Jones cascade: one AdaBoost classifier per stage, with bootstrapped negatives.

    Stage ``s`` has ``rounds[s]`` stumps, trained on the object windows still alive and on (up to ``n_neg``
    drawn from) the background windows that stages ``0..s-1`` let through, the two classes weighted equally;
    its threshold is then lowered to keep a ``keep`` share of the alive object windows (the cascade keeps
    about ``keep ** S`` of the objects).

    Args:
        pos: features of object windows ``Tensor[P, F]``; neg: features of a pool of background windows ``Tensor[M, F]``.
        rounds: stumps per stage (Viola & Jones's first stages have 2, then 10, ... features).
        keep: detection rate per stage.
        n_neg: negatives per stage (default: as many as there are alive positives).
        generator: a CPU generator for the draw of negatives.
    """
    if pos.dim() != 2 or neg.dim() != 2 or pos.shape[1] != neg.shape[1] or not len(pos) or not len(neg):
        raise ValueError(f"expected non-empty pos (P, F) and neg (M, F), got {tuple(pos.shape)} and {tuple(neg.shape)}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    alive_pos = torch.ones(len(pos), dtype=torch.bool, device=pos.device)
    alive_neg = torch.ones(len(neg), dtype=torch.bool, device=neg.device)
    stages, thresholds, negatives, left = [], [], [], []
    for r in rounds:
        hard = alive_neg.nonzero().squeeze(1)  # the background that the cascade so far lets through
        if len(hard) == 0:
            break
        p = pos[alive_pos]
        m = min(len(hard), n_neg if n_neg is not None else len(p))
        pick = hard[torch.randperm(len(hard), generator=generator)[:m].to(hard.device)]
        x = torch.cat([p, neg[pick]])
        y = torch.cat([torch.ones(len(p), dtype=torch.bool), torch.zeros(m, dtype=torch.bool)]).to(x.device)
        w = torch.where(y, 0.5 / len(p), 0.5 / m)  # Viola & Jones: each class weighs one half
        stage = adaboost(x, y, r, sample_weight=w)
        t = torch.quantile(stage.decision(p), 1.0 - keep)
        alive_pos &= stage.decision(pos) >= t
        alive_neg &= stage.decision(neg) >= t
        stages.append(stage), thresholds.append(t), negatives.append(m), left.append(float(alive_neg.float().mean()))
    return BoostedCascade(stages, torch.stack(thresholds), negatives, left)
