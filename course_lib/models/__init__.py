"""Networks only, grouped by family (``classic``, ``vision``); each links to the lecture that introduces it."""

from .classic import (
    ABLATIONS,
    IMAGENET,
    MLP,
    SMALL,
    AlexNet,
    AlexNetSpec,
    DeepMLP,
    LeNet5,
    LogisticRegression,
    SmallCNN,
    gaussian_init_,
    layer_gradient_norms,
)
from .generative import (
    DBN,
    RBM,
    VAE,
    AutoEncoder,
    ConvAutoEncoder,
    DCGANDiscriminator,
    DCGANGenerator,
    DenoisingAutoEncoder,
    MLPDiscriminator,
    MLPGenerator,
)
from .pretrained import WeightsUnavailableError, pretrained, weights_available
from .sequence import CharLM, Seq2Seq
from .vision import FCN, RCNN, RPN, STN, BoxHead, ConvNet, FasterRCNN, FastRCNN, LocalisationNet, SourceCNN

__all__ = [
    "ABLATIONS",
    "DBN",
    "FCN",
    "IMAGENET",
    "MLP",
    "RBM",
    "RCNN",
    "RPN",
    "SMALL",
    "STN",
    "VAE",
    "AlexNet",
    "AlexNetSpec",
    "AutoEncoder",
    "BoxHead",
    "CharLM",
    "ConvAutoEncoder",
    "ConvNet",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DeepMLP",
    "DenoisingAutoEncoder",
    "FastRCNN",
    "FasterRCNN",
    "LeNet5",
    "LocalisationNet",
    "LogisticRegression",
    "MLPDiscriminator",
    "MLPGenerator",
    "Seq2Seq",
    "SmallCNN",
    "SourceCNN",
    "WeightsUnavailableError",
    "count_parameters",
    "gaussian_init_",
    "layer_gradient_norms",
    "pretrained",
    "weights_available",
]


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
