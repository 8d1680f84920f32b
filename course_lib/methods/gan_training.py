"""Training a generative adversarial net: alternating discriminator and generator steps through the engine.

Goodfellow et al., "Generative Adversarial Nets" (NIPS 2014), Algorithm 1 with one ``D`` step per ``G`` step, and the
DCGAN training of Radford, Metz & Chintala (ICLR 2016). The players and their losses are networks and live in
:mod:`course_lib.models.generative.gan`; this loop is a method built on them and on the engine's ``train_step``
(it sits above both in the package's layers, see ``course_lib/README.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import DRY_RUN_STEPS, dry_run, progress_enabled
from ..engine.loop import train_step
from ..models.generative.gan import generator_loss
from ..utils import eval_mode, model_device


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
