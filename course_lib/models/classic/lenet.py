"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998, "Gradient-based learning applied to document recognition").

Lecture: STA211 "Deep learning history" / INRIA "Introduction": LeNet-5, the 1980s-90s
convolutional network, C1-S2-C3-S4-C5-F6, about 60,000 trainable parameters.

Two variants, same topology:

- ``"classic"`` (faithful to the paper): scaled tanh ``1.7159 tanh(2a/3)``, subsampling layers
  S2/S4 that average 2x2 blocks then apply a trainable coefficient and bias per map, and C3's
  partial connection table (Table I of the paper: 60 of the 96 map pairs). Trainable parameters:
  C1 156 + S2 12 + C3 1,516 + S4 32 + C5 48,120 + F6 10,164 = 60,000, exactly the paper's count.
  The paper's output layer is 10 Euclidean RBF units whose 84x10 weights are fixed 7x12 bitmaps
  (not trained); we use a trained linear layer instead (+850), so the model has **60,850**.
- ``"modern"``: ReLU, 2x2 max pooling and a fully connected C3 (2,416), as most code writes it
  today: **61,706** parameters.

Input: 28x28 MNIST digits are zero-padded to 32x32, as in the paper (the digit's centre of mass
in the middle of a 32x32 field, so that strokes reach the centre of C5's receptive field).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.real.mnist import MNIST_MEAN, MNIST_STD

MNIST_BACKGROUND = -MNIST_MEAN / MNIST_STD  # value of a blank pixel after normalization

# Table I of LeCun et al. 1998: which S2 maps (rows 0-5) feed each C3 map (columns 0-15).
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """LeCun's squashing function ``f(a) = A tanh(S a)`` with A = 1.7159, S = 2/3 (so f(1) = 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """LeNet's S-layer: 2x2 average (the paper sums; same up to the coefficient), times a trainable
    coefficient, plus a trainable bias, per map: ``2 * channels`` parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseConv2d(nn.Module):
    """A 5x5 convolution whose output maps see only the input maps listed in ``table`` (C3).

    Only the connected kernels are parameters (``sum(len(t)) * k * k + out`` of them); the dense
    weight is assembled with ``index_copy`` at each forward, so autograd handles the rest.
    """

    def __init__(self, in_channels: int, table: tuple[tuple[int, ...], ...], kernel_size: int = 5) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        flat = [o * in_channels + i for o, inputs in enumerate(table) for i in inputs]
        self.register_buffer("index", torch.tensor(flat, dtype=torch.long), persistent=False)
        fan_in = torch.tensor([len(t) for t in table for _ in t], dtype=torch.float32) * kernel_size**2
        bound = (1.0 / fan_in).sqrt().view(-1, 1, 1)
        self.weight = nn.Parameter((torch.rand(len(flat), kernel_size, kernel_size) * 2 - 1) * bound)
        self.bias = nn.Parameter(torch.zeros(self.out_channels))

    def dense_weight(self) -> Tensor:
        """The full ``(out, in, k, k)`` kernel with zeros where the table has no connection."""
        k = self.kernel_size
        w = self.weight.new_zeros(self.out_channels * self.in_channels, k, k).index_copy(0, self.index, self.weight)
        return w.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, connections={len(self.index)}"


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 (padded to 32x32) or 32x32 single-channel images.

    Args:
        variant: ``"classic"`` (paper: scaled tanh, trainable subsampling, C3 table; 60,850
            parameters with a linear output layer) or ``"modern"`` (ReLU, max pooling, full C3;
            61,706 parameters).
        num_classes: output units.
        pad_value: fill for the 28 -> 32 padding; default: the background of normalized MNIST.

    Shapes: ``Tensor[B, 1, 28 or 32, 28 or 32] -> Tensor[B, num_classes]`` (logits).
    """

    def __init__(self, variant: str = "classic", num_classes: int = 10, pad_value: float = MNIST_BACKGROUND) -> None:
        super().__init__()
        self.pad_value = pad_value
        if variant not in ("classic", "modern"):
            raise ValueError(f"variant must be 'classic' or 'modern', got {variant!r}")
        self.variant = variant
        classic = variant == "classic"
        act = ScaledTanh if classic else nn.ReLU
        self.features = nn.Sequential()
        self.features.add_module("C1", nn.Conv2d(1, 6, 5))  # (B, 6, 28, 28)
        self.features.add_module("act1", act())
        self.features.add_module("S2", Subsampling(6) if classic else nn.MaxPool2d(2))  # (B, 6, 14, 14)
        if classic:
            self.features.add_module("act2", act())
        self.features.add_module("C3", SparseConv2d(6, C3_TABLE) if classic else nn.Conv2d(6, 16, 5))  # (B, 16, 10, 10)
        self.features.add_module("act3", act())
        self.features.add_module("S4", Subsampling(16) if classic else nn.MaxPool2d(2))  # (B, 16, 5, 5)
        if classic:
            self.features.add_module("act4", act())
        self.features.add_module("C5", nn.Conv2d(16, 120, 5))  # (B, 120, 1, 1)
        self.features.add_module("act5", act())
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("F6", nn.Linear(120, 84))
        self.classifier.add_module("act6", act())
        self.classifier.add_module("output", nn.Linear(84, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] == (28, 28):
            x = F.pad(x, (2, 2, 2, 2), value=self.pad_value)  # (B, 1, 28, 28) -> (B, 1, 32, 32)
        elif x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet5 expects 28x28 or 32x32 inputs, got {tuple(x.shape[-2:])}")
        return self.classifier(self.features(x))

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}"
