"""Datasets: real (MNIST, scikit-learn digits), loaders and device-side augmentation."""

from .augment import RandomDistortion, affine, elastic
from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .loader import DeviceLoader, subset_per_class
from .mnist import MNIST_MEAN, MNIST_STD, MissingDataError, load_digits, load_mnist

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "ClutteredMNIST",
    "DeviceLoader",
    "MissingDataError",
    "RandomDistortion",
    "affine",
    "elastic",
    "load_digits",
    "load_mnist",
    "make_cluttered_mnist",
    "subset_per_class",
]
