"""Datasets derived from MNIST by seeded, vectorized code on the device.
"""

from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .scenes import DigitScenes, make_digit_scenes, veto_labels
from .sequences import ADDING_BASELINE_MSE, DateTranslation, adding_problem, copy_task, date_translation
from .transformed import RTSClutteredMNIST, make_rts_cluttered_mnist, place_on_canvas

__all__ = [
    "ADDING_BASELINE_MSE",
    "ClutteredMNIST",
    "DateTranslation",
    "DigitScenes",
    "RTSClutteredMNIST",
    "adding_problem",
    "copy_task",
    "date_translation",
    "make_cluttered_mnist",
    "make_digit_scenes",
    "make_rts_cluttered_mnist",
    "place_on_canvas",
    "veto_labels",
]
