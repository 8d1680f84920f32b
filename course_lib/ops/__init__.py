"""Functional tensor operations: windows and integral images, boxes, spatial transforms, CAM, receptive fields.
"""

from .boxes import boxes_to_masks, class_box_masks, ink_boxes, map_to_box, upsample_maps, window_indices
from .cam import class_activation_maps
from .receptive_field import (
    ReceptiveField,
    analytic_receptive_field,
    conv_output_size,
    conv_stack,
    empirical_receptive_field,
    lecture_pool_output_size,
    minimal_input_size,
    pool_output_size,
    receptive_field_growth,
    same_padding,
)
from .spatial import make_theta, transform
from .windows import box_features, box_sums, crop_boxes, integral_image, num_windows, sliding_windows, square_boxes, window_boxes

__all__ = [
    "ReceptiveField",
    "analytic_receptive_field",
    "box_features",
    "box_sums",
    "boxes_to_masks",
    "class_activation_maps",
    "class_box_masks",
    "conv_output_size",
    "conv_stack",
    "crop_boxes",
    "empirical_receptive_field",
    "ink_boxes",
    "integral_image",
    "lecture_pool_output_size",
    "make_theta",
    "map_to_box",
    "minimal_input_size",
    "num_windows",
    "pool_output_size",
    "receptive_field_growth",
    "same_padding",
    "sliding_windows",
    "square_boxes",
    "transform",
    "upsample_maps",
    "window_boxes",
    "window_indices",
]
