"""Generative adversarial nets (Goodfellow et al., "Generative Adversarial Nets", NIPS 2014) and DCGAN
(Radford, Metz & Chintala, "Unsupervised representation learning with deep convolutional GANs", ICLR 2016).

UvA Deep Learning, *GANs* ("police vs thief"): a generator ``G(z)`` and a discriminator ``D(x)`` play

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))];

STA211/RCP209: at the optimum of this game the generator's distribution is the data distribution.
The discriminator minimizes the binary cross-entropy of real (label 1) vs generated (label 0) samples
(:func:`discriminator_loss`). Early in training ``log(1 - D(G(z)))`` saturates, so the generator instead
maximizes ``log D(G(z))``, the non-saturating loss (Goodfellow et al. 2014, section 3): :func:`generator_loss`.
Discriminators here return logits ``Tensor[B]``; ``D(x) = sigmoid(logit)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

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


def _d_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """:func:`discriminator_loss` on one batch of real (label 1) and fake (label 0) logits, with no host sync."""
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    n_real = labels.sum()
    return (bce * labels).sum() / n_real + (bce * (1 - labels)).sum() / (len(labels) - n_real)


class SplitBatch(nn.Module):
    """Runs ``D`` on the two halves of ``cat(real, fake)`` separately: ``Tensor[2B, ...]`` -> logits ``Tensor[2B]``.

    With batch norm in ``D``, one forward pass on the mixed batch would normalize real and fake samples together,
    while the generator's step shows ``D`` fake samples alone; separate passes keep the statistics the same in both
    steps, as in the DCGAN reference training (Radford et al. 2016).
    """

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, x: Tensor) -> Tensor:
        real, fake = x.chunk(2)
        return torch.cat([self.D(real), self.D(fake)])


@dataclass
class GANHistory:
    """What :func:`train_gan` returns: each round's losses, and ``(step, snapshot)`` pairs (step 0 before training)."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    snapshots: list[tuple[int, Any]] = field(default_factory=list)


def train_gan(
    G: nn.Module,
    D: nn.Module,
    real: Tensor | Callable[[int], Tensor],
    *,
    steps: int,
    latent: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    opt_g: torch.optim.Optimizer | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    saturating: bool = False,
    snapshot_every: int | None = None,
    snapshot: Callable[[nn.Module], Any] | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool | None = None,
    desc: str = "GAN",
) -> GANHistory:
    """Alternating GAN training (Goodfellow et al. 2014, Algorithm 1 with one ``D`` step per ``G`` step).

    Each round is two :func:`course_lib.engine.train_step` calls: the discriminator on ``cat(real, G(z).detach())``
    (each half in its own forward pass, :class:`SplitBatch`) with :func:`discriminator_loss` and ``opt_d``; then the
    generator through ``nn.Sequential(G, D)`` on fresh ``z`` with :func:`generator_loss` and ``opt_g`` only (``D``'s
    gradients of that step are cleared by ``D``'s next ``zero_grad``, never applied).

    Args:
        G, D: the players (moved to ``device``); ``D`` returns logits ``Tensor[B]``.
        real: the data, ``Tensor[N, ...]`` (batches drawn uniformly with replacement), or ``real(n)`` -> ``n`` samples.
        steps: rounds (capped at :data:`~course_lib.config.DRY_RUN_STEPS` under ``COURSE_DRY_RUN=1``).
        latent: the size of ``z ~ N(0, I)``.
        lr, betas: Adam's, for both players when ``opt_g``/``opt_d`` are not given (DCGAN's: 2e-4, (0.5, 0.999)).
        saturating: the generator minimizes the minimax ``log(1 - D(G(z)))`` instead of ``-log D(G(z))``.
        snapshot_every: call ``snapshot(G)`` before training, every that many rounds and after the last one.
        snapshot: ``G`` -> anything (default: ``G`` on a fixed batch of 512 ``z``, eval mode, on the CPU).
        device: where to train (default: ``G``'s device). seed: seeds ``z``, the data draws and the default snapshot.
        progress: show a progress bar (default: :func:`course_lib.config.progress_enabled`).

    Returns:
        A :class:`GANHistory` (the losses fetched once, at the end).
    """
    from ...config import DRY_RUN_STEPS, dry_run, model_device, progress_enabled
    from ...engine import eval_mode, train_step  # late import: models stay importable without the engine

    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps}, {batch_size}")
    device = model_device(G) if device is None else torch.device(device)
    G.to(device)
    D.to(device)
    opt_g = opt_g or torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = opt_d or torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    g = torch.Generator(device=device).manual_seed(seed)
    if snapshot is None:
        z_fixed = torch.randn(512, latent, generator=g, device=device)

        def snapshot(gen: nn.Module) -> Tensor:
            with torch.no_grad(), eval_mode(gen):
                return gen(z_fixed).cpu()

    if isinstance(real, Tensor):
        data = real.to(device)
        draw = lambda n: data[torch.randint(0, len(data), (n,), generator=g, device=device)]
    else:
        draw = real
    stacked, split = nn.Sequential(G, D), SplitBatch(D)
    labels = torch.cat([torch.ones(batch_size, device=device), torch.zeros(batch_size, device=device)])
    ones = labels[:batch_size]
    g_loss_fn = lambda logits, _: generator_loss(logits, saturating=saturating)
    history, d_losses, g_losses = GANHistory(), [], []
    every = snapshot_every if snapshot_every else None
    if every:
        history.snapshots.append((0, snapshot(G)))
    total = min(steps, DRY_RUN_STEPS) if dry_run() else steps
    from tqdm.auto import tqdm

    show = progress_enabled() if progress is None else progress
    G.train()
    D.train()
    for step in tqdm(range(1, total + 1), desc=desc, disable=not show, mininterval=1.0):
        x_real = draw(batch_size).to(device)
        with torch.no_grad():
            fake = G(torch.randn(batch_size, latent, generator=g, device=device))
        d_loss, _ = train_step(split, torch.cat([x_real, fake]), labels, opt_d, loss_fn=_d_loss)
        z = torch.randn(batch_size, latent, generator=g, device=device)
        g_loss, _ = train_step(stacked, z, ones, opt_g, loss_fn=g_loss_fn)
        d_losses.append(d_loss)
        g_losses.append(g_loss)
        if every and (step % every == 0 or step == total):
            history.snapshots.append((step, snapshot(G)))
    history.d_loss = torch.stack(d_losses).tolist()
    history.g_loss = torch.stack(g_losses).tolist()
    return history
