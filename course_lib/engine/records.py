"""Per-step records: the training error of every mini-batch, and iterations to reach a target error.

Lecture: STA211 (Thome), "AlexNet in ILSVRC'12": ReLU networks reach a training error several times
faster than tanh ones (Krizhevsky et al. 2012, Figure 1).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ErrorCurve:
    """Per-iteration training record: ``errors[i]`` is the error rate of mini-batch ``i`` (before its update)."""

    errors: list[float] = field(default_factory=list)
    total_seconds: float = 0.0  # wall-clock time of all iterations (device synchronized)

    def seconds_to(self, iterations: int | None) -> float | None:
        """Time of the first ``iterations`` steps, pro rata of the total (steps cost the same); None stays None."""
        return None if iterations is None else self.total_seconds * iterations / max(len(self.errors), 1)

    def smoothed(self, window: int = 50) -> Tensor:
        """Running mean of the last ``window`` mini-batch errors (fewer at the start): ``Tensor[iters]``."""
        return running_mean(torch.tensor(self.errors, dtype=torch.float64), window)


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


def iterations_to_target(curve: ErrorCurve | Tensor, target: float, window: int = 50) -> int | None:
    """First iteration (1-based count of updates) at which the running training error is <= ``target``; None if never."""
    smooth = curve.smoothed(window) if isinstance(curve, ErrorCurve) else running_mean(curve.double(), window)
    hit = (smooth <= target).nonzero()
    return int(hit[0, 0]) + 1 if len(hit) else None


def train_iterations(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    iterations: int,
    *,
    device: torch.device | str,
    stop_below: float | None = None,
    window: int = 50,
    check_every: int = 10,
) -> ErrorCurve:
    """Take up to ``iterations`` optimizer steps, cycling over ``loader``; record each mini-batch's training error.

    With ``stop_below``, stop early once the running mean of the last ``window`` mini-batch errors is
    ``<= stop_below`` (checked every ``check_every`` steps, the only synchronisations with the device;
    :func:`iterations_to_target` then finds the exact first iteration).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    device = torch.device(device)
    model.to(device).train()
    wrong = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    done = 0
    while done < iterations:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            wrong.append((logits.detach().argmax(1) != y).float().mean())
            done += 1
            if done == iterations:
                break
            if stop_below is not None and done % check_every == 0:
                if float(torch.stack(wrong[-window:]).mean()) <= stop_below:
                    iterations = done
                    break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    return ErrorCurve(torch.stack(wrong).tolist(), seconds)
