"""The rectifier family, as the lecture writes them: ReLU, Leaky ReLU, PReLU, RReLU, ELU.

Lecture: STA211 "Deep Learning Modules" (N. Thome), *non-linearities*: sigmoid and tanh
saturate (their derivatives vanish for large |x|, and sigmoid's is at most 1/4), ReLU does not
saturate for x > 0 but is "dead" for x < 0; its variants give the negative side a slope λ:

- ReLU (Nair & Hinton 2010; Glorot et al. 2011): ``max(0, x)``;
- Leaky ReLU (Maas et al. 2013): ``x if x >= 0 else λ x`` with a fixed small λ (0.01);
- PReLU (He et al. 2015, "Delving deep into rectifiers"): λ is **learned**, one per channel;
- RReLU (Xu et al. 2015, "Empirical evaluation of rectified activations"): in training λ is
  **drawn at random** in ``[lower, upper]`` for every element; at test time it is fixed to
  the mean ``(lower + upper) / 2``;
- ELU (Clevert et al. 2016): ``x if x > 0 else α (exp(x) - 1)``, smooth, saturates at -α.

Pure functions plus thin ``nn.Module`` wrappers; gradients come from autograd. Each one is
tested for equality with its ``torch.nn.functional`` counterpart and with float64 ``gradcheck``.

:data:`ACTIVATIONS` is the course's one registry of activations by name (the rectifiers above, plus
torch's sigmoid, tanh and GELU); models take an ``activation`` name and build it with :func:`make_activation`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def relu(x: Tensor) -> Tensor:
    """``max(0, x)``, elementwise; any shape."""
    return torch.where(x > 0, x, torch.zeros_like(x))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x if x >= 0 else negative_slope * x``, elementwise; any shape."""
    return torch.where(x >= 0, x, negative_slope * x)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """Leaky ReLU with a learned slope per channel (He et al. 2015).

    Args:
        x: ``Tensor[B, C, ...]`` (channels on dim 1, as in ``F.prelu``), or any shape when
            ``weight`` has a single element.
        weight: the slopes, ``Tensor[C]`` or ``Tensor[1]`` (shared by all channels).
    """
    if weight.dim() != 1:
        raise ValueError(f"weight must be 1-D (C,) or (1,), got shape {tuple(weight.shape)}")
    if weight.numel() != 1:
        if x.dim() < 2 or x.shape[1] != weight.numel():
            raise ValueError(f"weight has {weight.numel()} slopes but the input {tuple(x.shape)} has no matching dim 1")
        weight = weight.view(1, -1, *([1] * (x.dim() - 2)))  # (1, C, 1, 1...)
    return torch.where(x >= 0, x, weight * x)


def rrelu(
    x: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Randomized leaky ReLU (Xu et al. 2015).

    Training: every element gets its own slope ``λ ~ U[lower, upper]``, drawn anew at each call.
    Evaluation: the fixed slope ``(lower + upper) / 2`` (the mean of the training slopes).

    Args:
        x: any shape.
        lower, upper: the range of the slopes, ``0 <= lower <= upper``.
        training: draw random slopes (True) or use their mean (False).
        generator: optional generator (on ``x``'s device) for reproducible slopes.
    """
    if not 0 <= lower <= upper:
        raise ValueError(f"need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if training:
        slope = torch.empty_like(x).uniform_(lower, upper, generator=generator)
    else:
        slope = torch.full_like(x, (lower + upper) / 2)
    return torch.where(x >= 0, x, slope * x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)``, elementwise; any shape (Clevert et al. 2016)."""
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    # exp on the clamped input only: the branch that is not taken must not overflow (inf * 0 = nan in backward)
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))


class ReLU(nn.Module):
    """Module wrapper of :func:`relu`."""

    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class LeakyReLU(nn.Module):
    """Module wrapper of :func:`leaky_relu`."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(nn.Module):
    """Module wrapper of :func:`prelu`: ``num_parameters`` learned slopes (1, or one per channel), initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be >= 1, got {num_parameters}")
        self.weight = nn.Parameter(torch.full((num_parameters,), float(init)))

    def forward(self, x: Tensor) -> Tensor:
        return prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.weight.numel()}"


class RReLU(nn.Module):
    """Module wrapper of :func:`rrelu`: random slopes in ``model.train()``, their mean in ``model.eval()``."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3) -> None:
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def forward(self, x: Tensor) -> Tensor:
        return rrelu(x, self.lower, self.upper, training=self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower:.4g}, upper={self.upper:.4g}"


class ELU(nn.Module):
    """Module wrapper of :func:`elu`."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "rrelu": RReLU,
    "elu": ELU,
    "gelu": nn.GELU,
}
"""Activation name -> ``nn.Module`` class (called with no argument: its default parameters)."""


def make_activation(name: str) -> nn.Module:
    """A new activation module by name, one of :data:`ACTIVATIONS`; ``ValueError`` naming the choices otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()
