"""The attentional cascade of Viola & Jones (2001): stages that each reject most background windows cheaply.

See the docstring of :mod:`course_lib.ops.windows` for the lecture. The cascade, as in the paper (section 4) and
the lecture's slide: each stage is a boosted classifier ``h(x) = sign(sum_j alpha_j h_j(x))`` of decision stumps
on Haar-like box features (:func:`~course_lib.methods.boosting.adaboost`, discrete AdaBoost / SAMME with two
classes, as scikit-learn's ``AdaBoostClassifier``), whose threshold is lowered until it keeps nearly all the
objects; the next stage is trained on the background windows that the cascade so far lets through (bootstrapped
negatives), so each stage learns what the previous ones missed (:func:`fit_boosted_cascade`). :func:`fit_cascade`
is the unboosted baseline: one threshold on one feature per stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .boosting import Stumps, adaboost


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
    pos: Tensor,
    neg: Tensor,
    rounds: tuple[int, ...] = (2, 5, 10),
    keep: float = 0.995,
    n_neg: int | None = None,
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
