"""Iterations to a target training error: the per-step error curve of a run, and when its running mean reached it.

Lecture: STA211 (Thome), "AlexNet in ILSVRC'12": ReLU networks reach a training error several times faster than
tanh ones (Krizhevsky et al. 2012, Figure 1: "a four-layer convolutional neural network with ReLUs reaches a 25%
training error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons").

The records come from the one training loop: ``fit(..., steps=n, record_steps=True, stop_below=target)`` keeps every
step's batch metric; :meth:`ErrorCurve.from_history` reads them as errors (``1 - accuracy``) and
:func:`iterations_to_target` finds the first step at which the running error reached a target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..engine.records import History, running_mean


@dataclass
class ErrorCurve:
    """Per-iteration training record: ``errors[i]`` is the error rate of mini-batch ``i`` (before its update)."""

    errors: list[float] = field(default_factory=list)
    total_seconds: float = 0.0  # wall-clock time of all iterations (device synchronized)

    @classmethod
    def from_history(cls, history: History) -> ErrorCurve:
        """The per-step errors ``1 - step_metric`` of a run made with ``fit(..., record_steps=True)``."""
        if not history.step_metric:
            raise ValueError("the History has no per-step records: train with fit(..., record_steps=True)")
        return cls([1.0 - m for m in history.step_metric], history.total_seconds)

    def seconds_to(self, iterations: int | None) -> float | None:
        """Time of the first ``iterations`` steps, pro rata of the total (steps cost the same); None stays None."""
        return None if iterations is None else self.total_seconds * iterations / max(len(self.errors), 1)

    def smoothed(self, window: int = 50) -> Tensor:
        """Running mean of the last ``window`` mini-batch errors (fewer at the start): ``Tensor[iters]``."""
        return running_mean(torch.tensor(self.errors, dtype=torch.float64), window)


def iterations_to_target(curve: ErrorCurve | History | Tensor, target: float, window: int = 50) -> int | None:
    """First iteration (1-based count of updates) at which the running training error is <= ``target``; None if never.

    ``curve``: an :class:`ErrorCurve`, a History recorded with ``record_steps=True``, or errors ``Tensor[iters]``.
    """
    if isinstance(curve, History):
        curve = ErrorCurve.from_history(curve)
    smooth = curve.smoothed(window) if isinstance(curve, ErrorCurve) else running_mean(curve.double(), window)
    hit = (smooth <= target).nonzero()
    return int(hit[0, 0]) + 1 if len(hit) else None
