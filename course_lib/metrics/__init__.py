"""Metrics: classification and weak localization (thin wrappers where a library has them).
"""

from .classification import accuracy, error_rate
from .localization import best_box_iou, pointing_game, positive_mass_share, weak_localization

__all__ = [
    "accuracy",
    "best_box_iou",
    "error_rate",
    "pointing_game",
    "positive_mass_share",
    "weak_localization",
]
