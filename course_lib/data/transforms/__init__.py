"""Batch transforms on the device: distortions (affine, elastic) and random crops."""

from .augment import RandomDistortion, affine, elastic, gaussian_blur_matrix
from .crop import RandomCrop, random_crop

__all__ = [
    "RandomCrop",
    "RandomDistortion",
    "affine",
    "elastic",
    "gaussian_blur_matrix",
    "random_crop",
]
