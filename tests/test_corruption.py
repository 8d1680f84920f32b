"""Randomization tests of Zhang et al. (2017): corrupted labels, shuffled pixels, random pixels, Gaussian inputs."""

from __future__ import annotations

import pytest
import torch

from course_lib.data.synthetic import corrupt_labels, gaussian_like, random_pixels, shuffle_pixels


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_corrupt_labels_redraws_exactly_a_fraction_p(device, p):
    y = torch.arange(200, device=device) % 10
    labels, replaced = corrupt_labels(y, p, num_classes=10, seed=3)
    assert labels.device == y.device and labels.dtype == y.dtype
    assert int(replaced.sum()) == round(p * len(y))
    assert torch.equal(labels[~replaced], y[~replaced]), "labels not redrawn must be kept"
    assert labels.min() >= 0 and labels.max() < 10


def test_corrupt_labels_is_uniform_and_seeded(device):
    y = torch.zeros(20_000, dtype=torch.long, device=device)
    labels, _ = corrupt_labels(y, 1.0, num_classes=10, seed=0)
    freq = torch.bincount(labels, minlength=10).float() / len(y)
    assert (freq - 0.1).abs().max() < 0.01, f"random labels should be uniform, got {freq.tolist()}"
    assert torch.equal(labels, corrupt_labels(y, 1.0, num_classes=10, seed=0)[0])
    assert not torch.equal(labels, corrupt_labels(y, 1.0, num_classes=10, seed=1)[0])


def test_corrupt_labels_rejects_bad_input():
    with pytest.raises(ValueError, match="p must be"):
        corrupt_labels(torch.zeros(3, dtype=torch.long), 1.5, 10)
    with pytest.raises(ValueError, match="class indices"):
        corrupt_labels(torch.zeros(3), 0.5, 10)


def test_shuffle_pixels_applies_one_fixed_permutation(device):
    x = torch.rand(5, 3, 4, 6, device=device)
    out = shuffle_pixels(x, seed=7)
    flat_in, flat_out = x.flatten(2), out.flatten(2)
    # recover the permutation from the first image's first channel and check it maps every image and channel
    perm = torch.stack([(flat_in[0, 0] == v).nonzero()[0, 0] for v in flat_out[0, 0]])
    assert torch.equal(flat_out, flat_in[:, :, perm])
    assert sorted(perm.tolist()) == list(range(24)) and perm.tolist() != list(range(24))
    assert torch.equal(out, shuffle_pixels(x, seed=7)), "the permutation depends only on the seed"
    x2 = torch.rand(2, 3, 4, 6, device=device)
    assert torch.equal(shuffle_pixels(x2, seed=7).flatten(2), x2.flatten(2)[:, :, perm]), "same seed, same permutation"


def test_random_pixels_permutes_each_image_differently(device):
    n, hw = 50, 16
    x = torch.arange(n * hw, dtype=torch.float32, device=device).reshape(
        n, 1, 4, 4
    )  # distinct values: a permutation is visible
    out = random_pixels(x, seed=0)
    assert torch.equal(out.flatten(1).sort(1).values, x.flatten(1)), "each image keeps its own pixel values"
    perms = (out.flatten(1) - x.flatten(1)[:, :1]).long()  # value - first value = source index
    assert len({tuple(p.tolist()) for p in perms}) == n, "every image gets its own permutation"
    rgb = torch.rand(3, 3, 4, 4, device=device)
    o = random_pixels(rgb, seed=1).flatten(2)
    idx = torch.stack([torch.stack([(rgb.flatten(2)[i, 0] == v).nonzero()[0, 0] for v in o[i, 0]]) for i in range(3)])
    assert torch.equal(o, torch.stack([rgb.flatten(2)[i][:, idx[i]] for i in range(3)])), (
        "channels share the permutation"
    )


def test_gaussian_like_matches_mean_and_variance(device):
    x = torch.rand(2000, 1, 8, 8, device=device) * 0.5 + 0.2
    g = gaussian_like(x, seed=0)
    assert g.shape == x.shape and g.device == x.device
    assert abs(float(g.mean() - x.mean())) < 0.005 and abs(float(g.std() / x.std()) - 1) < 0.01
    assert torch.equal(g, gaussian_like(x, seed=0))


def test_image_functions_reject_non_images():
    with pytest.raises(ValueError, match="expected images"):
        shuffle_pixels(torch.rand(3, 4))
    with pytest.raises(ValueError, match="expected images"):
        random_pixels(torch.rand(3, 4))
