"""Layers whose implementation is the lesson, each pinned by tests against a reference.

Pure functions plus thin ``nn.Module`` wrappers (the torchvision ops style); each docstring
cites the paper and the lecture that introduce it.
"""

from .activations import (
    ACTIVATIONS,
    ELU,
    LeakyReLU,
    PReLU,
    ReLU,
    RReLU,
    elu,
    leaky_relu,
    make_activation,
    prelu,
    relu,
    rrelu,
)
from .dropout import Dropout, all_masks, dropout, geometric_mean_softmax, mask_probabilities
from .pooling import (
    ClassWisePool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    LSEPool2d,
    WeldonPool2d,
    WildcatPool2d,
    class_wise_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    lse_pool2d,
    resolve_k,
    weldon_pool2d,
    wildcat_pool2d,
)
from .roi import RoIAlign, RoIPool

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "ClassWisePool2d",
    "Dropout",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "LSEPool2d",
    "LeakyReLU",
    "PReLU",
    "RReLU",
    "ReLU",
    "RoIAlign",
    "RoIPool",
    "WeldonPool2d",
    "WildcatPool2d",
    "all_masks",
    "class_wise_pool2d",
    "dropout",
    "elu",
    "geometric_mean_softmax",
    "global_avg_pool2d",
    "global_max_pool2d",
    "leaky_relu",
    "lse_pool2d",
    "make_activation",
    "mask_probabilities",
    "prelu",
    "relu",
    "resolve_k",
    "rrelu",
    "weldon_pool2d",
    "wildcat_pool2d",
]
