"""The 2-D mixtures of Gaussians (ring, grid) and the mode-coverage measure of mode collapse (VEEGAN's)."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.data.synthetic import gaussian_mixture, mixture_centers, mode_coverage


def test_centers_ring_and_grid():
    ring = mixture_centers("ring", 8, 2.0)
    assert ring.shape == (8, 2)
    torch.testing.assert_close(ring.norm(dim=1), torch.full((8,), 2.0))
    gaps = (ring - ring.roll(1, 0)).norm(dim=1)  # neighbours equally spaced: a regular octagon
    torch.testing.assert_close(gaps, torch.full((8,), 2 * 2.0 * math.sin(math.pi / 8)))
    grid = mixture_centers("grid", 25, 1.5)
    assert grid.shape == (25, 2) and torch.allclose(grid.mean(0), torch.zeros(2), atol=1e-6)
    assert sorted(set(grid[:, 0].tolist())) == [-3.0, -1.5, 0.0, 1.5, 3.0]
    with pytest.raises(ValueError, match="square"):
        mixture_centers("grid", 8)
    with pytest.raises(ValueError, match="kind"):
        mixture_centers("spiral")


def test_mixture_is_seeded_and_matches_its_parameters(device):
    x, mode = gaussian_mixture(20_000, "ring", std=0.1, seed=3, device=device)
    x2, _ = gaussian_mixture(20_000, "ring", std=0.1, seed=3, device=device)
    assert x.shape == (20_000, 2) and x.device.type == device.type and torch.equal(x, x2)
    assert not torch.equal(x, gaussian_mixture(20_000, "ring", std=0.1, seed=4, device=device)[0])
    counts = torch.bincount(mode, minlength=8).float()
    assert (counts / len(mode) - 1 / 8).abs().max() < 0.01  # equal weights
    resid = x - mixture_centers("ring", 8).to(device)[mode]
    assert abs(float(resid.std()) - 0.1) < 0.003 and resid.mean(0).abs().max() < 0.005


def test_mode_coverage_counts_collapse():
    centers = mixture_centers("ring", 8, 2.0)
    x, _ = gaussian_mixture(8000, "ring", std=0.05, seed=0)
    full = mode_coverage(x, centers, 0.05)
    # 2-D Gaussian: P(|x - mu| <= 3 sigma) = 1 - exp(-9 / 2)
    assert full["modes"] == 8 and abs(full["high_quality"] - (1 - math.exp(-4.5))) < 0.005
    collapsed = x[(_ := gaussian_mixture(8000, "ring", std=0.05, seed=0)[1]) < 3]  # only modes 0, 1, 2
    cov = mode_coverage(collapsed, centers, 0.05)
    assert cov["modes"] == 3 and cov["counts"][3:].sum() == 0
    far = mode_coverage(torch.zeros(100, 2), centers, 0.05)  # all samples at the ring's centre: none is good
    assert far["modes"] == 0 and far["high_quality"] == 0.0
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mode_coverage(torch.zeros(5, 3), centers, 0.05)
