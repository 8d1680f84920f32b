"""Dense CRF layers: fixed mean-field post-processing (DeepLab) and CRF-as-RNN (Zheng et al. 2015).

Lecture: RCP209 "Segmentation" (DeepLab, Chen et al. 2015: FCN scores then a fully connected CRF as
post-processing; "Conditional Random Fields as Recurrent Neural Networks", Zheng et al. 2015: the mean-field
iterations of Krähenbühl & Koltun 2011 unrolled as T recurrent steps, differentiable, trained end to end with the
FCN). The operations and conventions (pydensecrf's θα, θβ, θγ, w1, w2) are in :mod:`course_lib.ops.crf`.

Both layers take the network's scores (``logits = -ψ_u``) and the image and return **logits**, the pre-softmax
argument of the last mean-field step, so that ``F.cross_entropy`` applies directly; ``softmax`` of the output is
the mean-field marginal ``Q``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..ops.crf import crf_messages, dense_crf, pairwise_term, potts


class DenseCRF(nn.Module):
    """Fixed dense-CRF mean-field inference (no parameters): ``logits Tensor[B, L, H, W] -> logits``.

    ``softmax(DenseCRF(...)(logits, image), 1) == dense_crf(-logits, image, ...)``.
    """

    def __init__(
        self,
        iterations: int = 5,
        *,
        theta_alpha: float = 80.0,
        theta_beta: float = 13.0,
        theta_gamma: float = 3.0,
        w_appearance: float = 10.0,
        w_smoothness: float = 3.0,
        method: str = "auto",
        cell: float = 0.5,
    ) -> None:
        super().__init__()
        self.iterations, self.method, self.cell = iterations, method, cell
        self.thetas = (theta_alpha, theta_beta, theta_gamma)
        self.weights = (w_appearance, w_smoothness)

    def forward(self, logits: Tensor, image: Tensor) -> Tensor:
        a, b, g = self.thetas
        q = dense_crf(
            -logits,
            image,
            self.iterations,
            theta_alpha=a,
            theta_beta=b,
            theta_gamma=g,
            w_appearance=self.weights[0],
            w_smoothness=self.weights[1],
            method=self.method,
            cell=self.cell,
        )
        return q.clamp_min(torch.finfo(q.dtype).tiny).log()

    def extra_repr(self) -> str:
        a, b, g = self.thetas
        return f"iterations={self.iterations}, theta=({a}, {b}, {g}), w={self.weights}, method={self.method!r}"


class CRFasRNN(nn.Module):
    """CRF-as-RNN (Zheng et al. 2015): ``iterations`` unrolled mean-field steps with learnable parameters.

    Learnable: the appearance and smoothness kernel weights ``w1, w2`` (scalars) and the label compatibility
    ``μ`` (``Tensor[L, L]``, initialized to Potts). The kernel widths θα, θβ, θγ are fixed, as in the paper.
    Each step is the paper's sequence: message passing (the Gaussian filters), weighting the filter outputs,
    compatibility transform, adding the unaries, normalization (softmax). With its initial parameters the layer
    equals :func:`course_lib.ops.crf.dense_crf` (tests/test_crf.py). ``cell``: the bilateral grid's cell (in standard
    deviations) of the approximate path; ``1.0`` is several times faster than the default ``0.5`` and coarser.

    Shapes: ``logits Tensor[B, L, H, W]``, ``image Tensor[B, C, H, W]`` -> ``Tensor[B, L, H, W]`` logits.
    """

    def __init__(
        self,
        n_labels: int,
        iterations: int = 5,
        *,
        theta_alpha: float = 80.0,
        theta_beta: float = 13.0,
        theta_gamma: float = 3.0,
        w_appearance: float = 10.0,
        w_smoothness: float = 3.0,
        method: str = "auto",
        cell: float = 0.5,
    ) -> None:
        super().__init__()
        self.n_labels, self.iterations, self.method, self.cell = n_labels, iterations, method, cell
        self.thetas = (theta_alpha, theta_beta, theta_gamma)
        self.w_appearance = nn.Parameter(torch.tensor(float(w_appearance)))
        self.w_smoothness = nn.Parameter(torch.tensor(float(w_smoothness)))
        self.compat = nn.Parameter(potts(n_labels))

    def forward(self, logits: Tensor, image: Tensor) -> Tensor:
        if logits.shape[1] != self.n_labels:
            raise ValueError(f"expected {self.n_labels} labels, got logits of shape {tuple(logits.shape)}")
        a, b, g = self.thetas
        messages = crf_messages(
            image.to(logits.dtype), theta_alpha=a, theta_beta=b, theta_gamma=g, method=self.method, cell=self.cell
        )
        compat = self.compat.to(logits.dtype)
        z = logits
        for _ in range(self.iterations):  # the recurrent steps share their parameters
            q = torch.softmax(z, dim=1)
            z = logits - pairwise_term(q, messages, compat, self.w_appearance, self.w_smoothness)
        return z

    def extra_repr(self) -> str:
        a, b, g = self.thetas
        return f"n_labels={self.n_labels}, iterations={self.iterations}, theta=({a}, {b}, {g}), method={self.method!r}"


class CRFSegmenter(nn.Module):
    """A segmentation network followed by a CRF layer that also sees the image (DeepLab, CRF-as-RNN end to end).

    ``forward(x) = crf(segmenter(x), image_of(x))``; ``image_of`` picks the intensities the appearance kernel
    compares (default: ``x`` itself). With a :class:`CRFasRNN` the whole model trains end to end through
    ``course_lib.engine``; with a :class:`DenseCRF` it is FCN + post-processing.
    """

    def __init__(
        self, segmenter: nn.Module, crf: nn.Module, image_of: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        super().__init__()
        self.segmenter, self.crf = segmenter, crf
        self.image_of = image_of

    def forward(self, x: Tensor) -> Tensor:
        image = x if self.image_of is None else self.image_of(x)
        return self.crf(self.segmenter(x), image)
