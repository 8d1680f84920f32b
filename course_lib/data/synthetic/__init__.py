"""Datasets derived from MNIST by seeded, vectorized code on the device.
"""

from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .scenes import DigitScenes, make_digit_scenes, veto_labels
from .transformed import RTSClutteredMNIST, make_rts_cluttered_mnist, place_on_canvas

__all__ = [
    "ClutteredMNIST",
    "DigitScenes",
    "RTSClutteredMNIST",
    "make_cluttered_mnist",
    "make_digit_scenes",
    "make_rts_cluttered_mnist",
    "place_on_canvas",
    "veto_labels",
]
