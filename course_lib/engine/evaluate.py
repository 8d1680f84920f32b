"""Evaluation: ``evaluate`` (mean loss and metric over a loader) and ``predict`` (outputs on a whole tensor).

Both run in eval mode without gradients and restore the model's mode, even on an error (:func:`eval_mode`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import eval_mode, model_device
from .devices import autocast, to_device
from .records import DeviceTotals, Metric, accuracy_counts

Loader = Iterable[tuple[Tensor, Tensor]]
LossFn = Callable[[Tensor, Tensor], Tensor]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Loader,
    *,
    device: torch.device | str | None = None,
    loss_fn: LossFn = F.cross_entropy,
    metric: Metric = accuracy_counts,
    amp: bool = False,
    channels_last: bool = False,
    forward_targets: bool = False,
) -> tuple[float, float]:
    """Mean loss and metric of ``model`` on ``loader`` (eval mode, no gradients, one host sync at the end).

    ``metric`` as in :func:`fit` (default: accuracy; NaN where it does not apply).
    """
    device = model_device(model) if device is None else torch.device(device)
    totals = DeviceTotals(device)
    with eval_mode(model):
        for x, y in loader:
            x, y = to_device(x, y, device, channels_last)
            with autocast(device, amp):
                outputs = model(x, y) if forward_targets else model(x)
                loss = loss_fn(outputs, y)
            totals.add(loss, metric(outputs, y), y.shape[0])
    if totals.samples == 0:
        raise ValueError("the evaluation loader yielded no batch")
    return totals.fetch()


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, *, batch_size: int = 1024, device: torch.device | str | None = None) -> Tensor:
    """Outputs of ``model`` on a whole tensor ``x`` ``Tensor[N, ...]`` (in batches, eval mode); returned on ``x``'s device."""
    if len(x) == 0:
        raise ValueError("predict needs at least one input")
    device = model_device(model) if device is None else torch.device(device)
    with eval_mode(model):
        out = [model(x[i : i + batch_size].to(device)).to(x.device) for i in range(0, len(x), batch_size)]
    return torch.cat(out)


__all__ = ["Loader", "LossFn", "evaluate", "predict"]
