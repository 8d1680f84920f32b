"""Pipelines that are not networks: bag of visual words, the attentional cascade, transfer strategies.
"""

from .bag_of_words import BagOfVisualWords, extract_patches
from .cascade import cascade_keep, fit_cascade, propose, training_windows
from .transfer import StrategyResult, bag_of_words, extraction, linear_probe, train_and_test, transfer_gain

__all__ = [
    "BagOfVisualWords",
    "StrategyResult",
    "bag_of_words",
    "cascade_keep",
    "extract_patches",
    "extraction",
    "fit_cascade",
    "linear_probe",
    "propose",
    "train_and_test",
    "training_windows",
    "transfer_gain",
]
