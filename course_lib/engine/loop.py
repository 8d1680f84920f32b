"""Training as plain functions: ``fit`` -> :class:`History`, ``evaluate``, ``predict``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import model_device, progress_enabled

Loader = Iterable[tuple[Tensor, Tensor]]


LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class History:
    """Per-epoch records of a training run (``val_*`` are NaN when there was no validation set)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

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

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, list]) -> History:
        return cls(**{k: list(v) for k, v in d.items()})


def _accuracy_count(logits: Tensor, y: Tensor) -> int:
    if logits.dim() == 2 and y.dim() == 1:
        return int((logits.argmax(1) == y).sum())
    return 0


def _autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when asked (and supported), nothing otherwise."""
    if amp and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return nullcontext()


def train_one_epoch(
    model: nn.Module,
    loader: Loader,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    loss_fn: LossFn = F.cross_entropy,
    amp: bool = False,
    channels_last: bool = False,
    scaler: torch.amp.GradScaler | None = None,
    scheduler: Any = None,
    bar: Any = None,
) -> tuple[float, float, int]:
    """One pass over ``loader``; returns (mean loss, accuracy, samples seen).

    ``scheduler`` (if given) is stepped after every batch (e.g. ``OneCycleLR``).
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp):
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = len(y)
        total_loss += float(loss.detach()) * n
        correct += _accuracy_count(logits.detach(), y)
        seen += n
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
    if seen == 0:
        raise ValueError("the training loader yielded no batch")
    return total_loss / seen, correct / seen, seen


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Loader,
    *,
    device: torch.device | str | None = None,
    loss_fn: LossFn = F.cross_entropy,
    amp: bool = False,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``loader`` (eval mode, no gradients)."""
    device = model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with _autocast(device, amp):
            logits = model(x)
            loss = loss_fn(logits, y)
        total_loss += float(loss) * len(y)
        correct += _accuracy_count(logits, y)
        seen += len(y)
    model.train(was_training)
    if seen == 0:
        raise ValueError("the evaluation loader yielded no batch")
    return total_loss / seen, correct / seen


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, *, batch_size: int = 1024, device: torch.device | str | None = None) -> Tensor:
    """Logits of ``model`` on a whole tensor ``x`` (in batches, eval mode); returned on ``x``'s device."""
    device = model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    out = [model(x[i : i + batch_size].to(device)).to(x.device) for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so timings are true; no-op elsewhere."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=True, dynamic_ncols=True)


def fit(
    model: nn.Module,
    train: Loader,
    val: Loader | None = None,
    *,
    epochs: int,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Callable[[torch.optim.Optimizer, int], Any] | None = None,
    loss_fn: LossFn = F.cross_entropy,
    device: torch.device | str | None = None,
    amp: bool = False,
    channels_last: bool = False,
    progress: bool | None = None,
    desc: str = "train",
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train``, evaluating on ``val`` after each.

    Args:
        model: the network (moved to ``device``).
        train: iterable of ``(x, y)`` batches (a :class:`~course_lib.data.DeviceLoader` or a DataLoader).
        val: optional iterable of validation batches.
        epochs: number of passes (>= 1).
        lr: learning rate of the default optimizer (Adam), ignored when ``optimizer`` is given.
        optimizer: any torch optimizer over ``model``'s parameters.
        scheduler: ``scheduler(optimizer, total_steps)`` -> an LR scheduler stepped after every
            batch, e.g. ``lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=n)``.
        loss_fn: ``loss_fn(logits, y)``; default cross-entropy.
        device: where to train (default: the model's device).
        amp: mixed precision (bf16, else fp16 with loss scaling) on CUDA; ignored on CPU.
        channels_last: NHWC memory format (faster convolutions on recent GPUs).
        progress: show a progress bar (default: ``COURSE_PROGRESS``/CI rule of :mod:`course_lib.config`).
        desc: label of the progress bar.

    Returns:
        A :class:`History` with per-epoch train/val loss and accuracy and training seconds.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    device = model_device(model) if device is None else torch.device(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    try:
        steps_per_epoch = len(train)  # type: ignore[arg-type]
    except TypeError:
        steps_per_epoch = 0
    sched = scheduler(optimizer, steps_per_epoch * epochs) if scheduler is not None else None
    use_scaler = amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    history = History()
    show = progress_enabled() if progress is None else progress
    with _progress_bar(steps_per_epoch * epochs, desc, show) as bar:
        for epoch in range(1, epochs + 1):
            synchronize(device)
            t0 = time.perf_counter()
            tr_loss, tr_acc, seen = train_one_epoch(
                model, train, optimizer, device=device, loss_fn=loss_fn, amp=amp,
                channels_last=channels_last, scaler=scaler, scheduler=sched, bar=bar,
            )  # fmt: skip
            synchronize(device)
            seconds = time.perf_counter() - t0
            va_loss, va_acc = (math.nan, math.nan)
            if val is not None:
                va_loss, va_acc = evaluate(model, val, device=device, loss_fn=loss_fn, amp=amp)
            history.epoch.append(epoch)
            history.train_loss.append(tr_loss)
            history.train_acc.append(tr_acc)
            history.val_loss.append(va_loss)
            history.val_acc.append(va_acc)
            history.seconds.append(seconds)
            history.samples.append(seen)
            bar.set_postfix(epoch=epoch, loss=f"{tr_loss:.3f}", val_acc=f"{va_acc:.4f}")
    return history
