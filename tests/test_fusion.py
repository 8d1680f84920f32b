"""Fusions (course_lib.layers.fusion): MUTAN against an explicit Tucker product, its parameter count, full rank,
MLB's equation, float64 gradcheck."""

from __future__ import annotations

import pytest
import torch

from course_lib.layers import (
    MLB,
    MUTAN,
    ConcatFusion,
    ProductFusion,
    factorize_core,
    make_fusion,
    mutan_parameter_count,
)
from course_lib.layers.fusion import FUSIONS, mutan_core


def _inputs(b=4, dq=5, dv=6, dtype=torch.float64):
    torch.manual_seed(0)
    return torch.randn(b, dq, dtype=dtype), torch.randn(b, dv, dtype=dtype)


def test_mutan_equals_explicit_tucker_product():
    q, v = _inputs()
    f = MUTAN(5, 6, 3, t_q=4, t_v=7, t_o=2, rank=3).double()
    qt, vt = torch.tanh(f.proj_q(q)), torch.tanh(f.proj_v(v))
    core = torch.einsum("rik,rjk->ijk", f.m, f.n)  # rank-R slices
    z = torch.einsum("bi,bj,ijk->bk", qt, vt, core)
    torch.testing.assert_close(f.fuse(q, v), z)
    torch.testing.assert_close(f(q, v), z @ f.out.weight.T + f.out.bias)
    # the same by a naive loop over the core's entries
    naive = torch.zeros(4, 2, dtype=torch.float64)
    for i in range(4):
        for j in range(7):
            naive += core[i, j][None] * (qt[:, i] * vt[:, j])[:, None]
    torch.testing.assert_close(f.fuse(q, v), naive)


@pytest.mark.parametrize("rank", [1, 4, None])
def test_mutan_parameter_count_follows_the_formula(rank):
    f = MUTAN(10, 12, 7, t_q=8, t_v=9, t_o=5, rank=rank)
    assert sum(p.numel() for p in f.parameters()) == mutan_parameter_count(10, 12, 7, 8, 9, 5, rank)
    core = 8 * 9 * 5 if rank is None else rank * (8 + 9) * 5
    assert mutan_parameter_count(10, 12, 7, 8, 9, 5, rank) == 11 * 8 + 13 * 9 + core + 6 * 7


def test_full_rank_recovers_the_unconstrained_core():
    q, v = _inputs()
    full = MUTAN(5, 6, 3, t_q=4, t_v=6, t_o=3, rank=None).double()
    low = MUTAN(5, 6, 3, t_q=4, t_v=6, t_o=3, rank=4).double()  # min(t_q, t_v) = 4: full rank
    low.load_state_dict({k: v_ for k, v_ in full.state_dict().items() if k != "core_full"}, strict=False)
    m, n = factorize_core(full.core_full, 4)
    with torch.no_grad():
        low.m.copy_(m), low.n.copy_(n)
    torch.testing.assert_close(low.core, full.core_full)
    torch.testing.assert_close(low(q, v), full(q, v))
    # below full rank: the best rank-R approximation of every slice, strictly worse than full rank
    m2, n2 = factorize_core(full.core_full, 2)
    err = (mutan_core(m2, n2) - full.core_full).flatten(0, 1).norm(dim=0)
    sv = torch.linalg.svdvals(full.core_full.permute(2, 0, 1))  # (t_o, 4)
    torch.testing.assert_close(err, sv[:, 2:].norm(dim=1))


def test_mlb_equation_and_product_fusion():
    q, v = _inputs()
    f = MLB(5, 6, 3, rank=8).double()
    ref = (torch.tanh(q @ f.proj_q.weight.T + f.proj_q.bias) * torch.tanh(v @ f.proj_v.weight.T + f.proj_v.bias)) @ (
        f.out.weight.T
    ) + f.out.bias
    torch.testing.assert_close(f(q, v), ref)
    p = ProductFusion(5, 6, 8).double()
    torch.testing.assert_close(p(q, v), torch.tanh(p.proj_q(q)) * torch.tanh(p.proj_v(v)))
    c = ConcatFusion(5, 6, 3).double()
    torch.testing.assert_close(c(q, v), torch.tanh(c.linear(torch.cat([q, v], 1))))


@pytest.mark.parametrize("name", FUSIONS)
def test_gradcheck_and_shapes(name):
    q, v = _inputs(b=3, dq=4, dv=3)
    f = make_fusion(name, 4, 3, 2, rank=2, t=5).double()
    assert f(q, v).shape == (3, 2)
    qg, vg = q.clone().requires_grad_(), v.clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (qg, vg))


def test_unconstrained_mutan_gradcheck_and_bad_inputs():
    q, v = _inputs(b=2, dq=3, dv=3)
    f = MUTAN(3, 3, 2, t_q=3, t_v=2, t_o=2, rank=None).double()
    assert torch.autograd.gradcheck(f, (q.clone().requires_grad_(), v.clone().requires_grad_()))
    with pytest.raises(ValueError, match="expected q"):
        f(q, v[:, :2])
    with pytest.raises(ValueError, match="fusion must be one of"):
        make_fusion("sum", 3, 3, 2)
    with pytest.raises(ValueError, match="rank"):
        factorize_core(f.core_full, 5)
