"""Dense prediction: convolutionalized classifiers, FCN-32s/16s/8s-style heads, a dilated network, hypercolumns.

Lecture: UvA "Dense prediction" (going fully convolutional: the fully connected layers of a classifier are
convolutions, so it slides over any image and outputs a coarse map, "is this pixel a camel?"; upconvolution in
2x steps with skips, Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for Semantic Segmentation"),
RCP209 (DeepLab, Chen et al. 2015: atrous/dilated convolutions instead of the last poolings) and the CVPR-style
lecture (hypercolumns, Hariharan et al. 2015: the features of several layers, upsampled and concatenated per
pixel; dilated convolutions, Yu & Koltun 2016: "don't ever downsample").

Upsampling convention: a transposed convolution of stride ``f``, kernel ``2f - f % 2`` and padding
``ceil((f - 1) / 2)`` initialized by :func:`bilinear_kernel` (FCN's initialization) equals
``F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)`` on every output pixel at least
``f // 2`` pixels from the border (interpolation replicates the edge, the transposed convolution pads with zeros:
tests/test_segmentation.py pins both facts). Output sizes are exactly ``f`` times the input's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def linear_to_conv(linear: nn.Linear, in_channels: int, kernel_size: tuple[int, int] = (1, 1)) -> nn.Conv2d:
    """The convolution computing ``linear`` on every ``in_channels x kh x kw`` window (same weights, reshaped).

    ``linear`` must read a flattened ``(C, kh, kw)`` block (``in_features == C * kh * kw``, row-major as
    ``Tensor.flatten`` orders it); a fully connected layer after a ``1 x 1`` map becomes a ``1 x 1`` convolution.
    """
    kh, kw = kernel_size
    if linear.in_features != in_channels * kh * kw:
        raise ValueError(f"Linear({linear.in_features}, ...) cannot read {in_channels} x {kh} x {kw} windows")
    conv = nn.Conv2d(in_channels, linear.out_features, (kh, kw), bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view(linear.out_features, in_channels, kh, kw))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv.to(linear.weight.device, linear.weight.dtype)


def convolutionalize(model: nn.Module, input_size: tuple[int, int], in_channels: int = 1) -> nn.Sequential:
    """Turn a trained ``features -> classifier`` network into a fully convolutional one (Long et al. 2015, §3.1).

    ``model`` needs ``features`` (convolutional) and ``classifier`` (an ``nn.Linear`` or an ``nn.Sequential`` of
    ``Flatten``, ``Linear``, activations, dropout), as the course's ``SmallCNN`` and ``LeNet5`` have. The first
    ``Linear`` becomes a convolution with the feature map's size (``input_size`` is the training input, e.g.
    ``(28, 28)``), the next ones ``1 x 1`` convolutions. On a training-size input the scores are the model's
    (shape ``(B, K, 1, 1)``); on a larger image, a ``(B, K, h, w)`` map of the scores of every window.
    """
    with torch.no_grad():
        p = next(model.parameters())
        probe = torch.zeros(1, in_channels, *input_size, device=p.device, dtype=p.dtype)
        channels, *kernel = model.features(probe).shape[1:]
    layers = model.classifier if isinstance(model.classifier, nn.Sequential) else [model.classifier]
    head: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            head.append(linear_to_conv(layer, channels, tuple(kernel)))
            channels, kernel = layer.out_features, [1, 1]
        elif isinstance(layer, (nn.Dropout, nn.ReLU, nn.Tanh, nn.Identity)) or not list(layer.parameters()):
            head.append(layer)  # elementwise: unchanged
        else:
            raise ValueError(f"cannot convolutionalize a {type(layer).__name__} in the classifier")
    return nn.Sequential(model.features, *head)


def bilinear_kernel(
    factor: int, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> Tensor:
    """The ``k x k`` bilinear interpolation kernel (``k = 2f - f % 2``) of an ``f``-times upsampling."""
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = torch.arange(size, device=device, dtype=dtype or torch.float32)
    filt = 1 - (og - centre).abs() / factor
    return filt[:, None] * filt[None, :]


def bilinear_upsampler(channels: int, factor: int, learnable: bool = True) -> nn.ConvTranspose2d:
    """``ConvTranspose2d(channels, channels)`` of stride ``factor``, initialized to bilinear upsampling per channel."""
    size = 2 * factor - factor % 2
    up = nn.ConvTranspose2d(channels, channels, size, stride=factor, padding=math.ceil((factor - 1) / 2), bias=False)
    with torch.no_grad():
        up.weight.zero_()
        for c in range(channels):
            up.weight[c, c] = bilinear_kernel(factor)
    up.weight.requires_grad_(learnable)
    return up


def _block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Backbone(nn.Module):
    """``n_stages`` stages of 3x3 conv + BatchNorm + ReLU; the first ``pools`` end with a 2x2 max pooling.

    Stages after the last pooling are dilated instead (DeepLab / Yu & Koltun 2016): a stage that would have run
    at stride ``2^s`` runs at stride ``2^pools`` with dilation ``2^(s - pools)``, keeping the receptive field.
    ``forward`` returns the output of every stage (``list`` of ``Tensor[B, C_s, H / stride_s, W / stride_s]``).
    Widths: ``min(width * 2^s, max_width)``.
    """

    def __init__(
        self, in_channels: int = 1, width: int = 16, n_stages: int = 5, pools: int | None = None, max_width: int = 128
    ) -> None:
        super().__init__()
        pools = n_stages if pools is None else pools
        self.widths = [min(width * 2**s, max_width) for s in range(n_stages)]
        self.strides = [2 ** min(s + 1, pools) for s in range(n_stages)]
        self.stages = nn.ModuleList()
        c = in_channels
        for s, out in enumerate(self.widths):
            dilation = 2 ** max(0, s - pools)  # the poolings removed before this stage
            pool = [nn.MaxPool2d(2)] if s < pools else []
            self.stages.append(nn.Sequential(_block(c, out, dilation), *pool))
            c = out

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


class FCNSegmenter(nn.Module):
    """FCN-style segmentation (Long et al. 2015): coarse scores, 2x learnable upconvolutions adding skip scores.

    ``skips=0`` is "FCN-32s" (with 5 stages: scores at stride 32 upsampled 32x at once), ``skips=1`` "FCN-16s"
    (2x upconvolution, add the stride-16 scores, upsample 16x), ``skips=2`` "FCN-8s". As in the paper the skip
    score layers start at zero (the net starts as the coarser one) and the upconvolutions as bilinear upsampling;
    the last upsampling is fixed bilinear. ``Tensor[B, in_channels, H, W] -> Tensor[B, n_classes, H, W]`` logits;
    ``H, W`` must be multiples of ``2^n_stages``.
    """

    def __init__(
        self, n_classes: int, skips: int = 2, *, in_channels: int = 1, width: int = 16, n_stages: int = 5
    ) -> None:
        super().__init__()
        self.n_classes, self.skips, self.n_stages = n_classes, skips, n_stages
        if not 0 <= skips < n_stages:
            raise ValueError(f"skips must be in [0, {n_stages}), got {skips}")
        self.backbone = Backbone(in_channels, width, n_stages)
        self.score = nn.Conv2d(self.backbone.widths[-1], n_classes, 1)
        self.skip_scores = nn.ModuleList(nn.Conv2d(self.backbone.widths[-2 - k], n_classes, 1) for k in range(skips))
        for layer in self.skip_scores:
            nn.init.zeros_(layer.weight), nn.init.zeros_(layer.bias)
        self.ups = nn.ModuleList(bilinear_upsampler(n_classes, 2) for _ in range(skips))
        self.final = bilinear_upsampler(n_classes, 2 ** (n_stages - skips), learnable=False)

    @property
    def name(self) -> str:
        return f"FCN-{2 ** (self.n_stages - self.skips)}s"

    def forward(self, x: Tensor) -> Tensor:
        m = 2**self.n_stages
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"{self.name} needs H and W multiples of {m}, got {tuple(x.shape[-2:])}")
        feats = self.backbone(x)
        out = self.score(feats[-1])  # (B, K, H/32, W/32) with 5 stages
        for k in range(self.skips):
            out = self.ups[k](out) + self.skip_scores[k](feats[-2 - k])  # 2x, then add the finer scores
        return self.final(out)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


class DilatedSegmenter(nn.Module):
    """DeepLab-style: ``pools`` poolings only, dilated stages after them, 1x1 scores, bilinear upsampling.

    Same stages and receptive field as :class:`FCNSegmenter`'s backbone, scores at stride ``2^pools``.
    ``Tensor[B, in_channels, H, W] -> Tensor[B, n_classes, H, W]`` logits.
    """

    def __init__(
        self, n_classes: int, *, in_channels: int = 1, width: int = 16, n_stages: int = 5, pools: int = 3
    ) -> None:
        super().__init__()
        self.backbone = Backbone(in_channels, width, n_stages, pools=pools)
        self.score = nn.Conv2d(self.backbone.widths[-1], n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.score(self.backbone(x)[-1])
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


def hypercolumns(features: list[Tensor], size: tuple[int, int]) -> Tensor:
    """Hypercolumns (Hariharan et al. 2015): each ``Tensor[B, C_l, h_l, w_l]`` upsampled bilinearly to ``size``
    and concatenated per pixel: ``Tensor[B, Σ C_l, H, W]``."""
    up = [
        f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
        for f in features
    ]
    return torch.cat(up, 1)


class HypercolumnSegmenter(nn.Module):
    """A per-pixel linear classifier (1x1 convolution) on the hypercolumns of the chosen backbone stages.

    ``layers``: stage indices whose features form the descriptor (default all; ``(-1,)``: the last layer only,
    the comparison of the lecture). ``Tensor[B, in_channels, H, W] -> Tensor[B, n_classes, H, W]`` logits.
    """

    def __init__(
        self,
        n_classes: int,
        layers: tuple[int, ...] | None = None,
        *,
        in_channels: int = 1,
        width: int = 16,
        n_stages: int = 4,
    ) -> None:
        super().__init__()
        self.backbone = Backbone(in_channels, width, n_stages)
        self.layers = tuple(range(n_stages)) if layers is None else tuple(layers)
        self.classifier = nn.Conv2d(sum(self.backbone.widths[k] for k in self.layers), n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``classifier(hypercolumns(...))`` computed as ``Σ_l upsample(W_l f_l) + b``: the 1x1 convolution and the
        bilinear upsampling are both linear, so scoring each layer at its own resolution first and upsampling
        ``n_classes`` channels instead of ``Σ C_l`` gives the same logits (tests/test_segmentation.py), much faster."""
        feats = self.backbone(x)
        size = tuple(x.shape[-2:])
        weight, out = self.classifier.weight, None
        start = 0
        for k in self.layers:
            c = feats[k].shape[1]
            score = F.conv2d(feats[k], weight[:, start : start + c])  # (B, K, h_l, w_l)
            start += c
            if score.shape[-2:] != size:
                score = F.interpolate(score, size=size, mode="bilinear", align_corners=False)
            out = score if out is None else out + score
        return out + self.classifier.bias.view(1, -1, 1, 1)

    def reference_forward(self, x: Tensor) -> Tensor:
        """The literal definition: the 1x1 classifier on the concatenated hypercolumns (slow: ``Σ C_l`` channels at
        full resolution); equal to :meth:`forward`."""
        feats = self.backbone(x)
        return self.classifier(hypercolumns([feats[k] for k in self.layers], tuple(x.shape[-2:])))

    def extra_repr(self) -> str:
        return f"layers={self.layers}"
