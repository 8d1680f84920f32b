"""Generative adversarial nets (Goodfellow et al., "Generative Adversarial Nets", NIPS 2014) and DCGAN
(Radford, Metz & Chintala, "Unsupervised representation learning with deep convolutional GANs", ICLR 2016).

UvA Deep Learning, *GANs* ("police vs thief"): a generator ``G(z)`` and a discriminator ``D(x)`` play

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))];

STA211/RCP209: at the optimum of this game the generator's distribution is the data distribution.
The discriminator minimizes the binary cross-entropy of real (label 1) vs generated (label 0) samples
(:func:`discriminator_loss`). Early in training ``log(1 - D(G(z)))`` saturates, so the generator instead
maximizes ``log D(G(z))``, the non-saturating loss (Goodfellow et al. 2014, section 3): :func:`generator_loss`.
Discriminators here return logits ``Tensor[B]``; ``D(x) = sigmoid(logit)``. The networks and losses only: the
training loop, ``train_gan``, is in :mod:`course_lib.methods.gan_training`.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``-mean log D(x) - mean log(1 - D(G(z)))``: the discriminator's BCE, real labelled 1 and fake 0 (scalar).

    Args:
        real_logits: ``Tensor[B]`` on data; fake_logits: ``Tensor[B']`` on generated samples (detach them
            when only the discriminator is being updated).
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: Tensor, *, saturating: bool = False) -> Tensor:
    """The generator's loss on ``Tensor[B]`` logits of ``D(G(z))`` (scalar).

    ``saturating=False`` (default): ``-mean log D(G(z))``, the non-saturating loss; ``saturating=True``: the
    minimax game's own ``mean log(1 - D(G(z)))``, whose gradient vanishes when ``D`` rejects the samples.
    """
    if saturating:
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class MLPGenerator(nn.Module):
    """``z: Tensor[B, latent]`` -> ``Tensor[B, out_features]`` (2-D data by default): ReLU MLP, linear output."""

    def __init__(self, latent: int = 2, out_features: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        sizes = [latent] + [hidden] * depth
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], out_features))
        self.latent = latent

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``G(z)``, ``z ~ N(0, I)`` on the model's device: ``Tensor[n, out_features]``."""
        device = next(self.parameters()).device
        return self(torch.randn(n, self.latent, generator=generator, device=device))


class MLPDiscriminator(nn.Module):
    """``Tensor[B, in_features]`` -> logits ``Tensor[B]``: LeakyReLU(0.2) MLP."""

    def __init__(self, in_features: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        sizes = [in_features] + [hidden] * depth
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(-1)


def dcgan_init_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """The DCGAN initialization (Radford et al. 2016, section 4): every conv, transposed conv and linear weight
    ``~ N(0, std^2)``, batch-norm scales ``~ N(1, std^2)``, all biases 0. In place; returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


class DCGANGenerator(nn.Module):
    """DCGAN's generator for 28x28 images: ``z: Tensor[B, latent]`` -> ``Tensor[B, C, 28, 28]``.

    A linear projection to ``2w x 7 x 7``, then two stride-2 transposed convolutions (7 -> 14 -> 28) with
    batch norm and ReLU, as in Radford et al. (2016) at MNIST's size; DCGAN-initialized.

    Args:
        latent: size of ``z``.
        width: ``w``, channels of the last hidden layer.
        channels: image channels.
        output: ``"sigmoid"`` (images in [0, 1], as the course's MNIST) or ``"tanh"`` (the paper's [-1, 1]).
    """

    def __init__(self, latent: int = 64, width: int = 64, channels: int = 1, output: str = "sigmoid") -> None:
        super().__init__()
        if output not in ("sigmoid", "tanh"):
            raise ValueError(f"output must be 'sigmoid' or 'tanh', got {output!r}")
        w = width
        self.net = nn.Sequential(
            nn.Linear(latent, 2 * w * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),  # (B, 2w, 7, 7)
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),  # 14
            nn.ConvTranspose2d(w, channels, 4, stride=2, padding=1),  # (B, C, 28, 28)
            nn.Sigmoid() if output == "sigmoid" else nn.Tanh(),
        )
        self.latent = latent
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"expected z of shape (B, {self.latent}), got {tuple(z.shape)}")
        return self.net(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images ``G(z)``, ``z ~ N(0, I)`` on the model's device: ``Tensor[n, C, 28, 28]``."""
        device = next(self.parameters()).device
        return self(torch.randn(n, self.latent, generator=generator, device=device))


class DCGANDiscriminator(nn.Module):
    """DCGAN's discriminator for 28x28 images: ``Tensor[B, C, 28, 28]`` -> logits ``Tensor[B]``.

    Two stride-2 convolutions (28 -> 14 -> 7) with LeakyReLU(0.2), batch norm on the second (none on the input
    layer, Radford et al. 2016), then a linear layer; DCGAN-initialized.
    """

    def __init__(self, width: int = 64, channels: int = 1) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),  # 7
            nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, 1),
        )
        self.channels = channels
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1:] != (self.channels, 28, 28):
            raise ValueError(f"expected (B, {self.channels}, 28, 28), got shape {tuple(x.shape)}")
        return self.net(x).squeeze(-1)
