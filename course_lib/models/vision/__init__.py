"""Networks for localization and transfer: FCN with pluggable pooling, spatial transformer, the transfer source CNN.
"""

from .fcn import FCN
from .source_cnn import PROBE_LAYERS, SourceCNN
from .stn import STN, ConvNet, LocalisationNet

__all__ = [
    "FCN",
    "PROBE_LAYERS",
    "STN",
    "ConvNet",
    "LocalisationNet",
    "SourceCNN",
]
