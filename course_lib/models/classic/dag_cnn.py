"""A multiscale DAG network: a chain of convolutions whose every stage also feeds the classifier.

Lecture: the CVPR-style "Deep learning" lecture, *Extensions: DAG graphs*
(``x_L = f_L(x_1, ..., x_{L-1})``: "Maybe objects depend on parts and subparts"; '"DAG" = multiscale') and *final
difficulties in training* ("My intuition: multiscale skip connections and weight-tying (recurrence) alleviate
this"). After Yang & Ramanan 2015, "Multi-scale recognition with DAG-CNNs" (ICCV), section 3 and Fig. 2: the
feature map of each scale is average-pooled over space, given its own linear classifier, and the class scores of all
scales are added (the paper also L2-normalizes each pooled vector; not here, so that the DAG and the chain differ only
by their extra classifiers).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DAGCNN(nn.Module):
    """``stages`` groups of 3x3 convolutions + ReLU, a 2x2 max pooling after each group but the last; one linear
    classifier on the spatial average of each group's output, the class scores of the groups summed.

    With ``multiscale=False`` only the last group's classifier exists: the chain ``x_L = f_L(x_{L-1})``, the same
    convolutions. With ``multiscale=True`` the output is ``sum_s W_s avgpool(x_s) + b_s`` over the groups ``s``: a
    DAG whose output depends on every scale (Yang & Ramanan 2015, Fig. 2), and in which the gradient reaches the
    first group through one convolution group instead of all of them.

    Args:
        in_channels: image channels.
        num_classes: outputs.
        stages: channels of each group's convolutions, e.g. ``((16, 16), (32, 32), (64, 64))``.
        multiscale: classify from every group (the DAG) or from the last one only (the chain).

    ``forward``: ``Tensor[B, in_channels, H, W] -> Tensor[B, num_classes]``.
    ``scale_logits``: ``Tensor[B, in_channels, H, W] -> Tensor[B, S, num_classes]``, each scale's own scores (the
    DAG's output is their sum over ``S``; the chain has ``S = 1``).
    ``convs``: every convolution, input side first (for per-layer gradient norms).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        stages: tuple[tuple[int, ...], ...] = ((16, 16), (32, 32), (64, 64)),
        multiscale: bool = True,
    ) -> None:
        super().__init__()
        if not stages or any(not s for s in stages):
            raise ValueError(f"stages must be non-empty groups of channel counts, got {stages}")
        self.multiscale = multiscale
        self.groups = nn.ModuleList()
        c_in = in_channels
        for i, group in enumerate(stages):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if i else []
            for c_out in group:
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
                c_in = c_out
            self.groups.append(nn.Sequential(*layers))
        widths = [group[-1] for group in stages]
        self.heads = nn.ModuleList([nn.Linear(c, num_classes) for c in (widths if multiscale else widths[-1:])])

    @property
    def convs(self) -> list[nn.Conv2d]:
        """Every convolution, input side first (a view of ``groups``: no second registration in the state dict)."""
        return [m for m in self.groups.modules() if isinstance(m, nn.Conv2d)]

    def scale_logits(self, x: Tensor) -> Tensor:
        pooled = []
        for group in self.groups:
            x = group(x)  # (B, C_s, H_s, W_s)
            pooled.append(x.mean(dim=(2, 3)))  # (B, C_s): global average pooling
        pooled = pooled if self.multiscale else pooled[-1:]
        return torch.stack([head(p) for head, p in zip(self.heads, pooled)], dim=1)  # (B, S, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.scale_logits(x).sum(dim=1)  # (B, num_classes)

    def extra_repr(self) -> str:
        return f"multiscale={self.multiscale}, scales={len(self.heads)}"
