"""Autoencoders: MLP and convolutional, any bottleneck, linear or not; the denoising autoencoder.

UvA Deep Learning, *Unsupervised learning*: an autoencoder ``x -> h = f(x) -> x_hat = g(h)`` is trained to
reconstruct its input, ``L = ||x - g(f(x))||^2`` (or the Bernoulli cross-entropy on pixels in [0, 1]).

- undercomplete (bottleneck smaller than the input): it must keep the directions that matter;
- linear with the squared loss: the decoder spans the top principal subspace, as PCA does (Baldi & Hornik 1989),
  although its weights need not be the principal directions (``linear=True``);
- overcomplete without regularization: it "might learn the identity function" (it "often in practice still works");
- denoising (Vincent et al. 2008, "Extracting and composing robust features with denoising autoencoders"):
  reconstruct the clean ``x`` from a corrupted ``x~ ~ q(x~ | x)``, so the identity is no longer a solution
  (:func:`corrupt`, :class:`DenoisingAutoEncoder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

CORRUPTIONS = ("masking", "gaussian", "salt_pepper")
CODE_ACTIVATIONS = {None: lambda: None, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def _mlp(sizes: Sequence[int], linear: bool, last_activation: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 and not linear:
            layers.append(nn.ReLU())
    if last_activation is not None:
        layers.append(last_activation)
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """An MLP autoencoder: ``Tensor[B, ...]`` (flattened to ``in_features``) -> reconstruction of the same shape.

    Args:
        in_features: input size (784 for MNIST; inputs of any shape are flattened and the output reshaped back).
        bottleneck: code size; smaller than ``in_features`` is undercomplete, larger is overcomplete.
        hidden: widths of the hidden layers of the encoder (the decoder mirrors them); ``()`` for a single layer.
        linear: no nonlinearity anywhere (with ``hidden=()`` and ``output="linear"`` it is the PCA-like linear AE).
        output: ``"sigmoid"`` (pixels in [0, 1], pairs with a BCE or MSE loss) or ``"linear"``.
        code: the code's non-linearity, ``None`` (the encoder's last layer is linear), ``"sigmoid"`` (Vincent et al.
            2008's denoising autoencoders) or ``"relu"``. With ``hidden=()`` and no ``code`` the code is a linear map of
            the pixels, so a linear probe on it can only do what a probe on the pixels does.

    ``encode(x)`` returns the code ``Tensor[B, bottleneck]``; ``decode(h)`` returns ``Tensor[B, in_features]``.
    """

    def __init__(
        self,
        in_features: int = 784,
        bottleneck: int = 32,
        hidden: Sequence[int] = (256,),
        *,
        linear: bool = False,
        output: str = "sigmoid",
        code: str | None = None,
    ) -> None:
        super().__init__()
        if in_features < 1 or bottleneck < 1:
            raise ValueError(f"in_features and bottleneck must be >= 1, got {in_features}, {bottleneck}")
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        if code not in CODE_ACTIVATIONS:
            raise ValueError(f"code must be one of {tuple(CODE_ACTIVATIONS)}, got {code!r}")
        sizes = [in_features, *hidden, bottleneck]
        self.encoder = _mlp(sizes, linear, CODE_ACTIVATIONS[code]())
        self.decoder = _mlp(sizes[::-1], linear, nn.Sigmoid() if output == "sigmoid" else None)
        self.in_features, self.bottleneck, self.linear, self.output = in_features, bottleneck, linear, output
        self.code = code

    def encode(self, x: Tensor) -> Tensor:
        if x[0].numel() != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} values each, got shape {tuple(x.shape)}")
        return self.encoder(x.flatten(1))  # (B, bottleneck)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h)  # (B, in_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)).view_as(x)

    def extra_repr(self) -> str:
        code = f", code={self.code}" if self.code else ""
        return (
            f"in_features={self.in_features}, bottleneck={self.bottleneck}, linear={self.linear}, output={self.output}"
            + code
        )


class ConvAutoEncoder(nn.Module):
    """A convolutional autoencoder for ``Tensor[B, C, 28, 28]`` images (MNIST): two stride-2 convolutions
    (28 -> 14 -> 7), a linear bottleneck, and the mirrored transposed convolutions back to 28x28.

    Args:
        in_channels: image channels.
        bottleneck: code size.
        channels: widths of the two conv layers.
        linear: no nonlinearity in the hidden layers.
        output: ``"sigmoid"`` or ``"linear"``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        bottleneck: int = 16,
        channels: tuple[int, int] = (16, 32),
        *,
        linear: bool = False,
        output: str = "sigmoid",
        code: str | None = None,
    ) -> None:
        super().__init__()
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        c1, c2 = channels
        act = nn.Identity if linear else nn.ReLU
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=2, padding=1),
            act(),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            act(),  # (B, c2, 7, 7)
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, bottleneck),
        )
        self.decoder = nn.Sequential(
            nn.Linear(bottleneck, c2 * 7 * 7),
            act(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            act(),  # (B, c1, 14, 14)
            nn.ConvTranspose2d(c1, in_channels, 4, stride=2, padding=1),  # (B, C, 28, 28)
            nn.Sigmoid() if output == "sigmoid" else nn.Identity(),
        )
        self.in_channels, self.bottleneck = in_channels, bottleneck

    def encode(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1:] != (self.in_channels, 28, 28):
            raise ValueError(f"expected (B, {self.in_channels}, 28, 28), got shape {tuple(x.shape)}")
        return self.encoder(x)  # (B, bottleneck)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h)  # (B, C, 28, 28)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def corrupt(
    x: Tensor, kind: str = "masking", level: float = 0.3, *, generator: torch.Generator | None = None
) -> Tensor:
    """The corruption ``q(x~ | x)`` of a denoising autoencoder (Vincent et al. 2008, section 2.3), any shape.

    Args:
        x: inputs (pixels in [0, 1] for ``masking`` and ``salt_pepper``).
        kind: ``"masking"`` (each value set to 0 with probability ``level``), ``"gaussian"`` (add
            ``N(0, level^2)`` noise) or ``"salt_pepper"`` (each value set to 0 or 1, equally likely, with
            probability ``level``).
        level: the masking probability or the noise standard deviation.
        generator: a ``torch.Generator`` on ``x``'s device, for reproducible noise.

    Returns:
        a new tensor of ``x``'s shape; ``x`` is unchanged.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")
    if level < 0 or (kind != "gaussian" and level > 1):
        raise ValueError(f"level must be in [0, 1] for {kind!r} (>= 0 for 'gaussian'), got {level}")
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    hit = torch.rand(x.shape, generator=generator, device=x.device) < level
    if kind == "masking":
        return x.masked_fill(hit, 0.0)
    salt = (torch.rand(x.shape, generator=generator, device=x.device) < 0.5).to(x.dtype)
    return torch.where(hit, salt, x)


class DenoisingAutoEncoder(nn.Module):
    """Wraps any autoencoder: in training mode ``forward(x)`` reconstructs from ``corrupt(x)``; the target
    stays the clean ``x`` (train with ``loss(model(x), x)``). In eval mode it reconstructs ``x`` itself.

    Args:
        autoencoder: a module with ``encode``/``decode`` (:class:`AutoEncoder`, :class:`ConvAutoEncoder`).
        kind, level: the corruption (see :func:`corrupt`).
    """

    def __init__(self, autoencoder: nn.Module, kind: str = "masking", level: float = 0.3) -> None:
        super().__init__()
        corrupt(torch.zeros(1), kind, level)  # validates kind and level now, not at the first step
        self.autoencoder, self.kind, self.level = autoencoder, kind, level

    def encode(self, x: Tensor) -> Tensor:
        return self.autoencoder.encode(x)

    def decode(self, h: Tensor) -> Tensor:
        return self.autoencoder.decode(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.autoencoder(corrupt(x, self.kind, self.level) if self.training else x)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, level={self.level}"
