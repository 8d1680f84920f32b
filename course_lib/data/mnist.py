"""Real datasets: MNIST (through torchvision) and scikit-learn's handwritten digits."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..config import data_dir

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class MissingDataError(FileNotFoundError):
    """A dataset's files are not where the course looks for them (and could not be downloaded)."""


def _missing_mnist_files(root: Path) -> list[Path]:
    raw = root / "MNIST" / "raw"
    return [raw / f for f in MNIST_FILES if not (raw / f).exists()]


def _missing_message(root: Path, missing: list[Path], reason: str = "") -> str:
    names = "\n".join(f"  - {p}" for p in missing)
    return (
        f"MNIST files are missing under {root}:\n{names}\n"
        f"{reason}"
        "How to get them:\n"
        "  * online: call load_mnist(download=True) (torchvision downloads them into that folder), or\n"
        f"    python -c \"import torchvision; torchvision.datasets.MNIST(r'{root}', download=True)\"\n"
        "  * offline: copy the four uncompressed files (or their .gz) into "
        f"{root / 'MNIST' / 'raw'}, or point COURSE_DATA_DIR at a folder that has MNIST/raw/ "
        "(in this course's CI: ../shared/data)."
    )


def load_mnist(
    train: bool = True,
    *,
    root: str | Path | None = None,
    download: bool = False,
    normalize: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[Tensor, Tensor]:
    """MNIST as whole tensors, loaded with ``torchvision.datasets.MNIST``.

    Args:
        train: the 60,000 training digits, else the 10,000 test digits.
        root: dataset root (default ``COURSE_DATA_DIR``); torchvision's layout ``root/MNIST/raw``.
        download: let torchvision download missing files (needs internet).
        normalize: standardize with the training mean/std (0.1307, 0.3081); else scale to [0, 1].
        device: where the tensors live (the whole set fits on any GPU: 188 MB as float32).

    Returns:
        ``x`` of shape ``Tensor[N, 1, 28, 28]`` (float32) and ``y`` of shape ``Tensor[N]`` (int64).

    Raises:
        MissingDataError: files are missing and were not (or could not be) downloaded; the
            message names the files, the folder, and how to get them.
    """
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else data_dir()
    missing = _missing_mnist_files(root)
    if missing and not download:
        raise MissingDataError(_missing_message(root, missing))
    try:
        ds = MNIST(str(root), train=train, download=download and bool(missing))
    except Exception as err:  # network errors, checksum errors, read-only folders...
        raise MissingDataError(
            _missing_message(root, _missing_mnist_files(root), f"The download failed: {err}\n")
        ) from err
    x = ds.data.unsqueeze(1).to(device=device, dtype=torch.float32).div_(255.0)  # (N, 1, 28, 28)
    if normalize:
        x = (x - MNIST_MEAN) / MNIST_STD
    return x, ds.targets.to(device=device, dtype=torch.int64)


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
