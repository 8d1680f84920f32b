"""The GAN's optimal discriminator, the Jensen-Shannon divergence and the mixture density, pinned by quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from course_lib.data.synthetic import gaussian_mixture, mixture_centers, mixture_log_density
from course_lib.metrics import game_value, jensen_shannon, optimal_discriminator


def test_mixture_log_density_matches_scipy():
    centers = mixture_centers("ring", 8, 2.0)
    x, _ = gaussian_mixture(50, "ring", std=0.3, seed=1)
    ref = np.log(
        np.mean([stats.multivariate_normal(c.numpy(), 0.09 * np.eye(2)).pdf(x.numpy()) for c in centers], axis=0)
    )
    torch.testing.assert_close(
        mixture_log_density(x, centers, 0.3), torch.from_numpy(ref).float(), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="expected x"):
        mixture_log_density(torch.zeros(3), centers, 0.3)


def test_optimal_discriminator_is_the_density_ratio():
    lp, lq = torch.tensor([-1.0, -3.0, -800.0]), torch.tensor([-2.0, -3.0, -801.0])
    expected = torch.tensor([math.e / (math.e + 1), 0.5, math.e / (math.e + 1)])
    torch.testing.assert_close(optimal_discriminator(lp, lq), expected)  # no underflow at -800
    with pytest.raises(ValueError, match="one shape"):
        optimal_discriminator(lp, lq[:2])


def test_jensen_shannon_of_two_gaussians_matches_quadrature():
    """Two 1-D Gaussians: the Monte Carlo estimate agrees with scipy's quadrature of the JSD integral."""
    p, q = stats.norm(0.0, 1.0), stats.norm(1.5, 0.7)
    m = lambda t: 0.5 * (p.pdf(t) + q.pdf(t))
    kl = lambda a: integrate.quad(lambda t: a.pdf(t) * math.log(a.pdf(t) / m(t)), -12, 12)[0]
    ref = 0.5 * kl(p) + 0.5 * kl(q)
    g = np.random.default_rng(0)
    xp, xq = p.rvs(200_000, random_state=g), q.rvs(200_000, random_state=g)
    t = lambda a: torch.from_numpy(a)
    est = jensen_shannon(t(p.logpdf(xp)), t(q.logpdf(xp)), t(p.logpdf(xq)), t(q.logpdf(xq)))
    assert abs(float(est) - ref) < 3e-3
    same = jensen_shannon(t(p.logpdf(xp)), t(p.logpdf(xp)), t(p.logpdf(xq)), t(p.logpdf(xq)))
    assert float(same) == pytest.approx(0.0, abs=1e-12)


def test_game_value_at_the_optimum_is_minus_log4_plus_2jsd():
    """Goodfellow et al. 2014, Theorem 1: V(D*, G) = -log 4 + 2 JSD(p_data || p_g), here by Monte Carlo."""
    centers = mixture_centers("ring", 8, 2.0)
    xd, _ = gaussian_mixture(100_000, "ring", std=0.1, seed=0)
    xg, _ = gaussian_mixture(100_000, "ring", std=0.4, seed=1)
    ld = lambda x: mixture_log_density(x, centers, 0.1)
    lg = lambda x: mixture_log_density(x, centers, 0.4)
    v = game_value(optimal_discriminator(ld(xd), lg(xd)), optimal_discriminator(ld(xg), lg(xg)))
    jsd = jensen_shannon(ld(xd), lg(xd), ld(xg), lg(xg))
    torch.testing.assert_close(v, -math.log(4) + 2 * jsd, rtol=0, atol=1e-4)
