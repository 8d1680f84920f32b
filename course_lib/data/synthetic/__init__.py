"""Datasets derived from MNIST by seeded, vectorized code on the device.
"""

from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .corruption import corrupt_labels, gaussian_like, random_pixels, shuffle_pixels
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
    "corrupt_labels",
    "date_translation",
    "gaussian_like",
    "make_cluttered_mnist",
    "make_digit_scenes",
    "make_rts_cluttered_mnist",
    "place_on_canvas",
    "random_pixels",
    "shuffle_pixels",
    "veto_labels",
]
