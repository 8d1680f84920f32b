"""Metrics: classification, iterations to a target error, weak localization, detection, segmentation, tracking
(thin wrappers where a library has them)."""

from .classification import accuracy, error_rate
from .detection import detection_map
from .divergence import game_value, jensen_shannon, optimal_discriminator
from .error_curve import ErrorCurve, iterations_to_target
from .generative import compute_features, feature_frechet_distance, frechet_distance, frechet_distance_gaussians
from .localization import best_box_iou, pointing_game, positive_mass_share, weak_localization
from .repeats import mean_sd
from .segmentation import boundary_accuracy, boundary_band, mean_iou, pixel_accuracy
from .tracking import success_auc, success_curve, tracking_iou

__all__ = [
    "ErrorCurve",
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
    "game_value",
    "iterations_to_target",
    "jensen_shannon",
    "mean_iou",
    "mean_sd",
    "optimal_discriminator",
    "pixel_accuracy",
    "pointing_game",
    "positive_mass_share",
    "success_auc",
    "success_curve",
    "tracking_iou",
    "weak_localization",
]
