"""Datasets: ``real`` (shipped MNIST, packaged digits), ``synthetic`` (derived from MNIST), loaders, ``transforms``."""

from .loader import DeviceLoader, subset_per_class
from .real import MNIST_MEAN, MNIST_STD, MissingDataError, load_digits, load_mnist, load_shakespeare
from .synthetic import (
    ClutteredMNIST,
    DigitScenes,
    RTSClutteredMNIST,
    make_cluttered_mnist,
    make_digit_scenes,
    make_rts_cluttered_mnist,
    place_on_canvas,
    veto_labels,
)
from .targets import TargetTask, easy_vqa_shapes, mnist_classes, mnist_heldout, sklearn_digits
from .transforms import RandomCrop, RandomDistortion, affine, elastic, random_crop

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "ClutteredMNIST",
    "DeviceLoader",
    "DigitScenes",
    "MissingDataError",
    "RTSClutteredMNIST",
    "RandomCrop",
    "RandomDistortion",
    "TargetTask",
    "affine",
    "easy_vqa_shapes",
    "elastic",
    "load_digits",
    "load_mnist",
    "load_shakespeare",
    "make_cluttered_mnist",
    "make_digit_scenes",
    "make_rts_cluttered_mnist",
    "mnist_classes",
    "mnist_heldout",
    "place_on_canvas",
    "random_crop",
    "sklearn_digits",
    "subset_per_class",
    "veto_labels",
]
