"""Models of the course, each linked to the lecture that introduces it."""

from .alexnet import ABLATIONS, IMAGENET, SMALL, AlexNet, AlexNetSpec
from .deep_mlp import DeepMLP, layer_gradient_norms
from .fcn import FCN
from .lenet import LeNet5
from .linear import MLP, LogisticRegression
from .pretrained import WeightsUnavailableError, pretrained, weights_available
from .small_cnn import SmallCNN
from .source_cnn import SourceCNN
from .stn import STN, ConvNet, LocalisationNet
from .summary import Summary, summary

__all__ = [
    "ABLATIONS",
    "FCN",
    "IMAGENET",
    "MLP",
    "SMALL",
    "STN",
    "AlexNet",
    "AlexNetSpec",
    "ConvNet",
    "DeepMLP",
    "LeNet5",
    "LocalisationNet",
    "LogisticRegression",
    "SmallCNN",
    "SourceCNN",
    "Summary",
    "WeightsUnavailableError",
    "count_parameters",
    "layer_gradient_norms",
    "pretrained",
    "summary",
    "weights_available",
]


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
