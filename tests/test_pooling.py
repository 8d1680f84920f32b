"""Global poolings of weak supervision pinned by the lecture's identities, a naive loop, gradcheck and the
reference code's 1/2 scaling (github.com/durandtibo/wildcat.pytorch, wildcat/pooling.py)."""

from __future__ import annotations

import pytest
import torch

from course_lib.layers import (
    ClassWisePool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    LSEPool2d,
    WeldonPool2d,
    WildcatPool2d,
    class_wise_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    lse_pool2d,
    resolve_k,
    weldon_pool2d,
    wildcat_pool2d,
)


def maps(seed: int, shape=(2, 3, 4, 5), device="cpu", dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype).to(device)


def naive_wildcat(x, kmax, kmin, alpha, halve=False):
    """A plain loop over images and classes with Python's sorted(): the paper's equation."""
    b, c = x.shape[:2]
    out = torch.zeros(b, c, dtype=x.dtype)
    for i in range(b):
        for j in range(c):
            v = sorted(x[i, j].flatten().tolist(), reverse=True)
            s = sum(v[:kmax]) / kmax
            if kmin > 0 and alpha != 0:
                s += alpha * sum(v[-kmin:]) / kmin
                if halve:
                    s /= 2
            out[i, j] = s
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wildcat_special_cases(device, seed):
    x = maps(seed, device=device)
    n = 4 * 5
    torch.testing.assert_close(wildcat_pool2d(x, 1, 0), global_max_pool2d(x))  # k+=1, k-=0: max (Oquab et al.)
    torch.testing.assert_close(wildcat_pool2d(x, n, 0), global_avg_pool2d(x))  # k+=n: GAP (Zhou et al.)
    torch.testing.assert_close(weldon_pool2d(x, 3), wildcat_pool2d(x, 3, 3, alpha=1.0))  # WELDON = (k, k, 1)
    torch.testing.assert_close(global_max_pool2d(x), x.amax(dim=(2, 3)))
    torch.testing.assert_close(global_avg_pool2d(x), torch.nn.AdaptiveAvgPool2d(1)(x).flatten(1))
    torch.testing.assert_close(wildcat_pool2d(x, 2, 3, alpha=0.0), wildcat_pool2d(x, 2, 0))  # alpha=0: no negative term
    # all regions on both sides with alpha=1: twice the mean
    torch.testing.assert_close(wildcat_pool2d(x, n, n, 1.0), 2 * global_avg_pool2d(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kmax,kmin,alpha", [(1, 0, 1.0), (3, 2, 0.7), (5, 5, 1.0), (2, 4, -0.5), (20, 1, 0.3)])
def test_wildcat_matches_naive_loop(seed, kmax, kmin, alpha):
    x = maps(seed, dtype=torch.float64)
    torch.testing.assert_close(wildcat_pool2d(x, kmax, kmin, alpha), naive_wildcat(x, kmax, kmin, alpha))
    torch.testing.assert_close(
        wildcat_pool2d(x, kmax, kmin, alpha, reference_scaling=True), naive_wildcat(x, kmax, kmin, alpha, halve=True)
    )


def test_reference_scaling_halves_only_with_negative_term():
    """The reference code divides (max + alpha*min) by 2, but only when the min term is active."""
    x = maps(0)
    torch.testing.assert_close(wildcat_pool2d(x, 3, 3, 0.6, reference_scaling=True), wildcat_pool2d(x, 3, 3, 0.6) / 2)
    torch.testing.assert_close(weldon_pool2d(x, 2, reference_scaling=True), weldon_pool2d(x, 2) / 2)
    # no negative term (k-=0 or alpha=0): no halving, so the score jumps as alpha leaves 0
    torch.testing.assert_close(wildcat_pool2d(x, 3, 0, reference_scaling=True), wildcat_pool2d(x, 3, 0))
    torch.testing.assert_close(wildcat_pool2d(x, 3, 3, 0.0, reference_scaling=True), wildcat_pool2d(x, 3, 0))
    small = wildcat_pool2d(x, 3, 3, 1e-6, reference_scaling=True)
    torch.testing.assert_close(small, wildcat_pool2d(x, 3, 0) / 2, atol=1e-5, rtol=0)
    # the 1/2 keeps each class's ranking of images
    a, b = wildcat_pool2d(x, 3, 3, 0.6), wildcat_pool2d(x, 3, 3, 0.6, reference_scaling=True)
    assert torch.equal(a.argsort(0), b.argsort(0))


def test_fractional_k():
    assert resolve_k(0.1, 20) == 2 and resolve_k(0.5, 20) == 10 and resolve_k(0.01, 20) == 1
    assert resolve_k(3, 20) == 3 and resolve_k(50, 20) == 20 and resolve_k(0, 20) == 0 and resolve_k(-1, 20) == 0
    x = maps(1)
    torch.testing.assert_close(wildcat_pool2d(x, 0.2, 0.1, 0.5), wildcat_pool2d(x, 4, 2, 0.5))  # 20 regions
    torch.testing.assert_close(wildcat_pool2d(x, 0.99, 0), global_avg_pool2d(x), rtol=0, atol=1e-6)  # round(19.8) = 20
    with pytest.raises(ValueError, match="whole number"):
        resolve_k(2.5, 20)


def test_kmin_default_is_kmax():
    x = maps(2)
    torch.testing.assert_close(wildcat_pool2d(x, 3), weldon_pool2d(x, 3))
    assert "kmin=3" in repr(WildcatPool2d(3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lse_limits(seed):
    x = maps(seed, dtype=torch.float64)
    torch.testing.assert_close(lse_pool2d(x, 1e-6), global_avg_pool2d(x), atol=1e-5, rtol=0)  # beta -> 0: mean
    torch.testing.assert_close(lse_pool2d(x, 1e4), global_max_pool2d(x), atol=1e-3, rtol=0)  # beta -> inf: max
    lo, mid, hi = lse_pool2d(x, 0.1), lse_pool2d(x, 1.0), lse_pool2d(x, 10.0)
    assert (global_avg_pool2d(x) <= lo + 1e-12).all() and (lo <= mid).all() and (mid <= hi).all()  # monotone in beta
    assert (hi <= global_max_pool2d(x) + 1e-12).all()
    naive = torch.log(torch.exp(2.0 * x).mean(dim=(2, 3))) / 2.0  # the paper's formula, written out
    torch.testing.assert_close(lse_pool2d(x, 2.0), naive)
    assert torch.isfinite(lse_pool2d(1e3 * x, 50.0)).all()  # logsumexp: no overflow


def test_gradcheck_float64():
    x = maps(3, shape=(2, 2, 3, 4), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: wildcat_pool2d(t, 3, 2, 0.7), (x,))
    assert torch.autograd.gradcheck(lambda t: wildcat_pool2d(t, 0.25, 0.5, 1.0, reference_scaling=True), (x,))
    assert torch.autograd.gradcheck(lambda t: lse_pool2d(t, 3.0), (x,))
    assert torch.autograd.gradcheck(global_avg_pool2d, (x,))
    assert torch.autograd.gradcheck(lambda t: class_wise_pool2d(t, 2), (x,))


def test_gradient_flows_to_selected_regions_only():
    x = torch.arange(6.0).view(1, 1, 2, 3).requires_grad_()
    wildcat_pool2d(x, 2, 1, alpha=0.5).sum().backward()
    expected = torch.tensor([[[[0.5, 0.0, 0.0], [0.0, 0.5, 0.5]]]])  # top-2: 1/2 each; low-1: alpha
    torch.testing.assert_close(x.grad, expected)


def test_class_wise_pool(device):
    x = maps(4, shape=(2, 6, 3, 3), device=device)
    out = class_wise_pool2d(x, 3)
    assert out.shape == (2, 2, 3, 3)
    torch.testing.assert_close(out[:, 1], x[:, 3:6].mean(1))  # class c owns channels c*M .. c*M+M-1
    torch.testing.assert_close(ClassWisePool2d(1)(x), x)
    with pytest.raises(ValueError, match="multiple"):
        class_wise_pool2d(x, 4)


def test_modules_and_errors(device):
    x = maps(5, device=device)
    for mod, fn in [
        (GlobalMaxPool2d(), global_max_pool2d),
        (GlobalAvgPool2d(), global_avg_pool2d),
        (LSEPool2d(2.0), lambda t: lse_pool2d(t, 2.0)),
        (WeldonPool2d(2), lambda t: weldon_pool2d(t, 2)),
        (WildcatPool2d(0.1, 2, 0.6), lambda t: wildcat_pool2d(t, 0.1, 2, 0.6)),
    ]:
        torch.testing.assert_close(mod(x), fn(x))
        assert mod(x).shape == (2, 3)
    assert "beta=2.0" in repr(LSEPool2d(2.0)) and "alpha=0.6" in repr(WildcatPool2d(1, 0, 0.6))
    with pytest.raises(ValueError, match="B, C, H, W"):
        global_max_pool2d(x[0])
    with pytest.raises(ValueError, match="beta"):
        LSEPool2d(0.0)
    with pytest.raises(ValueError, match="kmax"):
        wildcat_pool2d(x, 0)


def test_non_contiguous_input():
    x = maps(6, shape=(2, 5, 4, 3)).transpose(2, 3)  # (2, 5, 3, 4), not contiguous
    assert not x.is_contiguous()
    torch.testing.assert_close(wildcat_pool2d(x, 2, 1, 0.5), wildcat_pool2d(x.contiguous(), 2, 1, 0.5))
    torch.testing.assert_close(lse_pool2d(x, 2.0), lse_pool2d(x.contiguous(), 2.0))
    # class-wise pooling splits the channel axis: channels-last storage and a strided channel slice
    for y in (
        maps(7, shape=(2, 6, 3, 4)).contiguous(memory_format=torch.channels_last),
        maps(8, shape=(2, 12, 3, 4))[:, ::2],
    ):
        assert not y.is_contiguous()
        naive = torch.stack(
            [y[:, 3 * c : 3 * c + 3].sum(1) / 3 for c in range(2)], 1
        )  # the mean of each class's 3 maps
        torch.testing.assert_close(class_wise_pool2d(y, 3), naive)
        torch.testing.assert_close(class_wise_pool2d(y, 3), class_wise_pool2d(y.contiguous(), 3))
