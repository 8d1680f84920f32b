"""Datasets derived from MNIST by seeded, vectorized code on the device."""

from .captions import CaptionedScenes, make_captioned_scenes
from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .corruption import corrupt_labels, gaussian_like, random_pixels, shuffle_pixels
from .mixtures import gaussian_mixture, mixture_centers, mixture_log_density, mode_coverage
from .moving_mnist import MovingMNIST, bounce, make_moving_mnist
from .scenes import DigitScenes, make_digit_scenes, veto_labels
from .sequences import ADDING_BASELINE_MSE, DateTranslation, adding_problem, copy_task, date_translation
from .transformed import RTSClutteredMNIST, make_rts_cluttered_mnist, place_on_canvas

__all__ = [
    "ADDING_BASELINE_MSE",
    "CaptionedScenes",
    "ClutteredMNIST",
    "DateTranslation",
    "DigitScenes",
    "MovingMNIST",
    "RTSClutteredMNIST",
    "adding_problem",
    "bounce",
    "copy_task",
    "corrupt_labels",
    "date_translation",
    "gaussian_like",
    "gaussian_mixture",
    "make_captioned_scenes",
    "make_cluttered_mnist",
    "make_digit_scenes",
    "make_moving_mnist",
    "make_rts_cluttered_mnist",
    "mixture_centers",
    "mixture_log_density",
    "mode_coverage",
    "place_on_canvas",
    "random_pixels",
    "shuffle_pixels",
    "veto_labels",
]
