"""Discrete AdaBoost of decision stumps (Freund & Schapire 1997), the learner of each stage of the Viola–Jones
cascade (:mod:`course_lib.methods.cascade`).

:func:`fit_stump` finds the best stump on weighted samples, every feature and split at once; :func:`adaboost`
chains them into ``h(x) = sign(sum_j alpha_j h_j(x))`` (:class:`Stumps`): SAMME with two classes, as
scikit-learn's ``AdaBoostClassifier`` of depth-1 trees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


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


def _best_stump(
    values: Tensor, order: Tensor, y: Tensor, w: Tensor, criterion: str
) -> tuple[int, float, int, int, float]:
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
    w = (
        torch.full((len(x),), 1.0 / len(x), dtype=torch.float64, device=x.device)
        if sample_weight is None
        else sample_weight.double().to(x.device) / sample_weight.double().sum()
    )
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
    return Stumps(
        torch.tensor(f, device=dev), as64(t), torch.tensor(le, device=dev), torch.tensor(ri, device=dev), as64(a)
    )
