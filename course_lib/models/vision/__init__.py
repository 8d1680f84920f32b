"""Networks for localization and transfer: FCN with pluggable pooling, spatial transformer, the transfer source CNN."""

from .fast_rcnn import RCNN, BoxHead, FasterRCNN, FastRCNN
from .fcn import FCN
from .heatmap import HeatmapDetector
from .rpn import RPN
from .segmentation import (
    Backbone,
    DilatedSegmenter,
    FCNSegmenter,
    HypercolumnSegmenter,
    bilinear_kernel,
    bilinear_upsampler,
    convolutionalize,
    hypercolumns,
    linear_to_conv,
)
from .siamese import SiameseEmbedding, SiamesePairs
from .source_cnn import PROBE_LAYERS, SourceCNN
from .stn import STN, ConvNet, LocalisationNet

__all__ = [
    "FCN",
    "PROBE_LAYERS",
    "RCNN",
    "RPN",
    "STN",
    "Backbone",
    "BoxHead",
    "ConvNet",
    "DilatedSegmenter",
    "FCNSegmenter",
    "FastRCNN",
    "FasterRCNN",
    "HeatmapDetector",
    "HypercolumnSegmenter",
    "LocalisationNet",
    "SiameseEmbedding",
    "SiamesePairs",
    "SourceCNN",
    "bilinear_kernel",
    "bilinear_upsampler",
    "convolutionalize",
    "hypercolumns",
    "linear_to_conv",
]
