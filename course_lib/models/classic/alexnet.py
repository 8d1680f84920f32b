"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), and the same topology scaled for small inputs.

Lecture: STA211 (Thome), "AlexNet in ILSVRC'12": 227x227x3 input; conv1 96 filters 11x11 stride 4
(55x55x96 = 290,400 neurons, 11*11*3 + 1 = 364 weights per filter, 34,944 parameters); five
convolutional and three fully connected layers; ReLU; local response normalization (LRN) after
conv1 and conv2; overlapping 3x3/2 max pooling; dropout 0.5 in fc6 and fc7; ~60M parameters,
~650k neurons. conv2, conv4 and conv5 are split in two groups (the two GPUs of the paper: "the kernels of
the second, fourth, and fifth convolutional layers are connected only to those kernel maps in the previous
layer which reside on the same GPU", section 3.5), which gives the paper's 60,965,224 parameters;
``groups=1`` gives the single-GPU variant (62,378,344).

Ablations (Zeiler & Fergus 2014, credited to R. Fergus in the lecture): ``remove=("fc7",)``,
``("fc6", "fc7")``, ``("conv3", "conv4", "fc6", "fc7")``; the layers around a removed one are
rewired (input channels / features adjusted) so every variant builds and trains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor, nn

PAPER_LRN_ALPHA = 1e-4  # section 3.3: b = a / (k + alpha * sum of a^2 over n=5 adjacent maps)^beta, k=2, beta=0.75
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
GROUPED = ("conv2", "conv4", "conv5")  # the layers the paper splits over its two GPUs


@dataclass(frozen=True)
class AlexNetSpec:
    """Sizes of one AlexNet topology: per conv layer (out_channels, kernel, stride, padding, groups)."""

    convs: tuple[tuple[int, int, int, int, int], ...]
    pool_after: tuple[bool, ...]  # overlapping max pooling after conv1, conv2, conv5
    fc: int  # width of fc6 and fc7
    input_size: int


IMAGENET = AlexNetSpec(
    convs=((96, 11, 4, 0, 1), (256, 5, 1, 2, 2), (384, 3, 1, 1, 1), (384, 3, 1, 1, 2), (256, 3, 1, 1, 2)),
    pool_after=(True, True, False, False, True),
    fc=4096,
    input_size=227,
)
# The same topology for 1-channel canvases, widths divided by 4. At a 114-pixel input it has AlexNet's map sizes
# (conv1 55, pool1 27, pool2 13, pool5 6) and, in proportion to the input, AlexNet's receptive fields (conv5 81 px of
# 114, AlexNet's 163 of 227; without conv3 and conv4 49 px, AlexNet's 99): see notebook 02.
SMALL = AlexNetSpec(
    convs=((24, 5, 2, 0, 1), (64, 5, 1, 2, 1), (96, 3, 1, 1, 1), (96, 3, 1, 1, 1), (64, 3, 1, 1, 1)),
    pool_after=(True, True, False, False, True),
    fc=512,
    input_size=114,
)
# SMALL at half the resolution: a 3x3 stride-1 conv1 on a 57-pixel input gives the same map sizes (55, 27, 13, 6) and
# the same receptive fields in proportion to the input (conv5 41 px of 57; without conv3 and conv4 25 px).
HALF = AlexNetSpec(
    convs=((24, 3, 1, 0, 1), *SMALL.convs[1:]),
    pool_after=SMALL.pool_after,
    fc=SMALL.fc,
    input_size=57,
)


class AlexNet(nn.Module):
    """AlexNet with optional layers removed for ablations.

    Args:
        spec: ``IMAGENET`` (the paper's sizes), or ``SMALL`` / ``HALF`` (the same topology for 114- / 57-pixel inputs).
        num_classes: output units (fc8).
        in_channels: image channels (3 for ImageNet, 1 for digits).
        remove: names among ``conv3, conv4, fc6, fc7`` (conv1, conv2, conv5 carry the pooling and stay).
        groups: ``None`` keeps the spec's grouping (the paper's two GPUs for ``IMAGENET``); an integer ``g``
            splits conv2, conv4 and conv5 (:data:`GROUPED`) in ``g`` groups and keeps conv1 and conv3 whole;
            ``1`` removes the grouping. ``ValueError`` when a layer's input or output channels (after
            removals) are not a multiple of its groups.
        lrn: local response normalization after conv1 and conv2 (paper: k=2, n=5, alpha=1e-4, beta=0.75;
            ``nn.LocalResponseNorm`` divides its alpha by n, so it is given ``5 * 1e-4``).
        overlap_pool: 3x3 stride-2 pooling (the paper) instead of non-overlapping 2x2 stride 2.
        dropout: dropout probability on the outputs of fc6 and fc7 (the paper's "first two fully connected
            layers"; torchvision drops their inputs instead); no dropout when both are removed.
        batchnorm: add BatchNorm after each convolution (not in the paper; helps short CPU runs).

    Shapes: ``Tensor[B, in_channels, S, S] -> Tensor[B, num_classes]`` with ``S = spec.input_size``
    (other sizes work while the feature map stays >= 1 pixel; fc6 adapts to it at build time).
    """

    def __init__(
        self,
        spec: AlexNetSpec = IMAGENET,
        num_classes: int = 1000,
        in_channels: int = 3,
        remove: Iterable[str] = (),
        groups: int | None = None,
        lrn: bool = True,
        overlap_pool: bool = True,
        dropout: float = 0.5,
        batchnorm: bool = False,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        removed = set(remove)
        unknown = removed - {"conv3", "conv4", "fc6", "fc7"}
        if unknown:
            raise ValueError(f"can only remove conv3, conv4, fc6, fc7; got {sorted(unknown)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.removed = tuple(name for name in LAYERS if name in removed)
        size = spec.input_size if input_size is None else input_size
        self.features = nn.Sequential()
        channels = in_channels
        for i, (out, k, s, p, g) in enumerate(spec.convs, 1):
            name = f"conv{i}"
            if name in removed:
                continue
            if groups is not None:
                g = groups if name in GROUPED else 1
            if g < 1 or channels % g or out % g:
                raise ValueError(
                    f"{name} cannot be split in {g} groups: its {channels} input and {out} output channels must both "
                    f"be multiples of {g} (use groups=1 for no grouping)"
                )
            self.features.add_module(name, nn.Conv2d(channels, out, k, s, p, groups=g))
            size = (size + 2 * p - k) // s + 1
            if batchnorm:
                self.features.add_module(f"bn{i}", nn.BatchNorm2d(out))
            self.features.add_module(f"relu{i}", nn.ReLU(inplace=True))
            if lrn and i <= 2:
                # the paper's alpha multiplies the sum of squares; torch's divides its alpha by n (=5) first
                self.features.add_module(
                    f"norm{i}", nn.LocalResponseNorm(5, alpha=5 * PAPER_LRN_ALPHA, beta=0.75, k=2.0)
                )
            if spec.pool_after[i - 1]:
                kp, sp = (3, 2) if overlap_pool else (2, 2)
                self.features.add_module(f"pool{i}", nn.MaxPool2d(kp, sp))
                size = (size - kp) // sp + 1
            channels = out
        if size < 1:
            raise ValueError(f"input of {input_size or spec.input_size} pixels is too small for this network")
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        features = channels * size * size
        for name in ("fc6", "fc7"):
            if name in removed:
                continue
            self.classifier.add_module(name, nn.Linear(features, spec.fc))
            self.classifier.add_module(f"relu{name[-1]}", nn.ReLU(inplace=True))
            if dropout > 0:  # the paper: each hidden unit of fc6 and fc7 is zeroed with probability 0.5
                self.classifier.add_module(f"drop{name[-1]}", nn.Dropout(dropout))
            features = spec.fc
        self.classifier.add_module("fc8", nn.Linear(features, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, C, S, S) -> (B, num_classes)

    def extra_repr(self) -> str:
        return f"removed={self.removed}" if self.removed else ""


ABLATIONS: dict[str, tuple[str, ...]] = {
    "full": (),
    "without fc7": ("fc7",),
    "without fc6, fc7": ("fc6", "fc7"),
    "without conv3, conv4, fc6, fc7": ("conv3", "conv4", "fc6", "fc7"),
}
"""The lecture's ablation table (ImageNet top-1 drop: -1.1%, -5.7%, -33.5% for the last three)."""
