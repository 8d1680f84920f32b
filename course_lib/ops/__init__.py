"""Functional tensor operations: windows and integral images, boxes on the pixel canvas, detection boxes, spatial
transforms, CAM, receptive fields, ROI pooling and ROI Align, template matching (cross-correlation), losses.
"""

from .boxes import (
    BACKGROUND,
    IGNORED,
    anchor_grid,
    base_anchors,
    decode_boxes,
    encode_boxes,
    match_anchors,
    non_max_suppression,
)
from .cam import class_activation_maps
from .canvas import boxes_to_masks, class_box_masks, crop_patches, ink_boxes, map_to_box, upsample_maps, window_indices
from .correlation import cross_correlation, ssd_scores
from .crf import EXACT_MAX_PIXELS, crf_energy, crf_messages, dense_crf, mean_field_free_energy, mean_field_step, potts
from .heatmaps import centre_loss, centre_targets, decode_centres, gaussian_radius, heatmap_focal_loss, heatmap_peaks
from .losses import contrastive_loss, sequence_cross_entropy
from .receptive_field import (
    ReceptiveField,
    analytic_receptive_field,
    conv_output_size,
    conv_stack,
    empirical_receptive_field,
    lecture_pool_output_size,
    minimal_input_size,
    module_receptive_fields,
    pool_output_size,
    receptive_field_growth,
    same_padding,
)
from .roi import as_rois, roi_align, roi_pool
from .spatial import make_theta, transform
from .windows import (
    box_features,
    box_sums,
    crop_boxes,
    integral_image,
    num_windows,
    sliding_windows,
    square_boxes,
    window_boxes,
)

__all__ = [
    "BACKGROUND",
    "EXACT_MAX_PIXELS",
    "IGNORED",
    "ReceptiveField",
    "analytic_receptive_field",
    "anchor_grid",
    "as_rois",
    "base_anchors",
    "box_features",
    "box_sums",
    "boxes_to_masks",
    "centre_loss",
    "centre_targets",
    "class_activation_maps",
    "class_box_masks",
    "contrastive_loss",
    "conv_output_size",
    "conv_stack",
    "crf_energy",
    "crf_messages",
    "crop_boxes",
    "crop_patches",
    "cross_correlation",
    "decode_boxes",
    "decode_centres",
    "dense_crf",
    "empirical_receptive_field",
    "encode_boxes",
    "gaussian_radius",
    "heatmap_focal_loss",
    "heatmap_peaks",
    "ink_boxes",
    "integral_image",
    "lecture_pool_output_size",
    "make_theta",
    "map_to_box",
    "match_anchors",
    "mean_field_free_energy",
    "mean_field_step",
    "minimal_input_size",
    "module_receptive_fields",
    "non_max_suppression",
    "num_windows",
    "pool_output_size",
    "potts",
    "receptive_field_growth",
    "roi_align",
    "roi_pool",
    "same_padding",
    "sequence_cross_entropy",
    "sliding_windows",
    "square_boxes",
    "ssd_scores",
    "transform",
    "upsample_maps",
    "window_boxes",
    "window_indices",
]
