"""Output sizes and receptive fields of convolution and pooling stacks: by formula, and measured by back-propagation.

Lecture: STA211 "Deep Learning Modules" (N. Thome), *padding and pooling*; the CVPR-style
"Deep learning" lecture, *dilated convolutions* (Yu & Koltun 2016, "Multi-scale context
aggregation by dilated convolutions"): stacking 3x3 convolutions with dilations 1, 2, 4, 8
grows the receptive field exponentially (31x31 after 4 layers) instead of linearly (9x9),
with the same number of parameters.

Output size of a convolution or pooling along one axis (PyTorch's ``Conv2d``/``MaxPool2d`` docs)::

    out = floor((W + 2P - D (K - 1) - 1) / S) + 1        (ceil instead of floor with ceil_mode)

The lecture writes ``floor((W - 1) / S) + 1`` for pooling: that is the same formula with the
"same" padding ``P = (K - 1) / 2`` (odd K, D = 1), see :func:`lecture_pool_output_size`.

The empirical receptive field of one output unit is the set of input pixels its gradient
reaches (:func:`empirical_receptive_field`); the analytic one follows the recursion
``r <- r + (K - 1) D j``, ``j <- j S`` over the layers (:func:`analytic_receptive_field`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..utils import eval_mode, model_device
from .canvas import ink_boxes


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's rule, ``ceil_mode`` included).

    Args:
        size: input length ``W``.
        kernel_size, stride, padding, dilation: ``K``, ``S``, ``P`` (on each side), ``D``.
        ceil_mode: round up (pooling's ``ceil_mode``); as in PyTorch, a last window that would
            start in the right padding is dropped.

    Raises:
        ValueError: a non-positive size/kernel/stride/dilation, a negative padding, or an input
            smaller than the (dilated) kernel, so that no window fits.
    """
    if min(size, kernel_size, stride, dilation) < 1 or padding < 0:
        raise ValueError(
            f"need size, kernel_size, stride, dilation >= 1 and padding >= 0, got "
            f"size={size}, kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}"
        )
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1  # room left for the window to slide
    if span < 0:
        raise ValueError(
            f"the dilated kernel ({dilation * (kernel_size - 1) + 1}) is larger than the padded input ({size + 2 * padding})"
        )
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:  # the last window would start in the right padding only
        out -= 1
    return out


