"""Deep fully connected nets, plain or residual, to see vanishing gradients and what skip connections do.

Lecture: STA211 "Deep Learning Modules" (N. Thome), *non-linearities* (saturating sigmoid/tanh
vs ReLU in deep nets; Glorot & Bengio 2010) and the CVPR-style "Deep learning" lecture,
*final difficulties in training*: the gradient that reaches layer l is a product of the
Jacobians of the layers above it, ``dL/dh_l = J_L^T ... J_{l+1}^T dL/dh_L``, which shrinks
(or grows) geometrically with depth. A residual block ``h + f(h)`` has Jacobian ``I + J_f``:
the identity path carries the signal through any depth (He et al. 2016).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers.activations import make_activation


class DeepMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, plain (``h = act(W h + b)``) or residual (He et al. 2016).

    Residual: after the first layer, the ``width -> width`` layers go by pairs into He et al.'s basic block,
    ``h <- act(h + F(h))`` with ``F(h) = W2 act(W1 h + b1) + b2`` (their Eq. 1 and Fig. 2: a two-layer branch,
    an identity shortcut, the second non-linearity after the addition), so ``depth - 1`` must be even.

    Args:
        in_features: input size (784 for flattened MNIST).
        width: units per hidden layer.
        depth: number of hidden layers (the first maps ``in_features -> width`` and has no skip).
        num_classes: output size (logits).
        activation: a name of :data:`course_lib.layers.ACTIVATIONS`.
        residual: group the ``depth - 1`` ``width -> width`` layers into ``(depth - 1) / 2`` residual blocks.
        init: ``"auto"``: Glorot/Xavier (Glorot & Bengio 2010) for sigmoid and tanh, He/Kaiming
            (He et al. 2015) for the rectifiers, each designed to keep the signal's variance
            through a plain stack; ``"default"``: PyTorch's ``nn.Linear`` default.
        branch_scale: multiplies the residual branch, ``act(h + s * F(h))`` (default 1: He et al.'s block;
            ignored without ``residual``).
        zero_init_residual: start every residual branch's second layer at zero, so that each block starts
            as the identity (Goyal et al. 2017; torchvision's ``resnet(zero_init_residual=True)``).

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
        branch_scale: float = 1.0,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        make_activation(activation)  # validates the name
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        if init not in ("auto", "default"):
            raise ValueError(f"init must be 'auto' or 'default', got {init!r}")
        if residual and (depth - 1) % 2:
            raise ValueError(f"a residual DeepMLP needs an odd depth (1 + 2 layers per block), got depth={depth}")
        self.activation, self.residual = activation, residual
        self.branch_scale = branch_scale if residual else 1.0
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
        if residual and zero_init_residual:
            for lin in self.linears[2:-1:2]:  # the second layer of every block
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.acts[0](self.linears[0](x.flatten(1)))  # (B, width)
        if self.residual:
            for k in range(1, len(self.acts), 2):  # block: h <- act(h + F(h)), F = W2 act(W1 h + b1) + b2
                f = self.linears[k + 1](self.acts[k](self.linears[k](h)))  # (B, width)
                h = self.acts[k + 1](h + self.branch_scale * f)
        else:
            for lin, act in zip(self.linears[1:-1], self.acts[1:]):
                h = act(lin(h))
        return self.linears[-1](h)  # (B, num_classes)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, residual={self.residual}, branch_scale={self.branch_scale:.3g}"


def layer_gradient_norms(model: nn.Module, x: Tensor, y: Tensor, layers: Iterable[nn.Module] | None = None) -> Tensor:
    """Norm of the cross-entropy gradient w.r.t. each layer's weight, in the order given: ``Tensor[len(layers)]``.

    ``layers`` defaults to ``model.linears`` (a :class:`DeepMLP`'s, input layer first); any modules with a ``weight``
    work, e.g. a :class:`~course_lib.models.DAGCNN`'s ``convs``. The model's ``.grad`` are left untouched
    (``torch.autograd.grad``, not ``backward``).
    """
    weights = [layer.weight for layer in (model.linears if layers is None else layers)]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights)
    return torch.stack([g.norm() for g in grads]).detach()


def signal_gradient_norms(model: DeepMLP, x: Tensor, y: Tensor) -> Tensor:
    """Norm of the cross-entropy gradient w.r.t. each hidden layer's output ``h_l`` (the back-propagated signal, a
    product of Jacobians), input side first: ``Tensor[depth]``. Unlike the weight gradients of
    :func:`layer_gradient_norms`, it grows with a global scaling of the weights of a ReLU net (CVPR-style lecture:
    "Vanishing or exploding gradients imply lower layers can be hard to learn")."""
    outs: list[Tensor] = []
    hooks = [act.register_forward_hook(lambda module, inputs, out: outs.append(out)) for act in model.acts]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack([g.norm() for g in torch.autograd.grad(loss, outs)]).detach()
