"""Adversarial examples: FGSM and PGD in the L-infinity ball, robust accuracy, adversarial training.

Lectures: INRIA "robustness to adversarial examples"; RCP209 "open questions". Szegedy et al. (2014) found
imperceptible perturbations that change a network's decision; Goodfellow, Shlens & Szegedy (ICLR 2015)
explained them by the networks' near-linearity and gave the *fast gradient sign method*

    x_adv = clip_[0,1]( x + eps * sign(grad_x L(f(x), y)) ),

the exact worst case of the first-order (linear) model of the loss in ``||delta||_inf <= eps``.
Madry et al. (ICLR 2018) iterate it from a random start in the ball, projecting back after each step
(*projected gradient descent*, PGD), and train on PGD examples (adversarial training).

Conventions: images in [0, 1]; the model takes them raw and normalizes inside (:class:`Normalize`), so the
ball and the clamp live in pixel space. Gradients are taken with ``torch.autograd.grad`` with respect to
the input only: the model's parameters and their ``.grad`` are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import eval_mode

Attack = Callable[[nn.Module, Tensor, Tensor], Tensor]


class Normalize(nn.Module):
    """``(x - mean) / std``, as a first layer, so that attacks see [0, 1] pixels. ``Tensor[B, ...]`` -> same."""

    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def input_gradient(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable = F.cross_entropy) -> Tensor:
    """``grad_x loss_fn(model(x), y)`` (``Tensor`` of ``x``'s shape), without touching the parameters' gradients."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def project_linf(x_adv: Tensor, x: Tensor, eps: float) -> Tensor:
    """Project ``x_adv`` onto ``{z : ||z - x||_inf <= eps}`` intersected with the image box ``[0, 1]``."""
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def _check(x: Tensor, eps: float) -> None:
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("inputs must lie in [0, 1] (normalize inside the model, see Normalize)")


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, loss_fn: Callable = F.cross_entropy) -> Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015): ``clip(x + eps * sign(grad_x L), 0, 1)``.

    Args:
        model: maps [0, 1] images ``Tensor[B, ...]`` to logits ``Tensor[B, K]``.
        x: clean inputs in [0, 1]; ``y``: their targets (what ``loss_fn`` takes).
        eps: L-infinity budget, in pixel units.

    Returns:
        ``x_adv`` (detached), with ``||x_adv - x||_inf <= eps`` and values in [0, 1].
    """
    _check(x, eps)
    grad = input_gradient(model, x, y, loss_fn)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()


def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    loss_fn: Callable = F.cross_entropy,
) -> Tensor:
    """Projected gradient ascent on the loss in the L-infinity ball (Madry et al. 2018).

    ``x_0 = x + U(-eps, eps)`` (``random_start``) projected; ``x_{t+1} = P(x_t + alpha * sign(grad_x L(x_t)))``
    with ``P`` = :func:`project_linf`. One step from ``x`` with ``alpha = eps`` and no random start is FGSM.

    Args:
        steps: ascent steps; ``alpha``: step size (default ``2.5 * eps / steps``, Madry et al.).
        generator: seeds the random start (a ``torch.Generator`` on ``x``'s device).

    Returns:
        ``x_adv`` (detached), within ``eps`` of ``x`` and in [0, 1].
    """
    _check(x, eps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x = x.detach()
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = project_linf(x + eps * (2 * noise - 1), x, eps)
    for _ in range(steps):
        grad = input_gradient(model, x_adv, y, loss_fn)
        x_adv = project_linf(x_adv + alpha * grad.sign(), x, eps)
    return x_adv.detach()


@torch.no_grad()
def _correct(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return (model(x).argmax(1) == y).sum()


def robust_accuracy(
    model: nn.Module, x: Tensor, y: Tensor, attack: Attack | None = None, *, batch_size: int = 500
) -> float:
    """Accuracy of ``model`` (eval mode) on ``attack(model, x, y)`` (clean accuracy when ``attack`` is None).

    ``x``: [0, 1] images ``Tensor[N, ...]``; ``y``: class indices ``Tensor[N]``; one host sync at the end.
    """
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    with eval_mode(model):  # every sub-module's own mode comes back, even if the attack raises
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            correct += _correct(model, attack(model, xb, yb) if attack is not None else xb, yb)
    return correct.item() / len(x)


class AdversariallyTrained(nn.Module):
    """Wraps ``model`` for adversarial training with :func:`course_lib.engine.fit` (``forward_targets=True``).

    In training mode, ``forward(x, y)`` replaces the batch by ``attack(model, x, y)`` (computed in eval mode,
    detached) and returns ``model(x_adv)``: the loop then minimizes the loss on adversarial examples
    (Madry et al.'s min-max). In eval mode, or without ``y``, it is ``model(x)``.
    """

    def __init__(self, model: nn.Module, attack: Attack) -> None:
        super().__init__()
        self.model, self.attack = model, attack

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.training and y is not None:
            with eval_mode(self.model):  # restores each sub-module's mode (a frozen BatchNorm stays in eval)
                x = self.attack(self.model, x, y)
        return self.model(x)
