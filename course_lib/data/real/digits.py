"""scikit-learn's handwritten digits (UCI optdigits), shipped inside scikit-learn."""

from __future__ import annotations

import torch
from torch import Tensor


def load_digits(device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """scikit-learn's handwritten digits (1,797 images of 8x8, 16 grey levels; UCI optdigits test set).

    A second real digit dataset, from other writers and another acquisition than MNIST; it ships
    with scikit-learn, so it is always available offline.

    Returns:
        ``x`` of shape ``Tensor[1797, 1, 8, 8]`` in [0, 1] and ``y`` of shape ``Tensor[1797]``.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    ds = sk_load_digits()
    x = torch.as_tensor(ds.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    return x.to(device), torch.as_tensor(ds.target, dtype=torch.int64).to(device)
