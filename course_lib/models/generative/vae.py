"""The variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014).

UvA Deep Learning, *Unsupervised learning / VAE*: the posterior ``p(z | x)`` is intractable, so an inference
network (the encoder) outputs a Gaussian ``q(z | x) = N(mu(x), diag(exp(logvar(x))))`` and the model maximizes
the variational lower bound (ELBO)

    log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z)),     p(z) = N(0, I),

a reconstruction term and a regularization term. ``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` (the
reparameterization trick, Kingma & Welling 2014, section 2.4) lets the gradient flow through the sample.
The KL between two diagonal Gaussians is in closed form (their appendix B): :func:`gaussian_kl`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .autoencoder import _mlp


def _check_gaussian(mu: Tensor, logvar: Tensor) -> None:
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(f"expected mu and logvar of one shape (B, D), got {tuple(mu.shape)}, {tuple(logvar.shape)}")


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` in closed form: ``Tensor[B, D]`` x 2 -> ``Tensor[B]``.

    ``0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)`` (Kingma & Welling 2014, appendix B).
    """
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(-1)


def reparameterize(
    mu: Tensor, logvar: Tensor, n_samples: int = 1, *, generator: torch.Generator | None = None
) -> Tensor:
    """Samples ``z = mu + sigma * eps``: ``Tensor[B, D]`` -> ``Tensor[n_samples, B, D]`` (differentiable in mu, logvar)."""
    _check_gaussian(mu, logvar)
    eps = torch.randn((n_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


class VAE(nn.Module):
    """An MLP VAE: Gaussian encoder, Bernoulli or Gaussian decoder, ``Tensor[B, ...]`` inputs (flattened).

    Args:
        in_features: input size (784 for MNIST).
        latent: dimension of ``z`` (2 for the digit-manifold figure).
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        likelihood: ``"bernoulli"`` (pixels in [0, 1]; the decoder outputs logits) or ``"gaussian"`` (the decoder
            outputs the mean; the standard deviation ``sigma`` is fixed).
        sigma: the Gaussian decoder's standard deviation.

    ``elbo_terms(x)`` returns the reconstruction log-likelihood and the KL per example; ``loss(x)`` is the
    negative ELBO averaged over the batch (nats per example); ``forward(x)`` the mean reconstruction.
    """

    def __init__(
        self,
        in_features: int = 784,
        latent: int = 20,
        hidden: Sequence[int] = (400,),
        *,
        likelihood: str = "bernoulli",
        sigma: float = 1.0,
    ) -> None:
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.encoder = _mlp([in_features, *hidden, 2 * latent], linear=False, last_activation=None)
        self.decoder = _mlp([latent, *hidden[::-1], in_features], linear=False, last_activation=None)
        self.in_features, self.latent, self.likelihood, self.sigma = in_features, latent, likelihood, float(sigma)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``q(z | x)``: ``Tensor[B, ...]`` -> ``(mu, logvar)``, each ``Tensor[B, latent]``."""
        if x[0].numel() != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} values each, got shape {tuple(x.shape)}")
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """The decoder's output for ``z`` (``Tensor[..., latent]``): Bernoulli logits or the Gaussian mean."""
        return self.decoder(z)

    def mean(self, z: Tensor) -> Tensor:
        """The decoder's mean ``E[x | z]``: ``sigmoid(logits)`` or the Gaussian mean, ``Tensor[..., in_features]``."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x | z)`` summed over pixels: ``x`` ``Tensor[B, ...]``, ``z`` ``Tensor[S, B, latent]`` -> ``Tensor[S, B]``."""
        out = self.decode(z)  # (S, B, in_features)
        target = x.flatten(1).expand_as(out)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(-1)
        s = self.sigma
        return -0.5 * (((target - out) / s).square() + 2 * math.log(s) + math.log(2 * math.pi)).sum(-1)

    def elbo_terms(
        self, x: Tensor, n_samples: int = 1, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """The ELBO's two terms, per example, ``(reconstruction, kl)``, each ``Tensor[B]``.

        ``reconstruction = E_q[log p(x | z)]`` estimated with ``n_samples`` reparameterized samples (differentiable);
        ``kl = KL(q(z | x) || N(0, I))`` in closed form. ``ELBO = reconstruction - kl <= log p(x)``.
        """
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, n_samples, generator=generator)  # (S, B, latent)
        return self.log_likelihood(x, z).mean(0), gaussian_kl(mu, logvar)

    def elbo(self, x: Tensor, n_samples: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """``reconstruction - kl`` per example, ``Tensor[B]`` (nats)."""
        rec, kl = self.elbo_terms(x, n_samples, generator=generator)
        return rec - kl

    @torch.no_grad()
    def importance_log_likelihood(
        self, x: Tensor, n_samples: int = 100, *, chunk: int = 50, generator: torch.Generator | None = None
    ) -> Tensor:
        """``log p(x)`` estimated by importance sampling with ``q(z | x)`` as proposal, ``Tensor[B]`` (nats).

        ``log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)``, ``z_k ~ q(z | x)`` (Burda et al. 2016, the IWAE bound):
        a lower bound of ``log p(x)`` in expectation that rises with ``K`` toward it; ``K = 1`` is the ELBO's
        one-sample estimate. Samples are drawn ``chunk`` at a time (memory ``chunk x B x in_features``).
        """
        if n_samples < 1 or chunk < 1:
            raise ValueError(f"n_samples and chunk must be >= 1, got {n_samples}, {chunk}")
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        log_w = []
        for start in range(0, n_samples, chunk):
            k = min(chunk, n_samples - start)
            eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + std * eps  # (k, B, latent)
            log_q = (-0.5 * eps.square() - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(-1)
            log_prior = (-0.5 * z.square() - 0.5 * math.log(2 * math.pi)).sum(-1)
            log_w.append(self.log_likelihood(x, z) + log_prior - log_q)  # (k, B)
        return torch.logsumexp(torch.cat(log_w), 0) - math.log(n_samples)

    def loss(self, x: Tensor, n_samples: int = 1) -> Tensor:
        """The negative ELBO averaged over the batch (a scalar to minimize)."""
        return -self.elbo(x, n_samples).mean()

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction of ``x`` from the posterior mean ``mu(x)``, in ``x``'s shape."""
        mu, _ = self.encode(x)
        return self.mean(mu).view_as(x)

    @torch.no_grad()
    def sample(
        self, n: int, *, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` samples of the decoder's mean at ``z ~ N(0, I)``: ``Tensor[n, in_features]``."""
        device = next(self.parameters()).device if device is None else torch.device(device)
        z = torch.randn(n, self.latent, generator=generator, device=device)
        return self.mean(z)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, latent={self.latent}, likelihood={self.likelihood!r}"
