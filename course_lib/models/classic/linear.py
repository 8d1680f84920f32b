"""Shallow baselines: multinomial logistic regression and the multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn

from ...layers.activations import make_activation


class LogisticRegression(nn.Module):
    """Softmax regression on flattened pixels: one linear layer, ``in_features * C + C`` parameters.

    On MNIST: 784 * 10 + 10 = 7,850 parameters, the lecture's Keras example
    (``Dense(10, input_dim=784, activation='softmax')``). The softmax sits in the loss
    (``cross_entropy``), so ``forward`` returns logits ``Tensor[B, C]``.
    """

    def __init__(self, in_features: int = 784, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))  # (B, in_features) -> (B, C)


class MLP(nn.Sequential):
    """Fully connected network on flattened inputs: ``in -> hidden[0] -> ... -> num_classes``.

    Args:
        in_features: input size (784 for MNIST).
        hidden: sizes of the hidden layers.
        num_classes: output size.
        activation: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``... (a name of :data:`course_lib.layers.ACTIVATIONS`).
        dropout: dropout probability after each hidden activation (0: none).
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: Sequence[int] = (256, 128),
        num_classes: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        make_activation(activation)  # validates the name
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        sizes = [in_features, *hidden]
        for n_in, n_out in pairwise(sizes):
            layers += [nn.Linear(n_in, n_out), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], num_classes))
        super().__init__(*layers)
