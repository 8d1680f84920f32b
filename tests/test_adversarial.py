"""FGSM and PGD against their definitions: a linear model, where the worst L-infinity perturbation is eps * sign(w)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data import DeviceLoader
from course_lib.engine import fit
from course_lib.methods import AdversariallyTrained, Normalize, fgsm, input_gradient, pgd, project_linf, robust_accuracy


def _linear(device, d=12, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 2)).to(device)
    w = model[1].weight
    return model, (w[1] - w[0]).detach()  # the margin logit_1 - logit_0 = (w1 - w0) . x + b


def test_fgsm_on_a_linear_model_is_the_closed_form_worst_case(device):
    model, w = _linear(device)
    x = 0.25 + 0.5 * torch.rand(32, 12, device=device)  # inside [0, 1] with room for eps
    y = torch.zeros(32, dtype=torch.long, device=device)  # class 0: the loss grows with the margin (w1 - w0) . x
    eps = 0.1
    x_adv = fgsm(model, x, y, eps)
    assert torch.allclose(x_adv, x + eps * w.sign(), atol=1e-6), "FGSM must be x + eps * sign(w) on a linear model"
    # it is the worst case: no point of the ball raises the margin more than eps * ||w||_1
    margin = lambda z: z @ w
    assert torch.allclose(margin(x_adv) - margin(x), eps * w.abs().sum().expand(32), atol=1e-5)
    probe = project_linf(x + eps * (2 * torch.rand(500, 32, 12, device=device) - 1), x, eps)
    assert (margin(probe) <= margin(x_adv) + 1e-5).all()


def test_pgd_on_a_linear_model_reaches_the_same_corner(device):
    model, w = _linear(device, seed=1)
    x = 0.25 + 0.5 * torch.rand(16, 12, device=device)
    y = torch.zeros(16, dtype=torch.long, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    x_adv = pgd(model, x, y, 0.1, steps=20, alpha=0.02, generator=gen)
    assert torch.allclose(x_adv, x + 0.1 * w.sign(), atol=1e-5)
    one_step = pgd(model, x, y, 0.1, steps=1, alpha=0.1, random_start=False)
    assert torch.allclose(one_step, fgsm(model, x, y, 0.1)), "one PGD step of size eps from x is FGSM"


@pytest.mark.parametrize("eps", [0.0, 0.03, 0.3])
def test_attacks_stay_in_the_ball_and_in_the_image_box(device, eps):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3)).to(device)
    x = torch.rand(40, 1, 4, 4, device=device)
    x[:5] = 0.0
    x[5:10] = 1.0  # saturated pixels: the clamp must act
    y = torch.randint(0, 3, (40,), device=device)
    for x_adv in (fgsm(model, x, y, eps), pgd(model, x, y, eps, steps=5)):
        assert x_adv.shape == x.shape and not x_adv.requires_grad
        assert (x_adv - x).abs().max() <= eps + 1e-6
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_projection_is_the_nearest_point_of_the_ball_and_box():
    x = torch.tensor([0.0, 0.5, 0.95, 0.5])
    z = torch.tensor([-0.3, 0.9, 1.2, 0.52])
    assert torch.allclose(project_linf(z, x, 0.1), torch.tensor([0.0, 0.6, 1.0, 0.52]))


def test_input_gradient_matches_autograd_and_leaves_parameters_alone(device):
    model, _ = _linear(device)
    x, y = torch.rand(8, 12, device=device), torch.randint(0, 2, (8,), device=device)
    g = input_gradient(model, x, y)
    xr = x.clone().requires_grad_(True)
    ref = torch.autograd.grad(F.cross_entropy(model(xr), y), xr)[0]
    assert torch.allclose(g, ref) and all(p.grad is None for p in model.parameters())


def test_attacks_reject_inputs_outside_the_box():
    model, _ = _linear("cpu")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fgsm(model, torch.full((2, 12), 2.0), torch.zeros(2, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="eps"):
        pgd(model, torch.rand(2, 12), torch.zeros(2, dtype=torch.long), -0.1)


def test_normalize_inside_the_model():
    n = Normalize(0.5, 0.25)
    assert torch.allclose(n(torch.tensor([0.5, 1.0])), torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="std must be > 0"):
        Normalize(0.0, 0.0)


def test_adversarially_trained_feeds_the_attack_in_training_and_clean_inputs_in_eval(device):
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Dropout(0.5), nn.Linear(16, 2)).to(device)
    seen = []

    def attack(m, a, b):
        seen.append(m.training)  # the attack runs against the model in eval mode
        return fgsm(m, a, b, 0.1)

    wrapped = AdversariallyTrained(inner, attack).train()
    x, y = torch.rand(10, 12, device=device), torch.randint(0, 2, (10,), device=device)
    out = wrapped(x, y)
    assert seen == [False] and inner.training, "attack in eval mode, then back to training mode"
    inner.eval()
    x_adv = fgsm(inner, x, y, 0.1)
    wrapped.eval()
    assert torch.allclose(wrapped(x, y), inner(x)), "in eval mode the wrapper is the model"
    assert torch.allclose(wrapped.model(x_adv), inner(x_adv)) and out.shape == (10, 2)


def test_modes_come_back_per_module_and_on_error():
    """robust_accuracy and AdversariallyTrained switch to eval through ``eval_mode``: each sub-module gets its own mode
    back (a frozen Dropout stays in eval inside a training model), and the modes come back when the attack raises."""
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Dropout(0.5), nn.Linear(16, 2)).train()
    inner[2].eval()  # a frozen sub-module
    x, y = torch.rand(6, 12), torch.randint(0, 2, (6,))

    def modes():
        return [m.training for m in inner.modules()]

    before = modes()
    robust_accuracy(inner, x, y, lambda m, a, b: fgsm(m, a, b, 0.1))
    assert modes() == before
    wrapped = AdversariallyTrained(inner, lambda m, a, b: fgsm(m, a, b, 0.1)).train()
    inner[2].eval()
    before = modes()
    wrapped(x, y)
    assert modes() == before, "the frozen Dropout stays in eval, the rest in training"

    def broken(m, a, b):
        assert not any(sub.training for sub in m.modules())  # the whole model is in eval during the attack
        raise RuntimeError("attack failed")

    failing = AdversariallyTrained(inner, broken).train()  # .train() sets every sub-module: freeze after it
    for call in (lambda: robust_accuracy(inner, x, y, broken), lambda: failing(x, y)):
        inner[2].eval()
        before = modes()
        with pytest.raises(RuntimeError, match="attack failed"):
            call()
        assert modes() == before


def test_fit_trains_on_adversarial_examples(device):
    torch.manual_seed(0)
    x = torch.rand(64, 12, device=device)
    y = (x[:, 0] > 0.5).long()
    wrapped = AdversariallyTrained(
        nn.Sequential(nn.Linear(12, 2)).to(device), lambda m, a, b: pgd(m, a, b, 0.05, steps=2)
    )
    h = fit(wrapped, DeviceLoader(x, y, 32, seed=0), steps=4, lr=1e-2, forward_targets=True, progress=False)
    assert sum(h.steps) == 4 and 0.0 <= robust_accuracy(wrapped.model, x, y) <= 1.0
