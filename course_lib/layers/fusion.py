"""Multimodal fusion of a question vector ``q`` and an image vector ``v``: concatenation, element-wise product, MLB,
MUTAN.

RCP209, *Open questions* (VQA, many to one): mono-modal representations, then a fusion. A bilinear model
``y_k = q^T W_k v`` lets every question feature interact with every image feature, but its tensor ``W`` of
``d_q x d_v x d_o`` parameters is far too big; the fusions below are its cheap approximations.

- :class:`ConcatFusion`: ``z = tanh(W [q; v] + b)`` (no interaction before the non-linearity).
- :class:`ProductFusion`: ``z = tanh(W_q q) * tanh(W_v v)`` (a rank-one-per-unit bilinear map).
- :class:`MLB` (Kim et al. 2017, *Hadamard product for low-rank bilinear pooling*): ``z = P^T (tanh(U^T q) *
  tanh(V^T v)) + b``: a bilinear model whose ``W_k`` are of rank ``d`` with shared factors.
- :class:`MUTAN` (Ben-younes et al. 2017, *MUTAN: multimodal Tucker fusion for VQA*): the Tucker decomposition
  ``W = T_c x_1 W_q x_2 W_v x_3 W_o``. The modalities are projected, ``q~ = tanh(W_q q)`` (``t_q``) and
  ``v~ = tanh(W_v v)`` (``t_v``); the core ``T_c`` (``t_q x t_v x t_o``) mixes them, ``z_k = sum_ij T_c[i, j, k]
  q~_i v~_j``, and ``y = W_o z``. The rank constraint writes each slice ``T_c[:, :, k]`` as a sum of ``R`` rank-one
  matrices, ``T_c[i, j, k] = sum_r M[r, i, k] N[r, j, k]``, so ``z = sum_r (q~ M_r) * (v~ N_r)``: ``R (t_q + t_v) t_o``
  core parameters instead of ``t_q t_v t_o``. ``rank=None`` keeps the unconstrained core.

tests/test_fusion.py pins MUTAN against an explicit ``einsum`` Tucker product with the same factors, its parameter
count against :func:`mutan_parameter_count`, full rank against the unconstrained core (:func:`factorize_core`), and
float64 gradcheck.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check(q: Tensor, v: Tensor, dq: int, dv: int) -> None:
    if q.dim() != 2 or v.dim() != 2 or len(q) != len(v) or q.shape[1] != dq or v.shape[1] != dv:
        raise ValueError(f"expected q (B, {dq}) and v (B, {dv}), got {tuple(q.shape)} and {tuple(v.shape)}")


class _Fusion(nn.Module):
    def __init__(self, dim_q: int, dim_v: int, dim_out: int) -> None:
        super().__init__()
        if min(dim_q, dim_v, dim_out) < 1:
            raise ValueError(f"dimensions must be >= 1, got {dim_q}, {dim_v}, {dim_out}")
        self.dim_q, self.dim_v, self.dim_out = dim_q, dim_v, dim_out

    def extra_repr(self) -> str:
        return f"dim_q={self.dim_q}, dim_v={self.dim_v}, dim_out={self.dim_out}"


class ConcatFusion(_Fusion):
    """``(q Tensor[B, Dq], v Tensor[B, Dv]) -> tanh(W [q; v] + b) Tensor[B, dim_out]``."""

    def __init__(self, dim_q: int, dim_v: int, dim_out: int) -> None:
        super().__init__(dim_q, dim_v, dim_out)
        self.linear = nn.Linear(dim_q + dim_v, dim_out)

    def forward(self, q: Tensor, v: Tensor) -> Tensor:
        _check(q, v, self.dim_q, self.dim_v)
        return torch.tanh(self.linear(torch.cat([q, v], 1)))


class ProductFusion(_Fusion):
    """``(q, v) -> tanh(W_q q + b_q) * tanh(W_v v + b_v)`` ``Tensor[B, dim_out]`` (element-wise product)."""

    def __init__(self, dim_q: int, dim_v: int, dim_out: int) -> None:
        super().__init__(dim_q, dim_v, dim_out)
        self.proj_q, self.proj_v = nn.Linear(dim_q, dim_out), nn.Linear(dim_v, dim_out)

    def forward(self, q: Tensor, v: Tensor) -> Tensor:
        _check(q, v, self.dim_q, self.dim_v)
        return torch.tanh(self.proj_q(q)) * torch.tanh(self.proj_v(v))


class MLB(_Fusion):
    """Multimodal low-rank bilinear pooling (Kim et al. 2017): ``P^T (tanh(U^T q) * tanh(V^T v)) + b``.

    Args:
        dim_q, dim_v: input sizes; dim_out: output size; rank: the joint (Hadamard) dimension ``d``.
    """

    def __init__(self, dim_q: int, dim_v: int, dim_out: int, rank: int) -> None:
        super().__init__(dim_q, dim_v, dim_out)
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.rank = rank
        self.proj_q, self.proj_v = nn.Linear(dim_q, rank), nn.Linear(dim_v, rank)
        self.out = nn.Linear(rank, dim_out)

    def forward(self, q: Tensor, v: Tensor) -> Tensor:
        _check(q, v, self.dim_q, self.dim_v)
        return self.out(torch.tanh(self.proj_q(q)) * torch.tanh(self.proj_v(v)))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"


def mutan_core(m: Tensor, n: Tensor) -> Tensor:
    """The Tucker core of rank-``R`` slices: ``T[i, j, k] = sum_r M[r, i, k] N[r, j, k]``.

    ``M Tensor[R, t_q, t_o]``, ``N Tensor[R, t_v, t_o]`` -> ``Tensor[t_q, t_v, t_o]``.
    """
    if m.dim() != 3 or n.dim() != 3 or m.shape[0] != n.shape[0] or m.shape[2] != n.shape[2]:
        raise ValueError(f"expected M (R, t_q, t_o) and N (R, t_v, t_o), got {tuple(m.shape)}, {tuple(n.shape)}")
    return torch.einsum("rik,rjk->ijk", m, n)


def tucker_product(q: Tensor, v: Tensor, core: Tensor) -> Tensor:
    """``z_k = sum_ij core[i, j, k] q_i v_j``: ``q Tensor[B, t_q]``, ``v Tensor[B, t_v]`` -> ``Tensor[B, t_o]``."""
    if (
        q.dim() != 2
        or v.dim() != 2
        or core.dim() != 3
        or len(q) != len(v)
        or core.shape[:2] != (q.shape[1], v.shape[1])
    ):
        raise ValueError(
            f"expected q (B, t_q), v (B, t_v) and core (t_q, t_v, t_o), got {tuple(q.shape)}, {tuple(v.shape)}, "
            f"{tuple(core.shape)}"
        )
    return torch.einsum("bi,bj,ijk->bk", q, v, core)


@torch.no_grad()
def factorize_core(core: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    """Rank-``R`` factors ``(M Tensor[R, t_q, t_o], N Tensor[R, t_v, t_o])`` of a core, slice by slice (SVD).

    Each slice ``core[:, :, k] = sum_r s_r u_r w_r^T`` gives ``M[r, :, k] = s_r u_r`` and ``N[r, :, k] = w_r``:
    exact at ``R = min(t_q, t_v)`` (full rank), the best rank-``R`` approximation of every slice below it
    (Eckart-Young).
    """
    if core.dim() != 3 or not 1 <= rank <= min(core.shape[:2]):
        raise ValueError(f"need a (t_q, t_v, t_o) core and 1 <= rank <= min(t_q, t_v), got {tuple(core.shape)}, {rank}")
    u, s, wh = torch.linalg.svd(core.permute(2, 0, 1), full_matrices=False)  # (t_o, t_q, p), (t_o, p), (t_o, p, t_v)
    m = (u[..., :rank] * s[:, None, :rank]).permute(2, 1, 0)  # (R, t_q, t_o)
    n = wh[:, :rank].permute(1, 2, 0)  # (R, t_v, t_o)
    return m.contiguous(), n.contiguous()


def mutan_parameter_count(dim_q: int, dim_v: int, dim_out: int, t_q: int, t_v: int, t_o: int, rank: int | None) -> int:
    """Parameters of :class:`MUTAN`: the projections ``W_q, W_v`` (with biases), the core and ``W_o`` (with bias).

    The core has ``R (t_q + t_v) t_o`` parameters under the rank constraint, ``t_q t_v t_o`` without it.
    """
    core = t_q * t_v * t_o if rank is None else rank * (t_q + t_v) * t_o
    return (dim_q + 1) * t_q + (dim_v + 1) * t_v + core + (t_o + 1) * dim_out


class MUTAN(_Fusion):
    """MUTAN fusion (Ben-younes et al. 2017), see the module docstring: ``(q, v) -> W_o z + b_o`` ``Tensor[B, dim_out]``.

    Args:
        dim_q, dim_v: input sizes; dim_out: output size.
        t_q, t_v, t_o: the core's dimensions (projected question, projected image, fused vector).
        rank: ``R``, the rank of every slice of the core (``None``: the unconstrained core ``T_c``).
    """

    def __init__(
        self, dim_q: int, dim_v: int, dim_out: int, t_q: int = 64, t_v: int = 64, t_o: int = 64, rank: int | None = 5
    ) -> None:
        super().__init__(dim_q, dim_v, dim_out)
        if min(t_q, t_v, t_o) < 1 or (rank is not None and rank < 1):
            raise ValueError(f"t_q, t_v, t_o and rank must be >= 1, got {t_q}, {t_v}, {t_o}, {rank}")
        self.t_q, self.t_v, self.t_o, self.rank = t_q, t_v, t_o, rank
        self.proj_q, self.proj_v = nn.Linear(dim_q, t_q), nn.Linear(dim_v, t_v)
        if rank is None:
            self.core_full = nn.Parameter(torch.randn(t_q, t_v, t_o) / (t_q * t_v) ** 0.5)
        else:
            self.m = nn.Parameter(torch.randn(rank, t_q, t_o) / (rank * t_q) ** 0.5)
            self.n = nn.Parameter(torch.randn(rank, t_v, t_o) / t_v**0.5)
        self.out = nn.Linear(t_o, dim_out)

    @property
    def core(self) -> Tensor:
        """The core tensor ``T_c Tensor[t_q, t_v, t_o]`` (built from the factors under the rank constraint)."""
        return self.core_full if self.rank is None else mutan_core(self.m, self.n)

    def fuse(self, q: Tensor, v: Tensor) -> Tensor:
        """The fused vector ``z Tensor[B, t_o]`` (before the output projection)."""
        _check(q, v, self.dim_q, self.dim_v)
        qt, vt = torch.tanh(self.proj_q(q)), torch.tanh(self.proj_v(v))  # (B, t_q), (B, t_v)
        if self.rank is None:
            return tucker_product(qt, vt, self.core_full)
        # sum over r of (q~ M_r) * (v~ N_r): never builds the t_q x t_v x t_o core
        return (torch.einsum("bi,rik->brk", qt, self.m) * torch.einsum("bj,rjk->brk", vt, self.n)).sum(1)

    def forward(self, q: Tensor, v: Tensor) -> Tensor:
        return self.out(self.fuse(q, v))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, t_q={self.t_q}, t_v={self.t_v}, t_o={self.t_o}, rank={self.rank}"


FUSIONS = ("concat", "product", "mlb", "mutan")


def make_fusion(name: str, dim_q: int, dim_v: int, dim_out: int, *, rank: int | None = 5, t: int = 64) -> nn.Module:
    """A fusion by name: ``"concat"``, ``"product"``, ``"mlb"`` (joint dimension ``t``) or ``"mutan"`` (``t_q = t_v =
    t_o = t``, rank ``rank``)."""
    if name == "concat":
        return ConcatFusion(dim_q, dim_v, dim_out)
    if name == "product":
        return ProductFusion(dim_q, dim_v, dim_out)
    if name == "mlb":
        return MLB(dim_q, dim_v, dim_out, rank=t)
    if name == "mutan":
        return MUTAN(dim_q, dim_v, dim_out, t, t, t, rank=rank)
    raise ValueError(f"fusion must be one of {FUSIONS}, got {name!r}")
