"""Datasets: real (MNIST, scikit-learn digits), loaders and device-side augmentation."""

from .augment import RandomDistortion, affine, elastic
from .cluttered import ClutteredMNIST, make_cluttered_mnist
from .crop import RandomCrop, random_crop
from .loader import DeviceLoader, subset_per_class
from .mnist import MNIST_MEAN, MNIST_STD, MissingDataError, load_digits, load_mnist
from .scenes import DigitScenes, make_digit_scenes, veto_labels
from .targets import TargetTask, easy_vqa_shapes, mnist_classes, mnist_heldout, sklearn_digits
from .transformed import RTSClutteredMNIST, make_rts_cluttered_mnist, place_on_canvas

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
