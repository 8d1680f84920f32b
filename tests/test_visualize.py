"""Looking inside a CNN: receptive-field geometry, top patches, activation maximization, unit probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.methods.visualize import (
    class_selective_units,
    first_layer,
    maximize_activation,
    probe_accuracy,
    rank_units,
    single_vs_random_units,
    top_image_purity,
    top_patches,
    unit_geometry,
)
from course_lib.ops import empirical_receptive_field


def test_unit_geometry_matches_the_receptive_field_measured_by_backprop():
    layers = [(5, 1, 2), (2, 2, 0), (5, 1, 2)]
    geo = unit_geometry(layers)
    assert (geo.size, geo.jump, geo.start) == (14, 2, -6)
    net = nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5, padding=2))
    rf = empirical_receptive_field(net, (1, 1, 64, 64), unit=(10, 12))
    top, left = geo.start + 10 * geo.jump, geo.start + 12 * geo.jump
    expected = (top, left, top + geo.size - 1, left + geo.size - 1)
    assert rf.box == expected, f"backprop measures the box {rf.box}, the geometry says {expected}"


def test_top_patches_crop_the_receptive_field_at_the_best_position(device):
    images = torch.zeros(3, 1, 16, 16, device=device)
    images[2, 0, 9, 5] = 1.0  # one bright pixel, in image 2
    geo = unit_geometry([(3, 1, 1)])  # a 3x3 'same' convolution: unit (i, j) sees rows i-1..i+1
    fmap = nn.functional.conv2d(images, torch.ones(1, 1, 3, 3, device=device), padding=1)
    fmap[:, :, 9, 5] += 1.0  # the centre is the unique maximum
    patches = top_patches(fmap, images, geo, units=[0], k=2)
    assert patches.shape == (1, 2, 1, 3, 3)
    assert patches[0, 0, 0, 1, 1] == 1.0 and patches[0, 0].sum() == 1.0, "the best patch is centred on the pixel"
    corner = top_patches(
        torch.nn.functional.pad(torch.ones(1, 1, 1, 1, device=device), (0, 15, 0, 15)),
        images[:1] + 1,
        geo,
        units=[0],
        k=1,
    )
    assert corner[0, 0, 0, 0].sum() == 0 and corner[0, 0, 0, 1:, 1:].sum() == 4, "zeros outside the image"


def test_maximize_activation_raises_the_score_and_stays_in_the_box(device):
    torch.manual_seed(0)
    w = torch.randn(1, 1, 8, 8, device=device)
    score = lambda x: (x * w).flatten(1).sum(1)
    x = maximize_activation(score, (1, 1, 8, 8), steps=60, l2=0.0, jitter=0, blur_every=0, device=device)
    assert x.min() >= 0 and x.max() <= 1
    assert score(x) > score(torch.full_like(x, 0.5)) + 0.5 * w.abs().sum() * 0.5, "ascent reaches near the best corner"
    assert ((x > 0.5) == (w > 0)).float().mean() > 0.95, "a linear score is maximized at sign(w)"


def test_rank_units_puts_the_informative_unit_first_and_constant_units_last():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    f = rng.normal(size=(300, 5))
    f[:, 3] += 3 * y  # informative
    f[:, 1] = 0.0  # constant
    order = rank_units(f, y)
    assert order[0] == 3 and order[-1] == 1


def test_probes_from_all_units_beat_a_single_unit():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 600)
    centres = rng.normal(size=(4, 20))
    f = centres[y] + rng.normal(size=(600, 20))  # class information spread over every unit
    a, b = slice(0, 400), slice(400, 600)
    single = probe_accuracy(f[a], y[a], f[b], y[b], [0])
    assert probe_accuracy(f[a], y[a], f[b], y[b]) > single + 0.2
    res = single_vs_random_units(f[a], y[a], f[b], y[b], ks=(1, 5), repeats=2)
    assert set(res) == {"best", "random", "all"} and len(res["best"]) == 2 and len(res["all"]) == 1


def test_first_layer():
    net = nn.Sequential(nn.Flatten(), nn.Conv2d(1, 4, 3), nn.Conv2d(4, 2, 3))
    assert first_layer(net) is net[1]
    with pytest.raises(ValueError, match="the model has no Conv2d"):
        first_layer(nn.Linear(2, 2))


def test_class_selective_units_match_sklearn_auc():
    """Each class's unit is the argmax of scikit-learn's ROC AUC (the reference), ties included."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    features = rng.normal(size=(300, 12)).round(1)  # rounding makes ties
    features[:, 5] += 2.0 * (labels == 2)
    units = class_selective_units(features, labels)
    for c in range(4):
        auc = [roc_auc_score(labels == c, features[:, j]) for j in range(12)]
        assert units[c] == int(np.argmax(auc))
    assert units[2] == 5


def test_class_selective_units_refuse_bad_input():
    with pytest.raises(ValueError, match="expected features"):
        class_selective_units(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="class 1 needs positive"):
        class_selective_units(np.zeros((4, 2)), np.array([0, 0, 2, 2]))


def test_top_image_purity_local_code_vs_random_directions():
    """On a local code (one unit per class) units are pure and the top images are the largest scores."""
    labels = np.repeat(np.arange(3), 5)
    features = np.eye(3)[labels] * np.linspace(1, 2, 15)[:, None]
    assert np.allclose(top_image_purity(features, labels, np.eye(3), k=5), 1.0)
    mixed = np.array([[1.0, 1.0, 0.0]])  # classes 0 and 1 score alike: the top 10 are 5 of each
    got = top_image_purity(features, labels, mixed, k=10)
    assert got.shape == (1,) and got[0] == 0.5
    with pytest.raises(ValueError, match="directions"):
        top_image_purity(features, labels, np.eye(2))
    with pytest.raises(ValueError, match="k <="):
        top_image_purity(features, labels, np.eye(3), k=16)
