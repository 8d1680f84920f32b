"""Fully connected CRF with Gaussian edge potentials and its mean-field inference (Krähenbühl & Koltun 2011,
"Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials").

Lecture: UvA "Dense prediction" (the CRF loss ``E(x) = Σ_i ψ_u(x_i) + Σ_{i<j} ψ_p(x_i, x_j)`` with the Gaussian
appearance and smoothness kernels) and RCP209 (DeepLab: FCN + dense-CRF post-processing).

The pairwise potential is ``ψ_p(x_i, x_j) = μ(x_i, x_j) k(f_i, f_j)`` with (paper, eq. 3)

    k(f_i, f_j) = w1 exp(-|p_i - p_j|² / 2θα² - |I_i - I_j|² / 2θβ²)      (appearance, "bilateral")
                + w2 exp(-|p_i - p_j|² / 2θγ²)                            (smoothness, "Gaussian")

and Potts compatibility ``μ(l, l') = [l ≠ l']``. Parameters follow pydensecrf's conventions: ``θα, θβ, θγ`` are
standard deviations (its ``sxy``/``srgb`` of ``addPairwiseBilateral`` and ``sxy`` of ``addPairwiseGaussian``, in
pixels and in the image's intensity units: ``srgb=13`` is for 0-255 RGB), ``w1, w2`` are its ``compat`` weights,
and the unaries are energies ``ψ_u = -log P`` (its ``unary_from_softmax``). pydensecrf's defaults (``θα=80, θβ=13,
θγ=3, w1=10, w2=3``) are the defaults here. Two differences, documented: the kernels here are the paper's,
unnormalized (pydensecrf normalizes symmetrically by default), and the sum runs over ``j ≠ i`` exactly.

Mean-field (paper, Algorithm 1), all pixels in parallel::

    Q ← softmax(-ψ_u);  repeat T times:  Q_i(l) ∝ exp(-ψ_u(l) - Σ_l' μ(l, l') Σ_m w_m Σ_{j≠i} k_m(f_i, f_j) Q_j(l'))

so ``iterations=0`` returns ``softmax(-unary)`` (the softmax of the classifier's logits when ``unary = -logits``).

Two ways to compute the messages ``Σ_{j≠i} k(f_i, f_j) Q_j``:

- ``"exact"``: all pairs, an ``(N, N)`` kernel per image (``N = H W``): ``O(N²)`` memory and time, small images only.
- ``"approx"``: the smoothness kernel as a separable Gaussian convolution (exact up to truncation at 4θγ) and the
  appearance kernel on a bilateral grid (Chen, Paris & Durand 2007): splat ``Q`` with multilinear weights onto a
  grid over ``(y/θα, x/θα, I/θβ)`` with cells of ``cell`` standard deviations, blur it with a separable Gaussian,
  slice it back, subtract the pixel's own contribution. Linear in ``N``; the paper uses the permutohedral lattice
  (Adams et al. 2010) for the same purpose. Its error against ``"exact"`` is measured in tests/test_crf.py and by
  ``python -m course_lib.tools.bench_crf``.

``"auto"`` (the default) is exact up to ``EXACT_MAX_PIXELS`` pixels and approximate above.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import product

import torch
import torch.nn.functional as F
from torch import Tensor

EXACT_MAX_PIXELS = 400  # 20 x 20: above, setup + 5 exact iterations take longer than the grid (tools/bench_crf.py)
Messages = Callable[[Tensor], tuple[Tensor, Tensor]]


def potts(n_labels: int, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """The Potts compatibility ``μ(l, l') = [l ≠ l']``: ``Tensor[L, L]``, zeros on the diagonal, ones elsewhere."""
    return 1.0 - torch.eye(n_labels, device=device, dtype=dtype)


def _check(unary: Tensor, image: Tensor) -> None:
    if unary.dim() != 4 or image.dim() != 4:
        raise ValueError(
            f"expected unary (B, L, H, W) and image (B, C, H, W), got {tuple(unary.shape)}, {tuple(image.shape)}"
        )
    if unary.shape[0] != image.shape[0] or unary.shape[2:] != image.shape[2:]:
        raise ValueError(f"unary {tuple(unary.shape)} and image {tuple(image.shape)} differ in batch or size")


def _positions(h: int, w: int, like: Tensor) -> Tensor:
    """``Tensor[H*W, 2]`` pixel coordinates (row, column), row-major."""
    ys, xs = torch.meshgrid(torch.arange(h, device=like.device), torch.arange(w, device=like.device), indexing="ij")
    return torch.stack([ys, xs], -1).reshape(-1, 2).to(like.dtype)


def _features(image: Tensor, theta_alpha: float, theta_beta: float) -> Tensor:
    """Appearance features ``(p / θα, I / θβ)``: ``Tensor[B, N, 2 + C]``."""
    b, _, h, w = image.shape
    pos = _positions(h, w, image).expand(b, -1, -1) / theta_alpha
    return torch.cat([pos, image.flatten(2).transpose(1, 2) / theta_beta], -1)


def gaussian_kernels(
    image: Tensor, theta_alpha: float = 80.0, theta_beta: float = 13.0, theta_gamma: float = 3.0
) -> tuple[Tensor, Tensor]:
    """The appearance and smoothness kernels between all pixel pairs, zero on the diagonal (``j ≠ i``).

    Args:
        image: ``Tensor[B, C, H, W]``.
    Returns:
        ``(k_appearance Tensor[B, N, N], k_smoothness Tensor[1, N, N])`` with ``N = H W`` (row-major pixels).
    """
    _, _, h, w = image.shape
    f = _features(image, theta_alpha, theta_beta)
    k_app = torch.exp(-0.5 * torch.cdist(f, f).square())
    p = _positions(h, w, image) / theta_gamma
    k_smooth = torch.exp(-0.5 * torch.cdist(p, p).square())[None]
    eye = torch.eye(h * w, dtype=torch.bool, device=image.device)
    return k_app.masked_fill(eye, 0.0), k_smooth.masked_fill(eye, 0.0)


def _exact_messages(image: Tensor, theta_alpha: float, theta_beta: float, theta_gamma: float) -> Messages:
    k_app, k_smooth = gaussian_kernels(image, theta_alpha, theta_beta, theta_gamma)

    def messages(q: Tensor) -> tuple[Tensor, Tensor]:
        flat = q.flatten(2)  # (B, L, N); the kernels are symmetric
        return (flat @ k_app).view_as(q), (flat @ k_smooth).view_as(q)

    return messages


def _blur_axis(x: Tensor, axis: int, sigma: float, radius: int) -> Tensor:
    """Convolve ``x`` along ``axis`` with a Gaussian of std ``sigma`` truncated at ``radius``, zero padding
    (nothing lies outside the image or the grid): a product with the banded ``(n, n)`` Gaussian matrix, which
    on a CPU is much faster than a one-channel ``conv1d`` over many rows."""
    n = x.shape[axis]
    d = torch.arange(n, device=x.device, dtype=x.dtype)
    d = d[:, None] - d[None, :]
    band = torch.exp(-0.5 * (d / sigma) ** 2) * (d.abs() <= radius)
    return (x.movedim(axis, -1) @ band).movedim(-1, axis)


def smoothness_filter(q: Tensor, theta_gamma: float, truncate: float = 4.0) -> Tensor:
    """``Σ_{j≠i} exp(-|p_i - p_j|² / 2θγ²) Q_j`` as two 1-D convolutions (the kernel is separable).

    Exact up to the truncation of the Gaussian at ``truncate * θγ`` pixels. ``Tensor[B, L, H, W]`` in and out.
    """
    out = q
    for axis in (2, 3):
        out = _blur_axis(out, axis, theta_gamma, math.ceil(truncate * theta_gamma))
    return out - q


def _grid_messages(
    image: Tensor, theta_alpha: float, theta_beta: float, theta_gamma: float, cell: float, truncate: float
) -> Messages:
    """Bilateral grid (Chen, Paris & Durand 2007) for the appearance kernel, separable blur for the smoothness one."""
    b = image.shape[0]
    g = _features(image, theta_alpha, theta_beta) / cell  # (B, N, D) in grid cells
    g = g - g.detach().amin(1, keepdim=True)
    base = g.detach().floor()
    frac = g - base  # differentiable in the image
    base = base.long()
    sizes = (base.amax((0, 1)) + 2).tolist()  # one more cell for the upper corner
    strides = [math.prod(sizes[d + 1 :]) for d in range(len(sizes))]
    cells = math.prod(sizes)
    corners = []  # (flat index Tensor[B, 1, N], weight Tensor[B, 1, N]) for each of the 2^D corners
    for corner in product((0, 1), repeat=len(sizes)):
        index = sum((base[..., d] + c) * strides[d] for d, c in enumerate(corner))
        weight = torch.ones_like(frac[..., 0])
        for d, c in enumerate(corner):
            weight = weight * (frac[..., d] if c else 1 - frac[..., d])
        corners.append((index[:, None], weight[:, None]))
    sigma = 1.0 / cell
    radius = math.ceil(truncate * sigma)

    def messages(q: Tensor) -> tuple[Tensor, Tensor]:
        n_labels = q.shape[1]
        flat = q.flatten(2)  # (B, L, N)
        grid = flat.new_zeros(b, n_labels, cells)
        for index, weight in corners:  # splat
            grid = grid.scatter_add(2, index.expand(-1, n_labels, -1), flat * weight)
        grid = grid.view(b, n_labels, *sizes)
        for axis in range(len(sizes)):  # blur
            grid = _blur_axis(grid, 2 + axis, sigma, radius)
        grid = grid.reshape(b, n_labels, cells)
        sliced = sum(grid.gather(2, index.expand(-1, n_labels, -1)) * weight for index, weight in corners)  # slice
        return (sliced - flat).view_as(q), smoothness_filter(q, theta_gamma, truncate)

    return messages


def crf_messages(
    image: Tensor,
    *,
    theta_alpha: float = 80.0,
    theta_beta: float = 13.0,
    theta_gamma: float = 3.0,
    method: str = "auto",
    cell: float = 0.5,
    truncate: float = 4.0,
) -> Messages:
    """The message function ``Q -> (Σ_{j≠i} k_app(i, j) Q_j, Σ_{j≠i} k_smooth(i, j) Q_j)`` for ``image``.

    Precomputes what depends on the image only (the kernels, or the grid's splatting weights), so mean-field
    iterations reuse it. ``method``: ``"exact"``, ``"approx"`` or ``"auto"`` (exact up to ``EXACT_MAX_PIXELS``).
    ``cell``: grid cell in standard deviations (smaller: more accurate, slower); ``truncate``: Gaussian radius.
    """
    if method == "auto":
        method = "exact" if image.shape[2] * image.shape[3] <= EXACT_MAX_PIXELS else "approx"
    if method == "exact":
        return _exact_messages(image, theta_alpha, theta_beta, theta_gamma)
    if method == "approx":
        return _grid_messages(image, theta_alpha, theta_beta, theta_gamma, cell, truncate)
    raise ValueError(f"method must be 'exact', 'approx' or 'auto', got {method!r}")


def mean_field_step(
    q: Tensor,
    unary: Tensor,
    messages: Messages,
    compat: Tensor,
    w_appearance: Tensor | float,
    w_smoothness: Tensor | float,
) -> Tensor:
    """One parallel mean-field update (Algorithm 1): message passing, weighting, compatibility, local update.

    Args:
        q: current marginals ``Tensor[B, L, H, W]``; unary: energies ``Tensor[B, L, H, W]``.
        messages: from :func:`crf_messages`; compat: ``Tensor[L, L]`` (``μ(l, l')``, Potts: :func:`potts`).
    """
    return torch.softmax(-unary - pairwise_term(q, messages, compat, w_appearance, w_smoothness), dim=1)


def pairwise_term(
    q: Tensor, messages: Messages, compat: Tensor, w_appearance: Tensor | float, w_smoothness: Tensor | float
) -> Tensor:
    """``Σ_l' μ(l, l') Σ_m w_m Σ_{j≠i} k_m(i, j) Q_j(l')``: ``Tensor[B, L, H, W]`` (what mean-field subtracts)."""
    m_app, m_smooth = messages(q)
    return torch.einsum("lk,bkhw->blhw", compat, w_appearance * m_app + w_smoothness * m_smooth)


def dense_crf(
    unary: Tensor,
    image: Tensor,
    iterations: int = 5,
    *,
    theta_alpha: float = 80.0,
    theta_beta: float = 13.0,
    theta_gamma: float = 3.0,
    w_appearance: float = 10.0,
    w_smoothness: float = 3.0,
    compat: Tensor | None = None,
    method: str = "auto",
    cell: float = 0.5,
) -> Tensor:
    """Mean-field marginals of the fully connected CRF (Krähenbühl & Koltun 2011).

    Args:
        unary: ``Tensor[B, L, H, W]`` unary energies ``ψ_u = -log P`` (or ``-logits``).
        image: ``Tensor[B, C, H, W]`` the intensities the appearance kernel compares (same units as ``theta_beta``).
        iterations: mean-field steps; 0 returns ``softmax(-unary)``.
        compat: ``Tensor[L, L]``, default Potts.
    Returns:
        ``Tensor[B, L, H, W]`` marginals ``Q`` (sum to one over ``L``).
    """
    _check(unary, image)
    if compat is None:
        compat = potts(unary.shape[1], device=unary.device, dtype=unary.dtype)
    image = image.to(unary.dtype)
    messages = crf_messages(
        image, theta_alpha=theta_alpha, theta_beta=theta_beta, theta_gamma=theta_gamma, method=method, cell=cell
    )
    q = torch.softmax(-unary, dim=1)
    for _ in range(iterations):
        q = mean_field_step(q, unary, messages, compat, w_appearance, w_smoothness)
    return q


def _expected_energy(q: Tensor, unary: Tensor, image: Tensor, compat: Tensor | None, **params: float | str) -> Tensor:
    weights = {k: float(params.pop(k)) for k in ("w_appearance", "w_smoothness")}
    if compat is None:
        compat = potts(unary.shape[1], device=unary.device, dtype=unary.dtype)
    messages = crf_messages(image.to(unary.dtype), **params)  # type: ignore[arg-type]
    pairwise = pairwise_term(q, messages, compat, weights["w_appearance"], weights["w_smoothness"])
    return (q * unary).sum((1, 2, 3)) + 0.5 * (q * pairwise).sum((1, 2, 3))  # each pair i<j once


def crf_energy(
    labels: Tensor,
    unary: Tensor,
    image: Tensor,
    *,
    theta_alpha: float = 80.0,
    theta_beta: float = 13.0,
    theta_gamma: float = 3.0,
    w_appearance: float = 10.0,
    w_smoothness: float = 3.0,
    compat: Tensor | None = None,
    method: str = "exact",
) -> Tensor:
    """``E(x) = Σ_i ψ_u(x_i) + Σ_{i<j} μ(x_i, x_j) k(f_i, f_j)`` (paper, eq. 1) of a labelling ``Tensor[B, H, W]``.

    Returns ``Tensor[B]``. ``method="exact"`` sums all pairs (small images); ``"approx"`` uses the grid.
    """
    _check(unary, image)
    q = F.one_hot(labels, unary.shape[1]).permute(0, 3, 1, 2).to(unary.dtype)
    return _expected_energy(
        q,
        unary,
        image,
        compat,
        theta_alpha=theta_alpha,
        theta_beta=theta_beta,
        theta_gamma=theta_gamma,
        w_appearance=w_appearance,
        w_smoothness=w_smoothness,
        method=method,
    )


def mean_field_free_energy(
    q: Tensor,
    unary: Tensor,
    image: Tensor,
    *,
    theta_alpha: float = 80.0,
    theta_beta: float = 13.0,
    theta_gamma: float = 3.0,
    w_appearance: float = 10.0,
    w_smoothness: float = 3.0,
    compat: Tensor | None = None,
    method: str = "exact",
) -> Tensor:
    """The variational free energy ``F(Q) = E_Q[E(x)] - H(Q) = KL(Q || P) - log Z`` that mean-field minimizes.

    ``E_Q[E] = Σ_i Σ_l Q_i(l) ψ_u(l) + ½ Σ_{i≠j} Σ_{l,l'} Q_i(l) μ(l,l') k_ij Q_j(l')``; returns ``Tensor[B]``.
    """
    _check(unary, image)
    energy = _expected_energy(
        q,
        unary,
        image,
        compat,
        theta_alpha=theta_alpha,
        theta_beta=theta_beta,
        theta_gamma=theta_gamma,
        w_appearance=w_appearance,
        w_smoothness=w_smoothness,
        method=method,
    )
    return energy + torch.xlogy(q, q).sum((1, 2, 3))
