"""A four-layer CNN for the ReLU-vs-tanh experiment of AlexNet, and training to an error target.

Krizhevsky, Sutskever & Hinton (NIPS 2012), section 3.1 and Figure 1: a four-layer convolutional
network with ReLUs reaches 25% training error on CIFAR-10 six times faster than the same network
with tanh units. Lecture: STA211 (Thome), "AlexNet in ILSVRC'12" (ReLU: faster training).

``SmallCNN``: conv-act-pool, conv-act-pool, conv-act-pool, linear (four layers with weights).
``gaussian_init_``: the paper's initialisation (weights drawn from N(0, 0.01^2), biases constant).
Iterations to a target training error are measured with ``course_lib.engine.fit(..., record_steps=True)``
and ``course_lib.metrics.iterations_to_target``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...layers.activations import make_activation


class SmallCNN(nn.Module):
    """Four layers with weights: three 'conv -> activation -> 2x2 max pool' blocks and a linear classifier.

    Args:
        activation: ``"relu"`` or ``"tanh"`` (the only difference between the compared networks), or any
            other name of :data:`course_lib.layers.ACTIVATIONS`.
        in_channels: image channels.
        num_classes: outputs.
        channels: widths of the three convolutions (kernels 5, 5, 3, 'same' padding).
        input_size: side of the square input (28 for MNIST); each pool halves it (floor).

    Shapes: ``Tensor[B, in_channels, S, S] -> Tensor[B, num_classes]``.
    """

    def __init__(
        self,
        activation: str = "relu",
        in_channels: int = 1,
        num_classes: int = 10,
        channels: tuple[int, int, int] = (16, 32, 32),
        input_size: int = 28,
    ) -> None:
        super().__init__()
        make_activation(activation)  # validates the name
        if len(channels) != 3:
            raise ValueError(f"channels must hold three widths, got {channels}")
        self.activation = activation
        layers: list[nn.Module] = []
        c, size = in_channels, input_size
        for out, k in zip(channels, (5, 5, 3)):
            layers += [nn.Conv2d(c, out, k, padding=k // 2), make_activation(activation), nn.MaxPool2d(2)]
            c, size = out, size // 2
        if size < 1:
            raise ValueError(f"input of {input_size} pixels is too small for three 2x2 poolings")
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c * size * size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))  # (B, C, S, S) -> (B, num_classes)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


@torch.no_grad()
def gaussian_init_(model: nn.Module, std: float = 0.01, bias: float = 0.0) -> nn.Module:
    """AlexNet's initialisation (section 5 of the paper): every conv/linear weight ~ N(0, std^2), biases = ``bias``.

    (The paper sets the biases of conv2, conv4, conv5 and the hidden fully connected layers to 1 and
    the others to 0; for a fair ReLU/tanh comparison one constant is used here.) Returns ``model``.
    """
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            m.weight.normal_(0.0, std)
            if m.bias is not None:
                m.bias.fill_(bias)
    return model
