"""Metrics: classification, weak localization and detection (thin wrappers where a library has them).
"""

from .classification import accuracy, error_rate
from .detection import detection_map
from .localization import best_box_iou, pointing_game, positive_mass_share, weak_localization
from .repeats import mean_sd

__all__ = [
    "accuracy",
    "best_box_iou",
    "detection_map",
    "error_rate",
    "mean_sd",
    "pointing_game",
    "positive_mass_share",
    "weak_localization",
]
