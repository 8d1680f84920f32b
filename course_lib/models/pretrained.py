"""torchvision's ImageNet-pretrained models, loaded only when their weights really are there.

Lecture: STA211 (Thome), "Transferring representations learned from ImageNet": the source network of the
lecture's tables is an ImageNet model (VGG16, ResNet). ``torchvision.models.get_model(name, weights=...)``
downloads the weights into ``$TORCH_HOME/hub/checkpoints`` the first time. Offline (this course's CI) the
download is impossible, and a model built with ``weights=None`` would silently be *untrained*: ``pretrained``
never does that; it raises :class:`WeightsUnavailableError` saying how to get the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither in the torch hub cache nor downloadable (offline, or downloads disallowed)."""


def weights_enum(name: str, weights: str = "DEFAULT"):
    """torchvision's weights entry for model ``name``, e.g. ``weights_enum("resnet18")`` -> ``ResNet18_Weights.IMAGENET1K_V1``.

    Raises:
        ValueError: unknown model name or weights name (the message lists the valid ones).
    """
    import torchvision.models as tvm

    if name not in tvm.list_models():
        raise ValueError(f"unknown torchvision model {name!r}; e.g. {tvm.list_models()[:8]}...")
    enum = tvm.get_model_weights(name)
    try:
        return enum[weights]
    except KeyError:
        raise ValueError(f"{name} has no weights {weights!r}; it has {['DEFAULT', *enum.__members__]}") from None


def weights_path(name: str, weights: str = "DEFAULT") -> Path:
    """Where torch hub caches these weights: ``$TORCH_HOME/hub/checkpoints/<file name of the URL>``."""
    url = weights_enum(name, weights).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def weights_available(name: str, weights: str = "DEFAULT") -> bool:
    """True when the weights file is already in the torch hub cache (no network needed)."""
    return weights_path(name, weights).is_file()


def how_to_get_weights(name: str, weights: str = "DEFAULT") -> str:
    """A message saying where the weights file must be and the two ways to put it there."""
    w = weights_enum(name, weights)
    path = weights_path(name, weights)
    return (
        f"The weights {type(w).__name__}.{w.name} of torchvision's {name} are not in {path.parent}.\n"
        "How to get them:\n"
        f"  * online: pretrained({name!r}) downloads them there, or run\n"
        f'    python -c "import torchvision; torchvision.models.get_model({name!r}, weights={weights!r})"\n'
        f"  * offline: copy {path.name} (from {w.url}) into {path.parent}, or point TORCH_HOME at a folder "
        "whose hub/checkpoints/ holds it."
    )


def pretrained(
    name: str = "resnet18", weights: str = "DEFAULT", *, allow_download: bool = True, progress: bool = False
) -> nn.Module:
    """A torchvision model with its pretrained weights, e.g. ``pretrained("resnet18")`` (``ResNet18_Weights.DEFAULT``).

    Args:
        name: a torchvision model name (``torchvision.models.list_models()``).
        weights: a member of the model's weights enum (``"DEFAULT"``, ``"IMAGENET1K_V1"``...).
        allow_download: when the file is not cached, let torchvision download it (needs internet).
        progress: show the download's progress bar.

    Returns:
        The model in eval mode, with the weights loaded. Its preprocessing is ``weights_enum(name).transforms()``.

    Raises:
        WeightsUnavailableError: the weights are not cached and downloading is disallowed or failed;
            the message says where the file must be and how to get it. Never returns an untrained model.
    """
    import torchvision.models as tvm

    w = weights_enum(name, weights)
    if not weights_available(name, weights):
        if not allow_download:
            raise WeightsUnavailableError(
                how_to_get_weights(name, weights) + "\n(downloads disallowed: allow_download=False)"
            )
        try:
            torch.hub.load_state_dict_from_url(w.url, progress=progress, check_hash=True)
        except Exception as err:  # no network, proxy, checksum, read-only cache...
            raise WeightsUnavailableError(how_to_get_weights(name, weights) + f"\nThe download failed: {err}") from err
    return tvm.get_model(name, weights=w).eval()
