"""Spatial transformer networks (Jaderberg, Simonyan, Zisserman & Kavukcuoglu, NIPS 2015).

Lectures: RCP209 "Localization / Alignment" (Thome), UvA "Beyond classification", the CVPR-style
lecture on spatial transformers. A spatial transformer has three parts:

1. a **localisation net** regresses the six numbers of an affine map ``theta`` from the image;
2. a **grid generator** maps each output pixel's normalized coordinates ``(x_t, y_t)`` to the
   input coordinates ``(x_s, y_s) = theta @ (x_t, y_t, 1)`` (``F.affine_grid``);
3. a **sampler** reads the input there, bilinearly (``F.grid_sample``); bilinear sampling is
   differentiable in the image and in the sampling positions, so ``theta`` is learned from the
   classification loss alone, with no pose labels.

Coordinates are normalized to [-1, 1] (x right, y down) in both images, so the lecture's examples are:
identity ``[[1, 0, 0], [0, 1, 0]]``; zoom in by 2 ``[[.5, 0, 0], [0, .5, 0]]`` (the output shows the
central half of the input); zoom out ``[[2, 0, 0], [0, 2, 0]]`` (the input shrinks to the central half of
the output); a rotation ``[[cos a, -sin a, 0], [sin a, cos a, 0]]`` (the content turns by ``a`` counter-clockwise
on screen, as ``torchvision``'s ``rotate``); a last column ``(t_x, t_y)`` moves the window the output reads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["STN", "ConvNet", "LocalisationNet", "make_theta", "transform"]


def transform(x: Tensor, theta: Tensor, out_size: int | tuple[int, int] | None = None, *, padding_mode: str = "zeros") -> Tensor:
    """Sample ``x`` on the affine grid ``theta``: grid generator + bilinear sampler of an STN.

    Args:
        x: images ``Tensor[B, C, H, W]``.
        theta: affine maps ``Tensor[B, 2, 3]`` (or ``Tensor[2, 3]``, shared by the batch), from output to
            input normalized coordinates: ``(x_s, y_s) = theta @ (x_t, y_t, 1)``.
        out_size: output ``(H', W')`` or one side (default: the input's ``(H, W)``).
        padding_mode: value read outside the input (``"zeros"``, ``"border"``, ``"reflection"``).

    Returns:
        ``Tensor[B, C, H', W']``. ``align_corners=False``: with the identity and ``out_size = (H, W)``
        every output pixel centre falls on an input pixel centre, so the input comes back unchanged.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    if theta.dim() == 2:
        theta = theta.unsqueeze(0).expand(len(x), 2, 3)
    if theta.shape != (len(x), 2, 3):
        raise ValueError(f"expected theta of shape ({len(x)}, 2, 3) or (2, 3), got {tuple(theta.shape)}")
    if out_size is None:
        out_size = (x.shape[2], x.shape[3])
    elif isinstance(out_size, int):
        out_size = (out_size, out_size)
    grid = F.affine_grid(theta.to(x.dtype), [len(x), x.shape[1], *out_size], align_corners=False)  # (B, H', W', 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def make_theta(
    angle: float | Tensor = 0.0,
    scale: float | Tensor = 1.0,
    translate: tuple[float, float] | Tensor = (0.0, 0.0),
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """The lecture's ``theta`` from a rotation, a zoom and a shift, for square images.

    ``theta = [[s cos a, -s sin a, t_x], [s sin a, s cos a, t_y]]`` (normalized coordinates, y down).
    ``scale < 1`` zooms in (the output shows a smaller part of the input), ``scale > 1`` zooms out;
    ``angle`` (degrees) > 0 turns the image counter-clockwise on screen, as ``torchvision``'s ``rotate``.

    Args:
        angle: degrees, a number or ``Tensor[B]``.
        scale: a number or ``Tensor[B]``.
        translate: where the output's centre reads in the input, in normalized units, ``(2,)`` or ``Tensor[B, 2]``.

    Returns:
        ``Tensor[2, 3]`` for scalar arguments, else ``Tensor[B, 2, 3]``.
    """
    a = torch.as_tensor(angle, dtype=torch.float32, device=device) * (math.pi / 180.0)
    s = torch.as_tensor(scale, dtype=torch.float32, device=device)
    t = torch.as_tensor(translate, dtype=torch.float32, device=device)
    a, s = torch.broadcast_tensors(a, s)
    cos, sin = torch.cos(a) * s, torch.sin(a) * s
    # the output at p reads the input at s R(a) p + t; with y pointing down this turns the content
    # counter-clockwise on screen (pinned against torchvision's rotate and torch.rot90 by the tests)
    row1 = torch.stack([cos, -sin, t[..., 0].expand_as(cos)], -1)
    row2 = torch.stack([sin, cos, t[..., 1].expand_as(cos)], -1)
    return torch.stack([row1, row2], -2)


class LocalisationNet(nn.Module):
    """A small CNN that regresses ``theta`` (``Tensor[B, 2, 3]``) from ``Tensor[B, C, H, W]``.

    The last linear layer starts with zero weights and the identity as bias (Jaderberg et al. 2015,
    section 4), so an untrained transformer passes the image through and the classifier can learn first.

    Args:
        in_channels: image channels.
        input_size: side of the (square) input images.
        downsample: average-pool the input by this factor first (the localisation net may work at low resolution).
        channels: widths of the two 5x5 conv layers.
        hidden: width of the fully connected layer.
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int = 60,
        downsample: int = 2,
        channels: tuple[int, int] = (8, 16),
        hidden: int = 32,
    ) -> None:
        super().__init__()
        if input_size < 8 * downsample:
            raise ValueError(f"input_size {input_size} is too small for downsample={downsample}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.AvgPool2d(downsample) if downsample > 1 else nn.Identity(),
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(inplace=True),
        )  # fmt: skip
        side = input_size // downsample // 4
        self.regressor = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), nn.Tanh(), nn.Linear(hidden, 6)
        )  # tanh, not ReLU: in short runs dead ReLU units here froze theta to one constant for every input
        self.reset_to_identity()

    def reset_to_identity(self) -> None:
        """Zero weights and identity bias in the last layer: ``theta = [[1, 0, 0], [0, 1, 0]]`` for every input."""
        last = self.regressor[-1]
        nn.init.zeros_(last.weight)
        with torch.no_grad():
            last.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: Tensor) -> Tensor:
        return self.regressor(self.features(x)).view(-1, 2, 3)  # (B, C, H, W) -> (B, 2, 3)


class STN(nn.Module):
    """A spatial transformer in front of any classifier: ``classifier(transform(x, loc(x), out_size))``.

    Args:
        classifier: a module taking ``Tensor[B, C, out_size, out_size]``.
        loc: the localisation net (default: :class:`LocalisationNet` for ``input_size``).
        input_size: side of the input canvas.
        out_size: side of the canonical image handed to the classifier (smaller than the input: the
            transformer learns to zoom on the object, and the classifier works at low cost).
        in_channels: image channels.

    ``forward`` returns the classifier's output; ``canonical(x)`` returns the transformed images and
    ``theta(x)`` the affine maps, to look at what the transformer learned.
    """

    def __init__(
        self,
        classifier: nn.Module,
        loc: nn.Module | None = None,
        *,
        input_size: int = 60,
        out_size: int = 28,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if out_size < 1 or input_size < 1:
            raise ValueError(f"sizes must be positive, got input_size={input_size}, out_size={out_size}")
        self.loc = loc if loc is not None else LocalisationNet(in_channels, input_size)
        self.classifier = classifier
        self.input_size, self.out_size = input_size, out_size

    def theta(self, x: Tensor) -> Tensor:
        return self.loc(x)  # (B, 2, 3)

    def canonical(self, x: Tensor) -> Tensor:
        """The transformed images ``Tensor[B, C, out_size, out_size]``."""
        return transform(x, self.loc(x), self.out_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.canonical(x))

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, out_size={self.out_size}"


class ConvNet(nn.Module):
    """The course's small CNN for square 1-channel inputs: two 5x5 conv + 2x2 max-pool stages, then two linear layers.

    ``Tensor[B, in_channels, input_size, input_size] -> Tensor[B, num_classes]``. Used as the plain classifier
    of notebook 05b (whole canvas, regions, windows) and as the classifier an :class:`STN` wraps.

    Args:
        input_size: side of the inputs (a multiple of 4).
        num_classes: outputs.
        channels: widths of the two conv layers.
        hidden: width of the hidden linear layer.
        in_channels: image channels.
    """

    def __init__(
        self,
        input_size: int = 28,
        num_classes: int = 10,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 64,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if input_size % 4 or input_size < 8:
            raise ValueError(f"input_size must be a multiple of 4 and >= 8, got {input_size}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.BatchNorm2d(c2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )  # fmt: skip
        side = input_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes)
        )
        self.input_size = input_size

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, C, S, S) -> (B, num_classes)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}"
