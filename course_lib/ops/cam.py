"""Class activation maps (Zhou et al. 2016, "Learning deep features for discriminative localization").

RCP209 (N. Thome), *Localization / Alignment*: with global average pooling (GAP) followed by a linear layer,
the score of class ``c`` is ``s_c = sum_d w_cd * mean_xy f_d(x, y) + b_c = mean_xy M_c(x, y) + b_c`` where
``M_c(x, y) = sum_d w_cd f_d(x, y)`` is the class activation map: the linear layer applied at every position.
Upsampled to the image, it shows which regions the prediction comes from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def class_activation_maps(
    features: Tensor, weight: Tensor, bias: Tensor | None = None, *, size: tuple[int, int] | None = None
) -> Tensor:
    """CAMs ``M_c = sum_d w_cd f_d`` (+ ``b_c`` if given) from the last conv features and the linear layer after GAP.

    Args:
        features: ``Tensor[B, D, h, w]``, the feature maps that GAP averages.
        weight: the linear layer's weight ``Tensor[C, D]`` (or a 1x1 conv's ``Tensor[C, D, 1, 1]``).
        bias: optional ``Tensor[C]`` added to every position (then ``mean_xy CAM`` equals the logit).
        size: ``(H, W)`` to upsample to (bilinear), e.g. the image size; ``None`` keeps ``(h, w)``.

    Returns:
        ``Tensor[B, C, H, W]``.
    """
    if features.dim() != 4:
        raise ValueError(f"expected features (B, D, h, w), got shape {tuple(features.shape)}")
    w = weight.flatten(1) if weight.dim() == 4 else weight
    if w.dim() != 2 or w.shape[1] != features.shape[1]:
        raise ValueError(f"weight {tuple(weight.shape)} does not match the {features.shape[1]} feature channels")
    cam = torch.einsum("cd,bdhw->bchw", w, features)
    if bias is not None:
        cam = cam + bias.view(1, -1, 1, 1)
    if size is not None and tuple(size) != tuple(cam.shape[-2:]):
        cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
    return cam
