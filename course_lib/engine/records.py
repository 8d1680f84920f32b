"""What a training run records: the :class:`History` (per epoch, per step), the default metric, running means.

The records come from the one training loop: ``fit(..., steps=n, record_steps=True, stop_below=target)``
keeps every step's batch metric; :func:`running_mean` smooths them (as ``fit``'s early stop does), and
:mod:`course_lib.metrics.error_curve` reads them as errors (``1 - accuracy``) and finds when the running error
first reached a target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

# metric(outputs, targets) -> (sum, count) of a batch, or None where the metric does not apply (-> NaN in History)
Metric = Callable[[Tensor, Tensor], "tuple[Tensor | float, Tensor | int] | None"]


def accuracy_counts(outputs: Tensor, targets: Tensor) -> tuple[Tensor, int] | None:
    """The default metric: ``(number correct, batch size)`` of a batch, on the device.

    Applies to logits ``Tensor[B, C]`` with class indices ``Tensor[B]`` (integer); anything else
    (multi-label or float targets, per-pixel maps) returns ``None``: the History then records NaN,
    never a silent 0. Pass your own ``metric=`` for those (same signature).
    """
    if outputs.dim() != 2 or targets.dim() != 1 or len(outputs) != len(targets):
        return None
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        return None
    return (outputs.argmax(1) == targets).sum(), targets.shape[0]


def no_metric(outputs: Tensor, targets: Tensor) -> None:
    """A metric for fits whose loss is the measure (regression, reconstruction, pretraining): the History records NaN
    for it. ``fit(..., metric=no_metric)``."""
    return None


@dataclass
class History:
    """Records of a training run: one row per epoch (pass over the loader), plus optional per-step records.

    Row fields (lists, one value per epoch): ``epoch``, ``steps`` (optimizer steps in it), ``train_loss``,
    ``train_metric`` (running over the epoch's batches, in train mode), ``val_loss``, ``val_metric`` (NaN
    without a validation set), ``seconds`` (training time, evaluation excluded), ``samples``.
    A metric that does not apply (e.g. accuracy on multi-label targets) is NaN, never 0.
    ``step_loss``/``step_metric``: every optimizer step's batch loss and metric (``fit(record_steps=True)``).
    ``metric_name``: what the metric is (``"accuracy"`` by default); ``train_acc``/``val_acc`` read the metric.
    """

    epoch: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_metric: list[float] = field(default_factory=list)
    metric_name: str = "accuracy"

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def train_acc(self) -> list[float]:
        """``train_metric`` (the accuracy, with the default metric)."""
        return self.train_metric

    @property
    def val_acc(self) -> list[float]:
        """``val_metric`` (the accuracy, with the default metric)."""
        return self.val_metric

    @property
    def total_steps(self) -> int:
        return int(sum(self.steps))

    @property
    def total_seconds(self) -> float:
        """Training time of all epochs (evaluation excluded)."""
        return float(sum(self.seconds))

    @property
    def images_per_second(self) -> float:
        return sum(self.samples) / max(self.total_seconds, 1e-9)

    def last(self, key: str) -> float:
        """The last epoch's value of ``key`` (e.g. ``"val_acc"``)."""
        values = getattr(self, key)
        if not values:
            raise ValueError("the history is empty")
        return values[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        renamed = {
            "train_acc": "train_metric",
            "val_acc": "val_metric",
        }  # histories saved before the metric was pluggable
        d = {renamed.get(k, k): v for k, v in d.items()}
        return cls(**{k: v if isinstance(v, str) else list(v) for k, v in d.items()})


class DeviceTotals:
    """Sums of one pass (loss x samples, metric sum and count), accumulated on the device."""

    def __init__(self, device: torch.device) -> None:
        dtype = torch.float32 if device.type == "mps" else torch.float64
        self.loss = torch.zeros((), dtype=dtype, device=device)
        self.metric = torch.zeros((), dtype=dtype, device=device)
        self.count: Tensor | int = 0  # a Python int while every count is one (the default metric's batch sizes)
        self.samples = 0

    def add(self, loss: Tensor, m: tuple[Tensor | float, Tensor | int] | None, n: int) -> None:
        self.loss.add_(loss, alpha=n)
        self.samples += n
        if m is not None:
            self.metric.add_(m[0])
            self.count = self.count + m[1]

    def fetch(self) -> tuple[float, float]:
        """Mean loss and metric (NaN where the metric never applied): one transfer, the pass's only host sync."""
        count = (
            self.count if isinstance(self.count, Tensor) else torch.full_like(self.loss, self.count)
        )  # a fill, no copy
        count = count.to(self.loss.dtype)
        loss, metric, count = torch.stack([self.loss, self.metric, count]).tolist()
        return loss / max(self.samples, 1), metric / count if count > 0 else math.nan


def step_value(m: tuple[Tensor | float, Tensor | int] | None, nan: Tensor) -> Tensor:
    """A batch's metric as a 0-d device tensor (NaN where it does not apply), for per-step records."""
    if m is None:
        return nan
    return torch.as_tensor(m[0], dtype=nan.dtype, device=nan.device) / m[1]


MAX_PREALLOCATED = 1 << 20  # steps of StepRecords allocated up front at most (16 MiB in float64); then it doubles


class StepRecords:
    """Every step's batch loss and metric, on the device, in preallocated storage: ``fit(record_steps=True)``.

    One row each for the loss and the metric, ``capacity`` columns allocated at once (``fit`` passes its step budget
    when it knows it; at most :data:`MAX_PREALLOCATED`), doubled when full: appending is one device copy per value
    (no host sync, no tensor per step), amortized O(1). ``keep=window`` (early stop without ``record_steps``) keeps
    only the last ``window`` steps: when the storage (``2 * window`` wide) is full, those are moved to its front
    (amortized O(1) too). :meth:`last` is a view of the last ``window`` values (early stop reads it every
    ``check_every`` steps: O(window), not a copy of every step so far), and :meth:`tolist` is the one host transfer,
    at the end.
    """

    def __init__(
        self, device: torch.device, dtype: torch.dtype, capacity: int | None = None, keep: int | None = None
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        size = max(2 * keep, 64) if keep is not None else min(max(capacity or 1024, 1), MAX_PREALLOCATED)
        self.values = torch.empty(2, size, dtype=dtype, device=device)
        self.keep, self.n, self.seen = keep, 0, 0  # n: columns in use; seen: steps appended in all

    def append(self, loss: Tensor, metric: Tensor) -> None:
        if self.n == self.values.shape[1]:
            if self.keep is None:  # double the storage
                grown = torch.empty(2, 2 * self.n, dtype=self.values.dtype, device=self.values.device)
                grown[:, : self.n] = self.values
                self.values = grown
            else:  # keep the last `keep` steps, at the front
                self.values[:, : self.keep] = self.values[:, self.n - self.keep : self.n].clone()
                self.n = self.keep
        self.values[0, self.n] = loss.detach()
        self.values[1, self.n] = metric
        self.n += 1
        self.seen += 1

    def __len__(self) -> int:
        return self.n

    def last(self, window: int, row: int) -> Tensor:
        """A view of the last ``window`` values (fewer at the start) of row ``0`` (loss) or ``1`` (metric)."""
        return self.values[row, max(0, self.n - window) : self.n]

    def tolist(self) -> tuple[list[float], list[float]]:
        """``(losses, metrics)`` as Python floats (float64), one transfer for both."""
        loss, metric = self.values[:, : self.n].double().tolist()
        return loss, metric


def running_mean(values: Tensor, window: int) -> Tensor:
    """``out[i] = mean(values[max(0, i - window + 1) : i + 1])`` for a 1-D tensor, vectorized (cumulative sums)."""
    if values.dim() != 1:
        raise ValueError(f"expected a 1-D tensor, got shape {tuple(values.shape)}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    c = torch.cat([values.new_zeros(1), values.cumsum(0)])
    i = torch.arange(1, len(values) + 1)
    lo = (i - window).clamp(min=0)
    return (c[i] - c[lo]) / (i - lo).to(values.dtype)
