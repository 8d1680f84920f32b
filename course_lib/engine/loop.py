"""The one training loop of the course: ``train_step``, ``fit`` -> :class:`History`; ``evaluate``; ``predict``.

``fit`` runs :func:`train_step` (forward, loss, backward, optimizer step; nothing moves to the host) over the
batches, either for ``epochs`` passes or for an exact budget of ``steps`` optimizer steps (cycling the loader),
optionally recording every step's loss and metric and stopping early on a running training error. Loss and metric sums stay on the
device; the host waits for it once per epoch (and, with ``stop_below``, once per ``check_every`` steps).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import DRY_RUN_STEPS, dry_run, progress_enabled
from ..utils import model_device
from . import distributed
from .devices import autocast, grad_scaler, synchronize, to_device
from .evaluate import Loader, LossFn, evaluate
from .records import DeviceTotals, History, Metric, StepRecords, accuracy_counts, step_value

Scheduler = Callable[[torch.optim.Optimizer, int], Any]

BAR_EVERY = 25  # the progress bar's counter moves every BAR_EVERY steps (a host-side counter: never a sync)


def train_step(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: LossFn = F.cross_entropy,
    amp: bool = False,
    scaler: torch.amp.GradScaler | None = None,
    scheduler: Any = None,
    clip_grad_norm: float | None = None,
    forward_targets: bool = False,
    loss_weight: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """One optimizer step on a batch already on the model's device; returns ``(loss, outputs)``, detached.

    Args:
        model: the network, in train mode.
        x: inputs ``Tensor[B, ...]``; ``y``: targets ``Tensor[B, ...]`` (what ``loss_fn`` takes).
        optimizer: any torch optimizer.
        loss_fn: ``loss_fn(outputs, y)`` -> a scalar, the batch *mean*.
        amp: autocast (see :func:`autocast`); ``scaler``: its GradScaler when fp16 (see :func:`grad_scaler`).
        scheduler: an LR scheduler stepped after the optimizer (per batch).
        clip_grad_norm: clip the gradients' global L2 norm to this value before the step.
        forward_targets: call ``model(x, y)`` (a detector takes its targets in training, as torchvision's do).
        loss_weight: ``backward`` runs on ``loss_weight * loss`` (under ``torchrun``, ``fit`` passes
            ``world_size * n_r / n`` for a rank with ``n_r`` of the global batch's ``n`` samples, so that
            DistributedDataParallel's mean over the ranks is the gradient of the global batch's mean loss).

    Returns:
        The loss (0-d, unweighted) and the outputs ``Tensor[B, ...]``, still on the device: no host sync.
    """
    with autocast(x.device, amp):
        outputs = model(x, y) if forward_targets else model(x)
        loss = loss_fn(outputs, y)
    objective = loss if loss_weight == 1.0 else loss * loss_weight
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(objective).backward()
        if clip_grad_norm is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
    else:
        objective.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach(), outputs.detach()


def _fmt(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.3f}"


def _progress_bar(total: int | None, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=True, dynamic_ncols=True)


def fit(
    model: nn.Module,
    train: Loader,
    val: Loader | None = None,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Scheduler | None = None,
    loss_fn: LossFn = F.cross_entropy,
    metric: Metric = accuracy_counts,
    device: torch.device | str | None = None,
    amp: bool = False,
    channels_last: bool = False,
    clip_grad_norm: float | None = None,
    record_steps: bool = False,
    stop_below: float | None = None,
    stop_on: str = "error",
    window: int = 50,
    check_every: int = 10,
    progress: bool | None = None,
    desc: str = "train",
    forward_targets: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train``, or for exactly ``steps`` optimizer steps.

    Args:
        model: the network (moved to ``device``).
        train: iterable of ``(x, y)`` batches (a :class:`~course_lib.data.DeviceLoader`, a DataLoader, a list).
        val: optional iterable of validation batches, evaluated after every epoch.
        epochs: number of passes over ``train`` (give ``epochs`` or ``steps``).
        steps: exact number of optimizer steps, cycling over ``train`` (the same budget whatever the
            dataset size); one History row per pass, the last one possibly partial.
        lr: learning rate of the default optimizer (Adam), ignored when ``optimizer`` is given.
        optimizer: any torch optimizer over ``model``'s parameters.
        scheduler: ``scheduler(optimizer, total_steps)`` -> an LR scheduler stepped after every
            batch, e.g. ``lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=n)``.
        loss_fn: ``loss_fn(outputs, y)`` -> the batch mean; default cross-entropy.
        metric: ``metric(outputs, y)`` -> ``(sum, count)`` of a batch (tensors or numbers, on the device)
            or ``None`` where it does not apply (recorded as NaN). Default :func:`accuracy_counts`
            (class-index targets); pass e.g. a multi-label or per-pixel accuracy for other targets.
        device: where to train (default: the model's device).
        amp: mixed precision on CUDA (bf16, else fp16 with loss scaling); ignored elsewhere.
        channels_last: NHWC memory format for the model and image batches (faster convolutions on GPUs).
        clip_grad_norm: clip the global gradient norm to this value at every step.
        record_steps: keep every step's batch loss and metric (on the device; fetched once, at the end)
            in ``History.step_loss`` / ``History.step_metric``.
        stop_below: stop once the running mean over the last ``window`` steps of the training error
            (``1 - metric``; ``stop_on="loss"``: the batch loss) is ``<= stop_below``, checked every
            ``check_every`` steps (the only extra host syncs). :func:`~course_lib.metrics.iterations_to_target`
            then finds the exact first step on the records.
        progress: show a progress bar (default: ``COURSE_PROGRESS``/CI rule of :mod:`course_lib.config`).
        desc: label of the progress bar.
        forward_targets: call ``model(x, y)`` (see :func:`train_step`); ``outputs`` is then what it returns.

    Under ``torchrun`` (:mod:`course_lib.engine.distributed`) the same call trains with DistributedDataParallel:
    each rank takes its share of every batch of ``train`` (a :class:`~course_lib.data.DeviceLoader`), the
    History holds the totals over all ranks, and ``val`` is evaluated by every rank on the whole set. Each
    rank's loss is weighted by ``world_size * n_r / n`` (:meth:`DeviceLoader.share_sizes
    <course_lib.data.DeviceLoader.share_sizes>`), so that N ranks take exactly one process's optimizer steps
    even where a global batch does not split evenly (the last one, or a batch size that is not a multiple of N).

    Under ``COURSE_DRY_RUN=1`` (:func:`course_lib.config.dry_run`) training stops after
    :data:`~course_lib.config.DRY_RUN_STEPS` optimizer steps in all, whatever ``epochs``/``steps`` say;
    the History is complete for what ran, and ``val`` is still evaluated.

    Returns:
        A :class:`History`.

    Raises:
        ValueError: on bad arguments, or a ``train`` loader that yields no batch.
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs= or steps=, got epochs={epochs}, steps={steps}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if stop_on not in ("error", "loss"):
        raise ValueError(f"stop_on must be 'error' or 'loss', got {stop_on!r}")
    if window < 1 or check_every < 1:
        raise ValueError(f"window and check_every must be >= 1, got {window} and {check_every}")
    if clip_grad_norm is not None and clip_grad_norm <= 0:
        raise ValueError(f"clip_grad_norm must be > 0, got {clip_grad_norm}")
    try:
        batches_per_epoch: int | None = len(train)  # type: ignore[arg-type]
    except TypeError:
        batches_per_epoch = None
    if batches_per_epoch == 0:
        raise ValueError("the training loader yields no batch")
    total = steps if steps is not None else (None if batches_per_epoch is None else epochs * batches_per_epoch)

    device = model_device(model) if device is None else torch.device(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    share_sizes = None  # under torchrun: b -> (this rank's samples, the global batch's), for the loss weights
    if distributed.setup(device):  # under torchrun: DDP, and this rank's share of every batch
        train = distributed.shard(train)
        share_sizes = getattr(train, "share_sizes", None)
    ranks = distributed.world_size()
    stepped = distributed.wrap(model, device)  # the model itself outside torchrun
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if scheduler is not None and total is None:
        raise ValueError("a scheduler needs the number of steps: give steps=, or a loader with a len()")
    sched = scheduler(optimizer, total) if scheduler is not None else None
    scaler = grad_scaler(device, amp)
    cap = steps  # the step budget (None: epochs decide)
    if dry_run():
        cap = DRY_RUN_STEPS if cap is None else min(cap, DRY_RUN_STEPS)
    record = record_steps or stop_below is not None
    nan = torch.full((), math.nan, device=device, dtype=torch.float32 if device.type == "mps" else torch.float64)
    # every step's loss and metric, preallocated on the device (early stop alone keeps only the last `window`)
    steps_known = cap if cap is not None else total
    records = StepRecords(device, nan.dtype, steps_known, keep=None if record_steps else window) if record else None

    history = History(metric_name="accuracy" if metric is accuracy_counts else getattr(metric, "__name__", "metric"))
    short = "acc" if metric is accuracy_counts else history.metric_name
    show = (progress_enabled() if progress is None else progress) and distributed.is_main()
    done, epoch, stopped = 0, 0, False
    with _progress_bar(total if cap is None else min(cap, total or cap), desc, show) as bar:
        while not stopped:
            epoch += 1
            model.train()
            totals = DeviceTotals(device)
            synchronize(device)
            t0 = time.perf_counter()
            for b, (x, y) in enumerate(train):
                x, y = to_device(x, y, device, channels_last)
                n_r, weight = y.shape[0], 1.0
                if share_sizes is not None:  # Python ints from the loader: no host sync
                    n_r, n_b = share_sizes(b)
                    weight = ranks * n_r / n_b  # 1.0 where the batch splits evenly; 0 for a stand-in batch
                loss, outputs = train_step(
                    stepped,
                    x,
                    y,
                    optimizer,
                    loss_fn=loss_fn,
                    amp=amp,
                    scaler=scaler,
                    scheduler=sched,
                    clip_grad_norm=clip_grad_norm,
                    forward_targets=forward_targets,
                    loss_weight=weight,
                )
                m = metric(outputs, y)
                if n_r:  # a stand-in batch (n_r = 0, weight 0) counts nothing
                    totals.add(loss, m, n_r)
                done += 1
                if records is not None:
                    records.append(loss, step_value(m, nan))
                if show and done % BAR_EVERY == 0:
                    bar.update(done - bar.n)
                if done == cap:
                    stopped = True
                    break
                if stop_below is not None and done % check_every == 0:
                    recent = records.last(window, 0 if stop_on == "loss" else 1).double()  # a view: O(window)
                    value = recent.mean() if stop_on == "loss" else 1 - recent.mean()
                    value = float(
                        distributed.all_reduce_mean(value)
                    )  # under torchrun every rank stops at the same step
                    if math.isnan(value):
                        raise ValueError("stop_below on the error needs a metric that applies; use stop_on='loss'")
                    if value <= stop_below:
                        stopped = True
                        break
            synchronize(device)
            seconds = time.perf_counter() - t0
            distributed.all_reduce_totals(totals)  # the sums over every rank (nothing outside torchrun)
            if totals.samples == 0:
                raise ValueError("the training loader yielded no batch")
            tr_loss, tr_metric = totals.fetch()
            va_loss, va_metric = (math.nan, math.nan)
            if val is not None:
                va_loss, va_metric = evaluate(
                    model,
                    val,
                    device=device,
                    loss_fn=loss_fn,
                    metric=metric,
                    amp=amp,
                    channels_last=channels_last,
                    forward_targets=forward_targets,
                )
            history.epoch.append(epoch)
            history.steps.append(done - sum(history.steps))
            history.train_loss.append(tr_loss)
            history.train_metric.append(tr_metric)
            history.val_loss.append(va_loss)
            history.val_metric.append(va_metric)
            history.seconds.append(seconds)
            history.samples.append(totals.samples)
            bar.update(done - bar.n)
            bar.set_postfix(
                {"epoch": epoch, "loss": _fmt(tr_loss), short: _fmt(tr_metric), f"val_{short}": _fmt(va_metric)}
            )
            if epochs is not None and epoch == epochs:
                stopped = True
    if record_steps:
        history.step_loss, history.step_metric = records.tolist()
    return history