def pool_output_size(
    size: int, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of ``MaxPool``/``AvgPool`` along one axis; ``stride`` defaults to ``kernel_size`` as in PyTorch.

    Raises:
        ValueError: as :func:`conv_output_size`, and when ``padding`` exceeds half the kernel
            size, which PyTorch's pooling layers refuse.
    """
    stride = kernel_size if stride is None else stride
    if 2 * padding > kernel_size:
        raise ValueError(
            f"pooling padding must be at most half the kernel size, got padding={padding}, kernel={kernel_size}"
        )
    return conv_output_size(size, kernel_size, stride, padding, dilation, ceil_mode)


def lecture_pool_output_size(size: int, stride: int) -> int:
    """The lecture's pooling size ``floor((W - 1) / S) + 1``: every position ``0, S, 2S, ...`` gets a window.

    It equals :func:`conv_output_size` with the "same" padding ``P = (K - 1) / 2`` for odd ``K``.
    """
    if size < 1 or stride < 1:
        raise ValueError(f"need size >= 1 and stride >= 1, got size={size}, stride={stride}")
    return (size - 1) // stride + 1


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Zero padding that keeps the spatial size at stride 1: ``D (K - 1) / 2`` (needs an odd effective kernel)."""
    total = dilation * (kernel_size - 1)
    if total % 2:
        raise ValueError(f"no symmetric 'same' padding for kernel_size={kernel_size}, dilation={dilation} (even span)")
    return total // 2


def analytic_receptive_field(layers: Sequence[tuple[int, int, int]]) -> list[int]:
    """Receptive field (in input pixels, one axis) after each layer of a stack.

    Args:
        layers: ``(kernel_size, stride, dilation)`` per layer, input to output.

    Returns:
        ``[r_1, ..., r_L]`` with ``r_0 = 1``, ``r_l = r_{l-1} + (K_l - 1) D_l j_{l-1}`` and the jump
        ``j_l = j_{l-1} S_l`` (distance in input pixels between two neighbouring units of layer l).
    """
    r, j, out = 1, 1, []
    for k, s, d in layers:
        if min(k, s, d) < 1:
            raise ValueError(f"kernel_size, stride and dilation must be >= 1, got {(k, s, d)}")
        r += (k - 1) * d * j
        j *= s
        out.append(r)
    return out


@dataclass
class ReceptiveField:
    """The measured receptive field of one output unit.

    Attributes:
        grad: ``Tensor[H, W]``, |d output unit / d input| summed over input channels.
        size: ``(height, width)`` of the bounding box of the non-zero gradient.
        box: ``(top, left, bottom, right)`` of that box (inclusive), in input pixels.
        unit: ``(row, col)`` of the output unit.
    """

    grad: Tensor
    size: tuple[int, int]
    box: tuple[int, int, int, int]
    unit: tuple[int, int]


# layers whose output depends on statistics (running or of the batch): in the linearized copy they could scale a
# channel to zero (a huge running_var), push it below a ReLU's threshold (a large running_mean) or cancel it (mean
# subtraction of a constant input), cutting paths the architecture has; the copy replaces them by the identity
_NORMALIZATIONS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def _replace(m: nn.Module, name: str, new: nn.Module) -> None:
    parent = m.get_submodule(name.rsplit(".", 1)[0]) if "." in name else m
    setattr(parent, name.rsplit(".", 1)[-1], new)


def _linearized_copy(model: nn.Module) -> nn.Module:
    """A copy where every path carries a positive signal: constant positive weights, zero biases, max pools as
    average pools, normalization layers (BatchNorm and the like) as the identity."""
    m = copy.deepcopy(model)
    for name, child in list(m.named_modules()):
        if isinstance(child, nn.MaxPool2d):
            if child.dilation not in (1, (1, 1)):
                raise ValueError(f"{name}: dilated max pooling has no average-pooling equivalent here")
            _replace(m, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
        elif isinstance(child, _NORMALIZATIONS):
            _replace(m, name, nn.Identity())
    with torch.no_grad():
        for child in m.modules():
            if isinstance(child, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear):
                child.weight.fill_(1.0 / child.weight[0].numel())
            elif isinstance(getattr(child, "weight", None), nn.Parameter):  # e.g. LeNet's sparse C3, PReLU's slopes
                child.weight.fill_(1.0 / child.weight[0].numel() if child.weight.dim() > 1 else 1.0)
            if isinstance(getattr(child, "bias", None), nn.Parameter):
                child.bias.zero_()
    return m


def empirical_receptive_field(
    model: nn.Module,
    input_shape: tuple[int, int, int, int],
    *,
    unit: tuple[int, int] | None = None,
    linearize: bool = True,
    device: torch.device | str | None = None,
) -> ReceptiveField:
    """Measure the receptive field of one output unit by back-propagating from it to the input.

    Args:
        model: maps ``Tensor[B, C, H, W]`` to feature maps ``Tensor[B, C', H', W']``.
        input_shape: ``(1, C, H, W)``, large enough that the field is not cut by the border.
        unit: ``(row, col)`` of the output unit (default: the centre of the output map).
        linearize: measure the *theoretical* field: run a copy of the model with constant
            positive weights, zero biases, max pooling replaced by average pooling, normalization
            layers (BatchNorm, whose running statistics could scale a channel to zero) replaced by the
            identity, and an input of ones, so that no path cancels or is cut by a ReLU or a max. With ``False``
            the model's own weights and a random input give the *effective* field (Luo et al. 2016),
            whose gradient is concentrated in the middle.
        device: where to run (default: the model's device). The model itself is not moved: the run uses a
            copy on ``device`` (the linearized copy, or with ``linearize=False`` a copy when the model is elsewhere).

    Returns:
        A :class:`ReceptiveField` (gradient map, bounding-box size and box, the unit).
    """
    if len(input_shape) != 4 or input_shape[0] != 1:
        raise ValueError(f"input_shape must be (1, C, H, W), got {input_shape}")
    device = model_device(model) if device is None else torch.device(device)
    if linearize:
        net = _linearized_copy(model).to(device)
    else:
        net = model if model_device(model) == device else copy.deepcopy(model).to(device)
    with eval_mode(net):
        x = torch.ones(input_shape, device=device) if linearize else torch.randn(input_shape, device=device)
        x.requires_grad_(True)
        y = net(x)
        if y.dim() != 4:
            raise ValueError(f"the model must return feature maps (B, C, H, W), got shape {tuple(y.shape)}")
        row, col = (y.shape[2] // 2, y.shape[3] // 2) if unit is None else unit
        if not (0 <= row < y.shape[2] and 0 <= col < y.shape[3]):
            raise ValueError(f"unit {(row, col)} is outside the output map {tuple(y.shape[2:])}")
        (grad,) = torch.autograd.grad(y[0, :, row, col].sum(), x)
    g = grad[0].abs().sum(0).detach()  # (H, W)
    if not bool((g > 0).any()):
        raise ValueError("the gradient is zero everywhere: no input pixel reaches this unit (try linearize=True)")
    left, top, x2, y2 = (int(v) for v in ink_boxes(g.unsqueeze(0) > 0)[0])
    bottom, right = y2 - 1, x2 - 1  # inclusive
    return ReceptiveField(g.cpu(), (bottom - top + 1, right - left + 1), (top, left, bottom, right), (row, col))


def conv_stack(
    dilations: Sequence[int], channels: int = 1, kernel_size: int = 3, *, padding: str = "same", bias: bool = False
) -> nn.Sequential:
    """3x3 (by default) convolutions with the given dilations, each followed by a ReLU (Yu & Koltun 2016's context module).

    ``padding="same"`` keeps the spatial size (padding ``D (K - 1) / 2``), ``"valid"`` uses none.
    """
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    layers: list[nn.Module] = []
    for d in dilations:
        pad = same_padding(kernel_size, d) if padding == "same" else 0
        layers += [nn.Conv2d(channels, channels, kernel_size, padding=pad, dilation=d, bias=bias), nn.ReLU()]
    return nn.Sequential(*layers)


def receptive_field_growth(n_layers: int, kernel_size: int = 3, dilated: bool = True) -> list[int]:
    """Receptive field after 1..n layers of ``kernel_size`` convolutions, with dilations 1, 2, 4, ... or all 1."""
    dilations = [2**i if dilated else 1 for i in range(n_layers)]
    return analytic_receptive_field([(kernel_size, 1, d) for d in dilations])


def module_receptive_fields(model: nn.Module) -> dict[str, int]:
    """Receptive field (input pixels, one axis) after each convolution and pooling of a chain of layers.

    Reads ``kernel_size``, ``stride`` and ``dilation`` of every ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` of
    ``model`` in registration order (the order of a ``Sequential``) and applies :func:`analytic_receptive_field`;
    other modules (activations, normalization) do not change it. Square kernels only (``ValueError`` otherwise).

    Returns:
        ``{module name: receptive field}``, e.g. ``{"features.conv1": 11, ..., "features.conv5": 163, ...}`` for
        the ImageNet AlexNet.
    """
    names, layers = [], []
    for name, m in model.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        geometry = []
        for attr in ("kernel_size", "stride", "dilation"):
            v = getattr(m, attr, 1)
            v = (v, v) if isinstance(v, int) else tuple(v)
            if v[0] != v[1]:
                raise ValueError(f"{name}: {attr}={v} is not square")
            geometry.append(v[0])
        names.append(name)
        layers.append(tuple(geometry))
    return dict(zip(names, analytic_receptive_field(layers)))


def minimal_input_size(layers: Sequence[tuple[int, int, int]]) -> int:
    """Smallest input (one axis, no padding) for which every layer of the stack still has an output."""
    rf = analytic_receptive_field(layers)
    return rf[-1] if rf else 1


__all__ = [
    "ReceptiveField",
    "analytic_receptive_field",
    "conv_output_size",
    "conv_stack",
    "empirical_receptive_field",
    "lecture_pool_output_size",
    "minimal_input_size",
    "module_receptive_fields",
    "pool_output_size",
    "receptive_field_growth",
    "same_padding",
]
