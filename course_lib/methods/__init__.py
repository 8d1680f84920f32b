"""Pipelines that are not networks: bag of visual words, proposals, AdaBoost and the cascade, transfer strategies,
GAN training, template tracking."""

from .adversarial import AdversariallyTrained, Normalize, fgsm, input_gradient, pgd, project_linf, robust_accuracy
from .bag_of_words import BagOfVisualWords, extract_patches
from .boosting import Stumps, adaboost, fit_stump
from .cascade import BoostedCascade, cascade_keep, fit_boosted_cascade, fit_cascade
from .gan_training import GANHistory, SplitBatch, train_gan
from .generalization import RademacherEstimate, empirical_rademacher, rademacher_correlation, random_signs
from .proposals import propose, training_windows
from .tracking import track
from .transfer import StrategyResult, bag_of_words, extraction, linear_probe, train_and_test, transfer_gain

__all__ = [
    "AdversariallyTrained",
    "BagOfVisualWords",
    "BoostedCascade",
    "GANHistory",
    "Normalize",
    "RademacherEstimate",
    "SplitBatch",
    "StrategyResult",
    "Stumps",
    "adaboost",
    "bag_of_words",
    "cascade_keep",
    "empirical_rademacher",
    "extract_patches",
    "extraction",
    "fgsm",
    "fit_boosted_cascade",
    "fit_cascade",
    "fit_stump",
    "input_gradient",
    "linear_probe",
    "pgd",
    "project_linf",
    "propose",
    "rademacher_correlation",
    "random_signs",
    "robust_accuracy",
    "track",
    "train_and_test",
    "train_gan",
    "training_windows",
    "transfer_gain",
]
