"""Learning-rate schedules for :func:`course_lib.engine.fit`'s ``scheduler=``: ``scheduler(optimizer, total_steps)``.

``one_cycle(max_lr)`` is the one-cycle policy (Smith & Topin 2019: warm up to ``max_lr``, then anneal), torch's
``OneCycleLR`` stepped after every batch. It is a ``functools.partial``, so that a checkpoint's key
(:func:`course_lib.engine.fingerprint.callable_key`) records its arguments: another ``max_lr`` trains anew.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from .loop import Scheduler


def _one_cycle(
    optimizer: torch.optim.Optimizer, total_steps: int, *, max_lr: float | list[float], **options
) -> torch.optim.lr_scheduler.OneCycleLR:
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=total_steps, **options)


def one_cycle(max_lr: float | Sequence[float], **options) -> Scheduler:
    """``fit(..., scheduler=one_cycle(1e-2))``: ``OneCycleLR(optimizer, max_lr, total_steps=steps, **options)``.

    ``max_lr``: one rate, or one per parameter group of the optimizer (e.g. a backbone trained slower than its head).
    ``options`` go to ``torch.optim.lr_scheduler.OneCycleLR`` (e.g. ``pct_start=0.1``, ``anneal_strategy="linear"``).
    """
    rates = list(max_lr) if isinstance(max_lr, Sequence) else [max_lr]
    if not rates or min(rates) <= 0:
        raise ValueError(f"max_lr must be > 0 (one rate, or one per parameter group), got {max_lr}")
    return functools.partial(_one_cycle, max_lr=rates if isinstance(max_lr, Sequence) else max_lr, **options)
