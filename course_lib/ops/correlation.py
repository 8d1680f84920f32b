"""Template matching as tensor operations: cross-correlation of each template with its own search map, and minus
the sum of squared differences (the raw-pixel baseline).

Lecture: UvA "Tracking". SiamFC (Bertinetto et al. 2016, "Fully-Convolutional Siamese Networks for Object
Tracking"): the matching of the template's embedding at every position of the frame's embedding, ``f(z) ⋆ f(x)``,
is one cross-correlation; for a batch of (template, search) pairs it is one grouped convolution, group ``b``
seeing pair ``b`` only. The tracker that uses these scores is :func:`course_lib.methods.tracking.track`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cross_correlation(template: Tensor, search: Tensor) -> Tensor:
    """Each template slid over its own search map (SiamFC's ``f(z) ⋆ f(x)``), as one grouped convolution.

    ``template`` ``Tensor[B, C, h, w]``, ``search`` ``Tensor[B, C, H, W]`` -> ``Tensor[B, 1, H - h + 1, W - w + 1]``:
    ``out[b, 0, u, v] = Σ_{c,i,j} template[b, c, i, j] search[b, c, u + i, v + j]``.
    """
    if template.dim() != 4 or search.dim() != 4 or template.shape[:2] != search.shape[:2]:
        raise ValueError(f"expected (B, C, h, w) and (B, C, H, W), got {tuple(template.shape)}, {tuple(search.shape)}")
    b, c, h, w = search.shape
    out = F.conv2d(search.reshape(1, b * c, h, w), template, groups=b)  # (1, B, H', W'): group b sees search b
    return out.view(b, 1, *out.shape[-2:])


def ssd_scores(template: Tensor, search: Tensor) -> Tensor:
    """Minus the sum of squared differences of each template with every window of its search map (higher is
    better): ``-||T||² + 2 T ⋆ S - Σ_window S²``; shapes as :func:`cross_correlation`."""
    xcorr = cross_correlation(template, search)  # checks the shapes
    ones = torch.ones_like(template[:1, :1]).expand(1, template.shape[1], -1, -1)
    window_energy = F.conv2d(search.square(), ones)  # (B, 1, H', W')
    t_energy = template.square().sum((1, 2, 3)).view(-1, 1, 1, 1)
    return 2 * xcorr - window_energy - t_energy
