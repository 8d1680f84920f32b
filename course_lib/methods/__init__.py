"""Pipelines that are not networks: bag of visual words, the attentional cascade, transfer strategies.
"""

from .adversarial import AdversariallyTrained, Normalize, fgsm, input_gradient, pgd, project_linf, robust_accuracy
from .bag_of_words import BagOfVisualWords, extract_patches
from .cascade import cascade_keep, fit_cascade, propose, training_windows
from .generalization import RademacherEstimate, empirical_rademacher, rademacher_correlation, random_signs
from .transfer import StrategyResult, bag_of_words, extraction, linear_probe, train_and_test, transfer_gain

__all__ = [
    "AdversariallyTrained",
    "BagOfVisualWords",
    "Normalize",
    "RademacherEstimate",
    "StrategyResult",
    "bag_of_words",
    "cascade_keep",
    "empirical_rademacher",
    "extract_patches",
    "extraction",
    "fgsm",
    "fit_cascade",
    "input_gradient",
    "linear_probe",
    "pgd",
    "project_linf",
    "propose",
    "rademacher_correlation",
    "random_signs",
    "robust_accuracy",
    "train_and_test",
    "training_windows",
    "transfer_gain",
]
