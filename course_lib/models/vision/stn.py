"""Spatial transformer networks (Jaderberg, Simonyan, Zisserman & Kavukcuoglu, NIPS 2015).

See the docstring of the companion module for the lecture and the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...ops.spatial import transform


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
            nn.Conv2d(in_channels, c1, 5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
        )
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

    @torch.no_grad()
    def dead_units(self, x: Tensor) -> dict[str, float]:
        """How many units of the localisation net no longer respond to the inputs ``x`` (``Tensor[B, C, H, W]``).

        ``relu``: the share of the last conv layer's channels that are zero at every position of every input
        (dead ReLUs: no gradient flows through them again); ``tanh``: the share of hidden units saturated
        (``|tanh| > 0.99``) on every input. A localisation net whose units are dead or saturated gives (nearly)
        the same ``theta`` for every image: the transformer collapses to one fixed warp.
        """
        f = self.features(x)  # (B, c2, h, w), after the last ReLU
        hidden = self.regressor[:3](f)  # (B, hidden), after tanh
        return {
            "relu": float((f.amax((0, 2, 3)) <= 0).float().mean()),
            "tanh": float((hidden.abs() > 0.99).all(0).float().mean()),
        }


class STN(nn.Module):
    """A spatial transformer in front of any classifier: ``classifier(transform(x, loc(x), out_size))``.

    Args:
        classifier: a module taking ``Tensor[B, C, out_size, out_size]``.
        loc: the localisation net (default: :class:`LocalisationNet` for ``input_size``).
        input_size: side of the input canvas.
        out_size: side of the canonical image handed to the classifier (smaller than the input: the
            transformer learns to zoom on the object, and the classifier works at low cost).
        in_channels: image channels.
        input_mean, input_std: the localisation net sees ``(x - input_mean) / input_std`` (standardized input:
            on raw canvases, mostly zeros, its units start nearly constant and die or saturate in short runs);
            the sampler reads the raw ``x``, so the zero padding outside the canvas stays background.

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
        input_mean: float = 0.0,
        input_std: float = 1.0,
    ) -> None:
        super().__init__()
        if out_size < 1 or input_size < 1:
            raise ValueError(f"sizes must be positive, got input_size={input_size}, out_size={out_size}")
        if not input_std > 0:
            raise ValueError(f"input_std must be > 0, got {input_std}")
        self.loc = loc if loc is not None else LocalisationNet(in_channels, input_size)
        self.classifier = classifier
        self.input_size, self.out_size = input_size, out_size
        self.register_buffer("input_mean", torch.tensor(float(input_mean)))
        self.register_buffer("input_std", torch.tensor(float(input_std)))

    def standardize(self, x: Tensor) -> Tensor:
        """What the localisation net sees: ``(x - input_mean) / input_std``."""
        return (x - self.input_mean) / self.input_std

    def theta(self, x: Tensor) -> Tensor:
        return self.loc(self.standardize(x))  # (B, 2, 3)

    def canonical(self, x: Tensor) -> Tensor:
        """The transformed images ``Tensor[B, C, out_size, out_size]``."""
        return transform(x, self.theta(x), self.out_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.canonical(x))

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, out_size={self.out_size}, "
            f"input_mean={float(self.input_mean):.4g}, input_std={float(self.input_std):.4g}"
        )


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
            nn.Conv2d(in_channels, c1, 5, padding=2),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        side = input_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes)
        )
        self.input_size = input_size

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, C, S, S) -> (B, num_classes)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}"
