"""Empirical Rademacher complexity: the correlation of the definition, and its estimate by training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.methods import empirical_rademacher, rademacher_correlation, random_signs


def test_random_signs_are_balanced_and_seeded(device):
    s = random_signs(10_000, seed=0, device=device)
    assert s.device.type == device.type and set(s.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(s.mean())) < 0.03
    assert torch.equal(s, random_signs(10_000, seed=0, device=device))


def test_rademacher_correlation_matches_the_definition(device):
    sigma = random_signs(257, seed=1, device=device)
    h = random_signs(257, seed=2, device=device)
    naive = sum(float(s) * float(v) for s, v in zip(sigma, h)) / len(sigma)  # (1/n) sum_i sigma_i h(x_i)
    assert float(rademacher_correlation(sigma, h)) == pytest.approx(naive, abs=1e-6)
    assert float(rademacher_correlation(sigma, sigma)) == 1.0
    assert float(rademacher_correlation(sigma, -sigma)) == -1.0
    with pytest.raises(ValueError, match="sigma and h must be vectors of the same length"):
        rademacher_correlation(sigma, h[:-1])


def test_a_constant_class_has_complexity_near_zero_and_a_memorizer_near_one():
    torch.manual_seed(0)
    x = torch.randn(64, 5)

    class Constant(nn.Module):  # h(x) = the same class for every x: sup over a one-element class
        def __init__(self):
            super().__init__()
            self.b = nn.Parameter(torch.zeros(2))

        def forward(self, x):
            return self.b.expand(len(x), 2)

    const = empirical_rademacher(Constant, x, draws=4, steps=100, lr=0.1, batch_size=64, seed=0)
    # the best constant correlates |mean(sigma)| with sigma: small, of order 1/sqrt(n)
    assert const.value < 0.35 and len(const.correlations) == 4
    wide = empirical_rademacher(
        lambda: nn.Sequential(nn.Linear(5, 256), nn.ReLU(), nn.Linear(256, 2)),
        x,
        draws=2,
        steps=600,
        lr=1e-2,
        batch_size=64,
        seed=0,
    )
    assert wide.value > 0.95, f"a wide MLP memorizes 64 random signs, got {wide.correlations}"
