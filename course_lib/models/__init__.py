"""Models of the course, each linked to the lecture that introduces it."""

from .alexnet import ABLATIONS, IMAGENET, SMALL, AlexNet, AlexNetSpec
from .lenet import LeNet5
from .linear import MLP, LogisticRegression
from .summary import Summary, summary

__all__ = [
    "ABLATIONS",
    "IMAGENET",
    "MLP",
    "SMALL",
    "AlexNet",
    "AlexNetSpec",
    "LeNet5",
    "LogisticRegression",
    "Summary",
    "count_parameters",
    "summary",
]


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
