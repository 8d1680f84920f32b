"""MNIST (LeCun, Cortes & Burges 1998), shipped in the repository's ``data/MNIST/raw/`` as gzipped IDX files."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ...config import data_dir
from .files import MissingDataError, read_shipped

MNIST_MEAN = 0.1307  # training-set pixel mean and std (data/README.md)
MNIST_STD = 0.3081
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _read_idx(data: bytes) -> Tensor:
    """An IDX array (LeCun's MNIST format: magic, dimension sizes, then uint8 values) as a uint8 tensor."""
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).view(*shape)


def load_mnist(
    train: bool = True,
    *,
    root: str | Path | None = None,
    download: bool = False,
    normalize: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[Tensor, Tensor]:
    """MNIST as whole tensors, read from the files the repository ships in ``data/MNIST/raw/`` (gz).

    Args:
        train: the 60,000 training digits, else the 10,000 test digits.
        root: dataset root (default ``COURSE_DATA_DIR``, else the repository's ``data/``); torchvision's
            layout ``root/MNIST/raw/<file>[.gz]``.
        download: when a file is missing, let torchvision download MNIST into ``root`` (needs internet).
        normalize: standardize with the training mean/std (0.1307, 0.3081); else scale to [0, 1].
        device: where the tensors live (the whole set fits on any GPU: 188 MB as float32).

    Returns:
        ``x`` of shape ``Tensor[N, 1, 28, 28]`` (float32) and ``y`` of shape ``Tensor[N]`` (int64).

    Raises:
        MissingDataError: a file is missing or its checksum is wrong; the message names the file, the
            expected sha256 and how to restore it (``git checkout data/``).
    """
    root = Path(root) if root is not None else data_dir()
    split = "train" if train else "t10k"
    names = [f"MNIST/raw/{split}-images-idx3-ubyte", f"MNIST/raw/{split}-labels-idx1-ubyte"]
    try:
        images, labels = (_read_idx(read_shipped(n, root)) for n in names)
    except MissingDataError:
        if not download:
            raise
        from torchvision.datasets import MNIST

        MNIST(str(root), train=train, download=True)  # lands in root/MNIST/raw (gz and uncompressed)
        images, labels = (_read_idx(read_shipped(n, root)) for n in names)
    x = images.unsqueeze(1).to(device=device, dtype=torch.float32).div_(255.0)  # (N, 1, 28, 28)
    if normalize:
        x = (x - MNIST_MEAN) / MNIST_STD
    return x, labels.to(device=device, dtype=torch.int64)
