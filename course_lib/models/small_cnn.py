"""A four-layer CNN for the ReLU-vs-tanh experiment of AlexNet, and training to an error target.

Krizhevsky, Sutskever & Hinton (NIPS 2012), section 3.1 and Figure 1: a four-layer convolutional
network with ReLUs reaches 25% training error on CIFAR-10 six times faster than the same network
with tanh units. Lecture: STA211 (Thome), "AlexNet in ILSVRC'12" (ReLU: faster training).

``SmallCNN``: conv-act-pool, conv-act-pool, conv-act-pool, linear (four layers with weights).
``gaussian_init_``: the paper's initialisation (weights drawn from N(0, 0.01^2), biases constant).
``train_iterations``: plain SGD/Adam steps that record every mini-batch's training error, and
``iterations_to_target``: the first iteration at which the running training error reaches a target.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class SmallCNN(nn.Module):
    """Four layers with weights: three 'conv -> activation -> 2x2 max pool' blocks and a linear classifier.

    Args:
        activation: ``"relu"`` or ``"tanh"`` (the only difference between the compared networks).
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
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if len(channels) != 3:
            raise ValueError(f"channels must hold three widths, got {channels}")
        self.activation = activation
        layers: list[nn.Module] = []
        c, size = in_channels, input_size
        for out, k in zip(channels, (5, 5, 3)):
            layers += [nn.Conv2d(c, out, k, padding=k // 2), ACTIVATIONS[activation](), nn.MaxPool2d(2)]
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


@dataclass
class ErrorCurve:
    """Per-iteration training record: ``errors[i]`` is the error rate of mini-batch ``i`` (before its update)."""

    errors: list[float] = field(default_factory=list)
    total_seconds: float = 0.0  # wall-clock time of all iterations (device synchronized)

    def seconds_to(self, iterations: int | None) -> float | None:
        """Time of the first ``iterations`` steps, pro rata of the total (steps cost the same); None stays None."""
        return None if iterations is None else self.total_seconds * iterations / max(len(self.errors), 1)

    def smoothed(self, window: int = 50) -> Tensor:
        """Running mean of the last ``window`` mini-batch errors (fewer at the start): ``Tensor[iters]``."""
        return running_mean(torch.tensor(self.errors, dtype=torch.float64), window)


def running_mean(values: Tensor, window: int) -> Tensor:
    """``out[i] = mean(values[max(0, i - window + 1) : i + 1])`` for a 1-D tensor, vectorized (cumulative sums)."""
    if values.dim() != 1:
        raise ValueError(f"expected a 1-D tensor, got shape {tuple(values.shape)}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    c = torch.cat([values.new_zeros(1), values.cumsum(0)])
    i = torch.arange(1, len(values) + 1)
    lo = (i - window).clamp(min=0)
    return (c[i] - c[lo]) / (i - lo).to(values.dtype)


def iterations_to_target(curve: ErrorCurve | Tensor, target: float, window: int = 50) -> int | None:
    """First iteration (1-based count of updates) at which the running training error is <= ``target``; None if never."""
    smooth = curve.smoothed(window) if isinstance(curve, ErrorCurve) else running_mean(curve.double(), window)
    hit = (smooth <= target).nonzero()
    return int(hit[0, 0]) + 1 if len(hit) else None


def train_iterations(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    iterations: int,
    *,
    device: torch.device | str,
    stop_below: float | None = None,
    window: int = 50,
    check_every: int = 10,
) -> ErrorCurve:
    """Take up to ``iterations`` optimizer steps, cycling over ``loader``; record each mini-batch's training error.

    With ``stop_below``, stop early once the running mean of the last ``window`` mini-batch errors is
    ``<= stop_below`` (checked every ``check_every`` steps, the only synchronisations with the device;
    :func:`iterations_to_target` then finds the exact first iteration).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    device = torch.device(device)
    model.to(device).train()
    wrong = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    done = 0
    while done < iterations:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            wrong.append((logits.detach().argmax(1) != y).float().mean())
            done += 1
            if done == iterations:
                break
            if stop_below is not None and done % check_every == 0:
                if float(torch.stack(wrong[-window:]).mean()) <= stop_below:
                    iterations = done
                    break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    return ErrorCurve(torch.stack(wrong).tolist(), seconds)
