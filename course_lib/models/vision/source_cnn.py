"""A small source network for transfer experiments (notebook 04).

Lecture: STA211 (Thome), "Transferring representations learned from ImageNet": a network trained on
a large *source* task is reused on smaller *target* tasks, as deep features (frozen) or as an
initialization (fine-tuning). Offline there are no ImageNet weights, so the course plays the same
game at its own scale: this CNN is trained once on MNIST digits 0-4 (the source) and transferred to
held-out digits, other writers' digits and geometric shapes (see :mod:`course_lib.data.targets`).

Layout (names are what :func:`course_lib.engine.extract_features` and the freeze helpers take)::

    input [0, 1] -> (x - 0.1307) / 0.3081                         1@28x28
    features.conv1  3x3, 8 maps   -> relu1 -> pool1 (2x2 max)       8@14x14
    features.conv2  3x3, 16 maps  -> relu2 -> pool2 (2x2 max)       16@7x7
    features.conv3  3x3, 32 maps  -> relu3 -> pool3 (2x2 max)       32@3x3
    embed.fc        288 -> 64, relu                                 64   (the penultimate layer: "deep features")
    head            64 -> num_classes                               logits

The input is in [0, 1] (white strokes on black, as MNIST); the MNIST standardization is a buffer
inside the model, so every target set goes in on the same scale.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from ...data.real.mnist import MNIST_MEAN, MNIST_STD

PROBE_LAYERS = ("features.pool1", "features.pool2", "features.pool3", "embed.relu")
"""Layers probed in notebook 04 (Yosinski et al. 2014 style), from the input side to the penultimate layer."""


class SourceCNN(nn.Module):
    """Three 3x3 conv blocks with max pooling, one hidden dense layer, a linear head.

    Args:
        num_classes: outputs of ``head`` (5 for MNIST 0-4).
        widths: maps of conv1, conv2, conv3.
        embed_dim: size of the penultimate layer (the "deep feature" of notebook 04).
        in_channels: 1 (grey) or 3 (colour).

    ``forward``: ``Tensor[B, in_channels, 28, 28]`` in [0, 1] -> logits ``Tensor[B, num_classes]``.
    The convolutional part ``features[:8]`` (up to ``relu3``) accepts any image size (fully convolutional).
    With the defaults it has 24,709 parameters (head: 325).
    """

    def __init__(
        self,
        num_classes: int = 5,
        widths: tuple[int, int, int] = (8, 16, 32),
        embed_dim: int = 64,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if num_classes < 1 or embed_dim < 1 or len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"bad SourceCNN sizes: num_classes={num_classes}, widths={widths}, embed_dim={embed_dim}")
        c1, c2, c3 = widths
        self.in_channels, self.num_classes = in_channels, num_classes
        self.register_buffer("mean", Tensor([MNIST_MEAN]).view(1, 1, 1, 1), persistent=False)
        self.register_buffer("std", Tensor([MNIST_STD]).view(1, 1, 1, 1), persistent=False)
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(in_channels, c1, 3, padding=1)),
                    ("relu1", nn.ReLU()),
                    ("pool1", nn.MaxPool2d(2)),
                    ("conv2", nn.Conv2d(c1, c2, 3, padding=1)),
                    ("relu2", nn.ReLU()),
                    ("pool2", nn.MaxPool2d(2)),
                    ("conv3", nn.Conv2d(c2, c3, 3, padding=1)),
                    ("relu3", nn.ReLU()),
                    ("pool3", nn.MaxPool2d(2)),
                ]
            )
        )
        embed = [("flatten", nn.Flatten()), ("fc", nn.Linear(c3 * 3 * 3, embed_dim)), ("relu", nn.ReLU())]
        self.embed = nn.Sequential(OrderedDict(embed))
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W) in [0, 1], got shape {tuple(x.shape)}")
        x = (x - self.mean) / self.std  # (B, C, H, W), MNIST standardization
        return self.head(self.embed(self.features(x)))  # (B, num_classes)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_channels={self.in_channels}"
