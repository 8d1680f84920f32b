"""A small fully convolutional network that outputs class maps, with a pluggable global pooling head.

RCP209 (N. Thome), *Localization / Alignment*, weakly supervised learning: the network scores every region
(each position of a ``C x H/4 x W/4`` class map, Oquab et al. 2015) and a global pooling (max, GAP, LSE,
WELDON, WILDCAT: :mod:`course_lib.layers.pooling`) turns the maps into image-level scores, so the model trains
with image-level labels only and the class maps localize for free. The 1x1 classifier on top of the features is
the "linear layer after GAP" of class activation maps (Zhou et al. 2016): with GAP, its maps *are* the CAMs.
"""

from __future__ import annotations

from torch import Tensor, nn

from ...layers.pooling import ClassWisePool2d, GlobalAvgPool2d


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class FCN(nn.Module):
    """Five 3x3 conv + BatchNorm + ReLU blocks (two of stride 2: stride 4), a 1x1 classifier, a global pooling.

    ``Tensor[B, in_channels, H, W]`` -> ``features`` ``Tensor[B, 2*width, H/4, W/4]`` -> ``maps`` ``Tensor[B, C, H/4, W/4]``
    -> ``forward`` ``Tensor[B, C]`` (logits). Receptive field of a map position: 27 x 27 input pixels. Strided
    convolutions rather than max-pooling layers: on a CPU they train about 1.5x faster, for the same stride.

    Args:
        n_classes: number of classes ``C``.
        width: channels of the first two blocks (the last two have ``2 * width``).
        pool: global pooling ``(B, C, h, w) -> (B, C)`` (default GAP).
        maps_per_class: WILDCAT's ``M``: the classifier outputs ``C*M`` maps, averaged per class (class-wise pooling).
        in_channels: image channels.
    """

    def __init__(
        self,
        n_classes: int = 10,
        width: int = 16,
        pool: nn.Module | None = None,
        maps_per_class: int = 1,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if n_classes < 1 or width < 1 or maps_per_class < 1:
            raise ValueError(
                f"n_classes, width and maps_per_class must be >= 1, got {n_classes}, {width}, {maps_per_class}"
            )
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, width, stride=2),  # H/2
            _conv_bn_relu(width, width),
            _conv_bn_relu(width, 2 * width, stride=2),  # H/4
            _conv_bn_relu(2 * width, 2 * width),
            _conv_bn_relu(2 * width, 2 * width),
        )
        self.classifier = nn.Conv2d(2 * width, n_classes * maps_per_class, 1)
        self.class_pool = ClassWisePool2d(maps_per_class) if maps_per_class > 1 else nn.Identity()
        self.pool = pool if pool is not None else GlobalAvgPool2d()
        self.n_classes, self.maps_per_class = n_classes, maps_per_class

    def maps(self, x: Tensor) -> Tensor:
        """Class maps ``Tensor[B, C, H/4, W/4]`` (the region scores, before the global pooling)."""
        return self.class_pool(self.classifier(self.features(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.maps(x))  # (B, C)
