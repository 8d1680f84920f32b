"""Class activation maps (Zhou et al. 2016, "Learning deep features for discriminative localization").

RCP209 (N. Thome), *Localization / Alignment*: with global average pooling (GAP) followed by a linear layer,
the score of class ``c`` is ``s_c = sum_d w_cd * mean_xy f_d(x, y) + b_c = mean_xy M_c(x, y) + b_c`` where
``M_c(x, y) = sum_d w_cd f_d(x, y)`` is the class activation map: the linear layer applied at every position.
Upsampled to the image, it shows which regions the prediction comes from.

Zhou et al. 2016, section 3, turn a CAM into a box: keep the pixels above 20% of the map's maximum, then the box
around the *largest connected component*. :func:`largest_component` is that second step;
:func:`course_lib.ops.map_to_box` with ``largest_component=True`` is the whole recipe.
"""

from __future__ import annotations

import numpy as np
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


def largest_component(mask: Tensor, connectivity: int = 8) -> Tensor:
    """The largest connected component of each mask: ``Tensor[P, H, W]`` bool -> ``Tensor[P, H, W]`` bool.

    Ties go to the component met first in raster order; an empty mask stays empty. Labelling runs per map on the
    CPU with ``scipy.ndimage.label`` (a C loop, about 0.1 ms per 48x48 map): vectorized label propagation in
    torch needs as many steps as the longest path inside a component, and is slower here by two orders of magnitude.

    Args:
        mask: ``Tensor[P, H, W]`` bool.
        connectivity: 8 (diagonal neighbours touch, MATLAB's ``bwlabel`` default) or 4 (scipy's default).
    """
    if mask.dim() != 3 or connectivity not in (4, 8):
        raise ValueError(
            f"expected masks (P, H, W) and connectivity 4 or 8, got {tuple(mask.shape)} and {connectivity}"
        )
    from scipy import ndimage

    m = mask.detach().bool().cpu().numpy()
    out = np.zeros_like(m)
    structure = np.ones((3, 3), dtype=bool) if connectivity == 8 else None
    for i in range(len(m)):  # one C call per map
        lab, n = ndimage.label(m[i], structure=structure)
        if n:
            out[i] = lab == np.bincount(lab.ravel())[1:].argmax() + 1  # first maximum: the earliest component
    return torch.from_numpy(out).to(mask.device)
