"""Class maps drawn over their images (class activation maps, Zhou et al. 2016; RCP209, *Localization / Alignment*)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def show_cam(
    image: Tensor,
    cam: Tensor,
    *,
    ax=None,
    alpha: float = 0.5,
    cmap: str = "jet",
    title: str | None = None,
    boxes: Tensor | None = None,
    normalize: bool = True,
):
    """Overlay a class map on an image (the map is upsampled to the image and min-max scaled when ``normalize``).

    Args:
        image: ``Tensor[1, H, W]`` or ``Tensor[H, W]``.
        cam: ``Tensor[h, w]`` (any resolution).
        ax: a matplotlib Axes (default: a new figure).
        alpha: opacity of the map.
        boxes: optional ``Tensor[K, 4]`` (x1, y1, x2, y2) drawn as rectangles (e.g. the class's ground truth).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    img = image.detach().float().cpu()
    img = img[0] if img.dim() == 3 else img
    if img.dim() != 2 or cam.dim() != 2:
        raise ValueError(
            f"expected an image (1, H, W) or (H, W) and a map (h, w), got {tuple(image.shape)} and {tuple(cam.shape)}"
        )
    m = F.interpolate(cam.detach().float().cpu()[None, None], size=img.shape, mode="bilinear", align_corners=False)[
        0, 0
    ]
    if normalize:
        m = (m - m.min()) / (m.max() - m.min() + 1e-12)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.5, 2.5))
    ax.imshow(img.numpy(), cmap="gray")
    ax.imshow(m.numpy(), cmap=cmap, alpha=alpha)
    if boxes is not None:
        for x1, y1, x2, y2 in boxes.detach().cpu().tolist():
            ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color="white", lw=1.2))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
