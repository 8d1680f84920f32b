"""The classic networks of the history lectures: logistic regression, MLPs, LeNet-5, AlexNet, small CNNs, a multiscale DAG."""

from ...layers.activations import ACTIVATIONS  # re-exported: the names the models accept as ``activation``
from .alexnet import ABLATIONS, GROUPED, HALF, IMAGENET, LAYERS, PAPER_LRN_ALPHA, SMALL, AlexNet, AlexNetSpec
from .dag_cnn import DAGCNN
from .deep_mlp import DeepMLP, layer_gradient_norms, signal_gradient_norms
from .lenet import MNIST_BACKGROUND, LeNet5, ScaledTanh, SparseConv2d, Subsampling
from .linear import MLP, LogisticRegression
from .small_cnn import SmallCNN, gaussian_init_

__all__ = [
    "ABLATIONS",
    "ACTIVATIONS",
    "DAGCNN",
    "GROUPED",
    "HALF",
    "IMAGENET",
    "LAYERS",
    "MLP",
    "MNIST_BACKGROUND",
    "PAPER_LRN_ALPHA",
    "SMALL",
    "AlexNet",
    "AlexNetSpec",
    "DeepMLP",
    "LeNet5",
    "LogisticRegression",
    "ScaledTanh",
    "SmallCNN",
    "SparseConv2d",
    "Subsampling",
    "gaussian_init_",
    "layer_gradient_norms",
    "signal_gradient_norms",
]
