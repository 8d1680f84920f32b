"""Deep Boltzmann machines (course_lib/models/generative/dbm.py), pinned against their score function by brute force:
every conditional is the sigmoid of a score difference, mean-field never raises KL(q || p(h | v)), computed exactly."""

import pytest
import torch

from course_lib.models.generative import DBM, DBN, conv_dbm_conditional, conv_dbm_score


def gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


def random_dbm(sizes, device, std=1.0, seed=0):
    torch.manual_seed(seed)
    dbm = DBM(sizes, init_std=std).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        for b in dbm.b:
            b.normal_(0, 0.5)
    return dbm


def flip_conditional(score, states, i, index):
    """``sigmoid(S(z_i[index] = 1) - S(z_i[index] = 0))``: the Gibbs conditional of one unit from the score alone."""
    on, off = [z.clone() for z in states], [z.clone() for z in states]
    on[i][index], off[i][index] = 1.0, 0.0
    return torch.sigmoid(score(on) - score(off))


def test_dense_conditional_is_the_score_difference(device):
    dbm = random_dbm((5, 4, 3), device)
    g = gen(device)
    states = [
        torch.bernoulli(torch.full((6, n), 0.5, device=device, dtype=torch.float64), generator=g) for n in dbm.sizes
    ]
    for i, n in enumerate(dbm.sizes):
        cond = dbm.conditional(states, i)
        for j in range(n):
            ref = flip_conditional(dbm.score, states, i, (slice(None), j))
            torch.testing.assert_close(cond[:, j], ref, rtol=0, atol=1e-12)


def test_conv_conditional_is_the_score_difference(device):
    torch.manual_seed(0)
    dt = dict(device=device, dtype=torch.float64)
    shapes = [(1, 7, 7), (2, 5, 5), (3, 4, 4)]
    weights = [torch.randn(2, 1, 3, 3, **dt), torch.randn(3, 2, 2, 2, **dt)]
    biases = [torch.randn(c, **dt) for c, _, _ in shapes]
    states = [torch.bernoulli(torch.full((2, *s), 0.5, **dt), generator=gen(device, k)) for k, s in enumerate(shapes)]
    score = lambda z: conv_dbm_score(z, weights, biases)
    for i, (c, h, w) in enumerate(shapes):
        cond = conv_dbm_conditional(states, weights, biases, i)
        assert cond.shape == states[i].shape
        for ch in range(c):
            for y in range(h):
                for x in range(w):
                    ref = flip_conditional(score, states, i, (slice(None), ch, y, x))
                    torch.testing.assert_close(cond[:, ch, y, x], ref, rtol=0, atol=1e-10)


def test_mean_field_never_raises_kl_and_beats_the_upward_pass(device):
    dbm = random_dbm((8, 6, 4), device)
    v = torch.bernoulli(torch.full((32, 8), 0.5, device=device, dtype=torch.float64), generator=gen(device))
    trace = []
    mu = dbm.mean_field(v, n_steps=40, trace=trace)
    kls = torch.stack([dbm.kl_to_posterior(v, m) for m in trace])  # (sweeps + 1, B)
    assert (kls >= -1e-9).all()
    assert (kls.diff(dim=0) <= 1e-9).all(), "a mean-field sweep raised KL(q || p)"
    upward = dbm.mean_field(v, top_down=False)
    assert (dbm.kl_to_posterior(v, mu) < dbm.kl_to_posterior(v, upward)).float().mean() > 0.9
    assert torch.equal(mu[0], v)


def test_gibbs_averages_reach_the_exact_marginals(device):
    dbm = random_dbm((4, 3, 2), device, std=0.8)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0]], device=device, dtype=torch.float64).expand(4000, 4)
    g = gen(device)
    z = [v] + [
        torch.bernoulli(torch.full((4000, n), 0.5, device=device, dtype=torch.float64), generator=g) for n in (3, 2)
    ]
    for _ in range(30):
        z = dbm.gibbs_sweep(z, generator=g)
    assert torch.equal(z[0], v)
    for est, exact in zip(z[1:], dbm.posterior_marginals(v[:1]), strict=True):
        torch.testing.assert_close(est.mean(0), exact[0], rtol=0, atol=0.05)


def test_kl_is_zero_for_a_one_hidden_layer_dbm(device):
    """With one hidden layer the posterior factorizes: mean-field is exact and KL is 0 (an RBM)."""
    dbm = random_dbm((6, 5), device)
    v = torch.bernoulli(torch.full((10, 6), 0.5, device=device, dtype=torch.float64), generator=gen(device))
    mu = dbm.mean_field(v)
    torch.testing.assert_close(dbm.kl_to_posterior(v, mu), torch.zeros(10, **dict(device=device, dtype=torch.float64)))
    torch.testing.assert_close(mu[1], dbm.posterior_marginals(v)[0])


def test_marginals_sum_the_enumerated_posterior(device):
    dbm = random_dbm((3, 2, 2), device)
    v = torch.tensor([[1.0, 0.0, 1.0]], device=device, dtype=torch.float64)
    h1, h2 = torch.meshgrid(*(torch.arange(4, device=device),) * 2, indexing="ij")
    bits = lambda k: torch.stack([k & 1, (k >> 1) & 1], -1).to(torch.float64).flatten(0, 1)
    a, b = bits(h1), bits(h2)
    p = torch.softmax(dbm.score([v.expand(16, 3), a, b]), 0)
    marg = dbm.posterior_marginals(v)
    torch.testing.assert_close(marg[0][0], p @ a)
    torch.testing.assert_close(marg[1][0], p @ b)


def test_inpainting_clamps_only_what_is_observed(device):
    dbm = random_dbm((6, 4, 3), device)
    v = torch.ones(2, 6, device=device, dtype=torch.float64)
    observed = torch.tensor([True, True, True, False, False, False], device=device)
    mu = dbm.mean_field(v, observed=observed)
    assert torch.equal(mu[0][:, :3], v[:, :3])
    torch.testing.assert_close(mu[0][:, 3:], dbm.conditional(mu, 0)[:, 3:], rtol=0, atol=1e-6)


def test_from_dbn_copies_the_rbms(device):
    torch.manual_seed(0)
    dbn = DBN([6, 4, 3], init_std=0.5).to(device)
    dbm = DBM.from_dbn(dbn)
    v = torch.rand(5, 6, device=device)
    torch.testing.assert_close(dbm.mean_field(v, top_down=False)[-1], dbn(v))


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda d: d.conditional([torch.zeros(1, 4), torch.zeros(1, 3)], 0), r"states must be Tensor\[B, n\]"),
        (lambda d: d.conditional([torch.zeros(1, 4), torch.zeros(1, 3), torch.zeros(1, 2)], 3), "layer index"),
        (lambda d: d.mean_field(torch.zeros(2, 5)), r"v must be Tensor\[B, 4\]"),
        (lambda d: DBM([4]), "at least two layers"),
        (lambda d: DBM([30, 12, 12]).posterior_marginals(torch.zeros(1, 30)), "2\\^24 hidden states"),
    ],
)
def test_bad_input_is_refused(call, msg):
    with pytest.raises(ValueError, match=msg):
        call(DBM([4, 3, 2]))
