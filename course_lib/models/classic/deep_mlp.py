"""Deep fully connected nets, plain or residual, to see vanishing gradients and what skip connections do.

Lecture: STA211 "Deep Learning Modules" (N. Thome), *non-linearities* (saturating sigmoid/tanh
vs ReLU in deep nets; Glorot & Bengio 2010) and the CVPR-style "Deep learning" lecture,
*final difficulties in training*: the gradient that reaches layer l is a product of the
Jacobians of the layers above it, ``dL/dh_l = J_L^T ... J_{l+1}^T dL/dh_L``, which shrinks
(or grows) geometrically with depth. A residual block ``h + f(h)`` has Jacobian ``I + J_f``:
the identity path carries the signal through any depth (He et al. 2016).
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers.activations import make_activation


class DeepMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, plain (``h = act(W h + b)``) or residual (``h = h + act(W h + b)``).

    Args:
        in_features: input size (784 for flattened MNIST).
        width: units per hidden layer.
        depth: number of hidden layers (the first maps ``in_features -> width`` and has no skip).
        num_classes: output size (logits).
        activation: a name of :data:`course_lib.layers.ACTIVATIONS`.
        residual: add an identity skip connection around each ``width -> width`` layer.
        init: ``"auto"``: Glorot/Xavier (Glorot & Bengio 2010) for sigmoid and tanh, He/Kaiming
            (He et al. 2015) for the rectifiers, each designed to keep the signal's variance
            through a plain stack; ``"default"``: PyTorch's ``nn.Linear`` default.
        branch_scale: multiplies the residual branch, ``h + s * act(W h + b)`` (default
            ``1 / sqrt(depth - 1)``, so that the sum of ``depth - 1`` branches keeps a bounded variance;
            ignored without ``residual``).

    ``forward``: ``Tensor[B, ...]`` (flattened) -> logits ``Tensor[B, num_classes]``.
    ``linears``: the ``depth + 1`` linear layers, input to output (for per-layer gradient norms).
    """

    def __init__(
        self,
        in_features: int = 784,
        width: int = 128,
        depth: int = 10,
        num_classes: int = 10,
        activation: str = "relu",
        residual: bool = False,
        init: str = "auto",
        branch_scale: float | None = None,
    ) -> None:
        super().__init__()
        make_activation(activation)  # validates the name
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        if init not in ("auto", "default"):
            raise ValueError(f"init must be 'auto' or 'default', got {init!r}")
        self.activation, self.residual = activation, residual
        self.branch_scale = (1.0 / math.sqrt(max(depth - 1, 1)) if branch_scale is None else branch_scale) if residual else 1.0
        sizes = [in_features] + [width] * depth
        self.linears = nn.ModuleList([nn.Linear(a, b) for a, b in pairwise(sizes)] + [nn.Linear(width, num_classes)])
        self.acts = nn.ModuleList([make_activation(activation) for _ in range(depth)])
        if init == "auto":
            for lin in self.linears:
                if activation in ("sigmoid", "tanh"):
                    nn.init.xavier_normal_(lin.weight)
                else:
                    nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
                nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.acts[0](self.linears[0](x.flatten(1)))  # (B, width)
        for lin, act in zip(self.linears[1:-1], self.acts[1:]):
            z = act(lin(h))
            h = h + self.branch_scale * z if self.residual else z
        return self.linears[-1](h)  # (B, num_classes)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, residual={self.residual}, branch_scale={self.branch_scale:.3g}"


def layer_gradient_norms(model: DeepMLP, x: Tensor, y: Tensor) -> Tensor:
    """Norm of the cross-entropy gradient w.r.t. each linear layer's weight, input layer first: ``Tensor[depth + 1]``.

    The model's ``.grad`` are left untouched (``torch.autograd.grad``, not ``backward``).
    """
    weights = [lin.weight for lin in model.linears]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights)
    return torch.stack([g.norm() for g in grads]).detach()
