"""The GAN's optimal discriminator and the Jensen-Shannon divergence, for densities known in closed form.

Goodfellow et al. 2014, "Generative adversarial nets", Proposition 1: for a fixed generator, the discriminator that
maximizes ``V(D, G) = E_data[log D(x)] + E_g[log(1 - D(x))]`` is

    D*(x) = p_data(x) / (p_data(x) + p_g(x)),

and (Theorem 1) the game's value at ``D*`` is ``C(G) = -log 4 + 2 JSD(p_data || p_g)``: its minimum ``-log 4`` is
reached if and only if ``p_g = p_data``, where ``D* = 1/2`` everywhere. With both densities known (a mixture of
Gaussians, :func:`course_lib.data.synthetic.mixture_log_density`), these can be computed and set beside a trained
discriminator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["game_value", "jensen_shannon", "optimal_discriminator"]


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """``D*(x) = p_data / (p_data + p_g)`` from the two log-densities at the same points (``sigmoid`` of their
    difference, stable where both densities underflow): ``Tensor[N]`` x 2 -> ``Tensor[N]`` in ``[0, 1]``."""
    if log_p_data.shape != log_p_g.shape:
        raise ValueError(f"expected log-densities of one shape, got {tuple(log_p_data.shape)}, {tuple(log_p_g.shape)}")
    return torch.sigmoid(log_p_data - log_p_g)


def jensen_shannon(log_p_at_p: Tensor, log_q_at_p: Tensor, log_p_at_q: Tensor, log_q_at_q: Tensor) -> Tensor:
    """Monte Carlo ``JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m)``, ``m = (p + q) / 2``, in nats (0 to ``log 2``).

    Args:
        log_p_at_p, log_q_at_p: ``log p`` and ``log q`` at samples of ``p`` (``Tensor[N]``);
        log_p_at_q, log_q_at_q: the same at samples of ``q`` (``Tensor[M]``).

    ``KL(p || m) = E_p[log p - log m]`` with ``log m = logaddexp(log p, log q) - log 2``.
    """
    if log_p_at_p.shape != log_q_at_p.shape or log_p_at_q.shape != log_q_at_q.shape:
        raise ValueError("expected log p and log q at the same points: shapes differ")
    kl_pm = (math.log(2) + log_p_at_p - torch.logaddexp(log_p_at_p, log_q_at_p)).mean()
    kl_qm = (math.log(2) + log_q_at_q - torch.logaddexp(log_p_at_q, log_q_at_q)).mean()
    return 0.5 * (kl_pm + kl_qm)


def game_value(d_at_data: Tensor, d_at_g: Tensor, *, eps: float = 1e-7) -> Tensor:
    """``V(D, G) = E_data[log D(x)] + E_g[log(1 - D(x))]`` estimated on samples (``D`` as probabilities)."""
    return d_at_data.clamp(eps, 1 - eps).log().mean() + (1 - d_at_g).clamp(eps, 1 - eps).log().mean()
