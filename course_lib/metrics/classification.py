"""Metrics shared by the notebooks (later lectures add IoU, AP, BLEU here)."""

from __future__ import annotations

from torch import Tensor


def accuracy(output: Tensor, target: Tensor) -> float:
    """Share of correct predictions; ``output`` is logits ``Tensor[N, C]`` or labels ``Tensor[N]``."""
    pred = output.argmax(1) if output.dim() == 2 else output
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape")
    if target.numel() == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((pred == target).float().mean())


def error_rate(output: Tensor, target: Tensor) -> float:
    """``1 - accuracy``, the figure the LeNet and ILSVRC papers report (in %, multiply by 100)."""
    return 1.0 - accuracy(output, target)


__all__ = ["accuracy", "error_rate"]
