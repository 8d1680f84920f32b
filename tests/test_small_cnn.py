"""course_lib.models.classic.small_cnn: the four-layer CNN of notebook 02 (ReLU vs tanh) and its Gaussian init."""

import pytest
import torch

from course_lib.models import SmallCNN, gaussian_init_


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
