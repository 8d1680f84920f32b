"""Networks for localization and transfer: FCN with pluggable pooling, spatial transformer, the transfer source CNN.
"""

from .fast_rcnn import RCNN, BoxHead, FasterRCNN, FastRCNN
from .fcn import FCN
from .heatmap import HeatmapDetector
from .rpn import RPN
from .source_cnn import PROBE_LAYERS, SourceCNN
from .stn import STN, ConvNet, LocalisationNet

__all__ = [
    "FCN",
    "PROBE_LAYERS",
    "RCNN",
    "RPN",
    "STN",
    "BoxHead",
    "ConvNet",
    "FastRCNN",
    "FasterRCNN",
    "HeatmapDetector",
    "LocalisationNet",
    "SourceCNN",
]
