"""Notebook 02's helpers: the four-layer CNN (ReLU vs tanh), training to an error target, random crops, LRN."""

import pytest
import torch

from course_lib.data import RandomCrop, random_crop
from course_lib.engine import ErrorCurve, iterations_to_target, running_mean
from course_lib.models import SMALL, AlexNet, SmallCNN, gaussian_init_


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_small_cnn_shapes_and_activation(activation, device):
    model = SmallCNN(activation, channels=(4, 8, 8)).to(device)
    assert model(torch.randn(3, 1, 28, 28, device=device)).shape == (3, 10)
    kinds = {type(m).__name__ for m in model.modules()}
    assert ("ReLU" in kinds) == (activation == "relu") and ("Tanh" in kinds) == (activation == "tanh")
    assert sum(isinstance(m, torch.nn.Conv2d | torch.nn.Linear) for m in model.modules()) == 4  # four layers
    with pytest.raises(ValueError, match="activation"):
        SmallCNN("swish")
    with pytest.raises(ValueError, match="too small"):
        SmallCNN(input_size=4)


@pytest.mark.parametrize("seed", [0, 1])
def test_gaussian_init_draws_the_papers_distribution(seed):
    torch.manual_seed(seed)
    model = gaussian_init_(SmallCNN(channels=(32, 64, 64)), std=0.01, bias=1.0)
    w = torch.cat(
        [m.weight.detach().flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    )
    assert abs(float(w.std()) - 0.01) < 3e-4 and abs(float(w.mean())) < 3e-4
    assert all(bool((m.bias == 1.0).all()) for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    with pytest.raises(ValueError, match="std"):
        gaussian_init_(model, std=0.0)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_running_mean_and_iterations_to_target_match_a_naive_loop(window):
    g = torch.Generator().manual_seed(window)
    errors = torch.rand(40, generator=g, dtype=torch.float64).sort(descending=True).values
    naive = torch.tensor([float(errors[max(0, i - window + 1) : i + 1].mean()) for i in range(40)], dtype=torch.float64)
    assert torch.allclose(running_mean(errors, window), naive)
    target = float(naive[24] + naive[25]) / 2  # between two values: no tie to break by rounding
    first = next(i + 1 for i in range(40) if naive[i] <= target)
    assert iterations_to_target(ErrorCurve(errors.tolist()), target, window) == first
    assert iterations_to_target(errors, -1.0, window) is None
    with pytest.raises(ValueError, match="window"):
        running_mean(errors, 0)


@pytest.mark.parametrize("padding", [0, 1, 3])
def test_random_crop_matches_a_naive_loop(padding, device):
    x = torch.randn(6, 2, 9, 7, device=device)
    out = random_crop(x, padding, generator=torch.Generator(device=device).manual_seed(3), fill=-1.0)
    g = torch.Generator(device=device).manual_seed(3)
    if padding:
        tops = torch.randint(0, 2 * padding + 1, (6,), generator=g, device=device)
        lefts = torch.randint(0, 2 * padding + 1, (6,), generator=g, device=device)
    else:
        tops = lefts = torch.zeros(6, dtype=torch.long)
    padded = torch.nn.functional.pad(x, (padding,) * 4, value=-1.0)
    for b in range(6):
        t, left = int(tops[b]), int(lefts[b])
        assert torch.equal(out[b], padded[b, :, t : t + 9, left : left + 7])
    assert out.shape == x.shape


def test_random_crop_flips_and_transform(device):
    x = torch.randn(32, 1, 5, 5, device=device)
    out = random_crop(x, 0, flip=True, generator=torch.Generator(device=device).manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < 32
    t1, t2 = RandomCrop(2, seed=4), RandomCrop(2, seed=4)
    assert torch.equal(t1(x), t2(x)) and not torch.equal(t1(x), t2(x).flip(0))
    with pytest.raises(ValueError, match="padding"):
        random_crop(x, -1)
    with pytest.raises(ValueError, match="B, C, H, W"):
        random_crop(x[0], 1)


def test_alexnet_lrn_is_the_papers_equation():
    """Krizhevsky et al. 2012, section 3.3: b_i = a_i / (k + alpha * sum_{j=i-2}^{i+2} a_j^2)^beta, k=2, alpha=1e-4."""
    lrn = AlexNet(SMALL).features.norm1
    a = torch.rand(2, 24, 4, 4, dtype=torch.float64) * 30  # large activations, so the normalization matters
    ref = torch.empty_like(a)
    for i in range(24):
        s = (a[:, max(0, i - 2) : min(24, i + 3)] ** 2).sum(1)
        ref[:, i] = a[:, i] / (2.0 + 1e-4 * s) ** 0.75
    assert torch.allclose(lrn(a), ref)
