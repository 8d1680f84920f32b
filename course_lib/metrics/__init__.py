"""Metrics: classification, weak localization and detection (thin wrappers where a library has them)."""

from .classification import accuracy, error_rate
from .detection import detection_map
from .generative import compute_features, feature_frechet_distance, frechet_distance, frechet_distance_gaussians
from .localization import best_box_iou, pointing_game, positive_mass_share, weak_localization
from .repeats import mean_sd
from .segmentation import boundary_accuracy, boundary_band, mean_iou, pixel_accuracy
from .tracking import success_auc, success_curve, tracking_iou

__all__ = [
    "accuracy",
    "best_box_iou",
    "boundary_accuracy",
    "boundary_band",
    "compute_features",
    "detection_map",
    "error_rate",
    "feature_frechet_distance",
    "frechet_distance",
    "frechet_distance_gaussians",
    "mean_iou",
    "mean_sd",
    "pixel_accuracy",
    "pointing_game",
    "positive_mass_share",
    "success_auc",
    "success_curve",
    "tracking_iou",
    "weak_localization",
]
