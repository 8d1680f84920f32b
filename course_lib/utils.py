"""What every layer of the package needs: a model's device, ``eval_mode``, a parameter count.

The bottom of the package (see the layer table in ``course_lib/README.md``): this module imports nothing from
``course_lib``, so that ``config``, ``ops``, ``models``, ``engine`` and the rest may all import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(model):`` switches every sub-module to eval, then restores each one's own mode.

    The previous modes come back even when the block raises (try/finally), and a sub-module that was
    already in eval inside a training model (e.g. a frozen BatchNorm) stays so.
    """
    with _mode(model, training=False):
        yield model


@contextmanager
def train_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with train_mode(model):`` switches every sub-module to training (e.g. to sample dropout masks at test time),
    then restores each one's own mode, even when the block raises."""
    with _mode(model, training=True):
        yield model


@contextmanager
def _mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    modes = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for m, was_training in modes:
            m.training = was_training


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters of a model: the trainable ones only (default), or all of them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
