"""Generative models pinned by their definitions: the ELBO against a Monte-Carlo estimate of its definition
(Kingma & Welling 2014), the RBM against brute-force enumeration of its states (Hinton 2002), the GAN losses
against Goodfellow et al. (2014)'s formulas, DCGAN's initialization (Radford et al. 2016), and the Fréchet
distance against a closed form and torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.metrics import compute_features, feature_frechet_distance, frechet_distance, frechet_distance_gaussians
from course_lib.models import (
    DBN,
    RBM,
    VAE,
    AutoEncoder,
    ConvAutoEncoder,
    DCGANDiscriminator,
    DCGANGenerator,
    DenoisingAutoEncoder,
    MLPDiscriminator,
    MLPGenerator,
)
from course_lib.models.generative import (
    binary_states,
    corrupt,
    dcgan_init_,
    discriminator_loss,
    gaussian_kl,
    generator_loss,
    reparameterize,
    train_rbm,
)


def gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


# ---------------------------------------------------------------- autoencoders


def test_autoencoder_shapes_and_linearity(device):
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28, device=device)
    for bottleneck in (2, 32, 1000):  # under- and overcomplete
        ae = AutoEncoder(784, bottleneck, hidden=(64,)).to(device)
        assert ae(x).shape == x.shape and ae.encode(x).shape == (5, bottleneck)
        assert 0 <= ae(x).min() and ae(x).max() <= 1  # sigmoid output
    lin = AutoEncoder(784, 8, hidden=(), linear=True, output="linear").to(device).double()
    a, b = torch.rand(2, 3, 784, device=device, dtype=torch.float64)
    zero = torch.zeros(3, 784, device=device, dtype=torch.float64)
    torch.testing.assert_close(lin(a + b) - lin(zero), (lin(a) - lin(zero)) + (lin(b) - lin(zero)))  # affine map
    assert not any(isinstance(m, torch.nn.ReLU) for m in AutoEncoder(10, 4, hidden=(6,), linear=True).modules())
    conv = ConvAutoEncoder(bottleneck=16).to(device)
    assert conv(x).shape == x.shape and conv.encode(x).shape == (5, 16)
    with pytest.raises(ValueError, match="784"):
        ae.encode(torch.rand(2, 10, device=device))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        conv.encode(torch.rand(2, 1, 32, 32, device=device))


def test_linear_autoencoder_spans_the_pca_subspace():
    """Baldi & Hornik (1989): a linear AE trained with the squared loss spans the top principal subspace; its
    weights need not be the principal directions (the notebook's claim, here on 6-D data with a 2-D signal)."""
    from scipy.linalg import subspace_angles

    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(6, 6, generator=g))[0]
    x = (torch.randn(256, 6, generator=g) * torch.tensor([3.0, 2.0, 0.3, 0.2, 0.1, 0.1])) @ basis.T + 1.0
    torch.manual_seed(0)
    ae = AutoEncoder(6, 2, hidden=(), linear=True, output="linear")
    opt = torch.optim.Adam(ae.parameters(), lr=0.03)
    for _ in range(400):
        opt.zero_grad()
        (ae(x) - x).square().mean().backward()
        opt.step()
    pcs = torch.linalg.svd(x - x.mean(0), full_matrices=False).Vh[:2].T  # (6, 2) top principal directions
    decoder = ae.decoder[0].weight.detach()  # (6, 2)
    assert np.max(subspace_angles(decoder.numpy(), pcs.numpy())) < 0.05  # radians
    cos = torch.nn.functional.normalize(decoder, dim=0).T @ pcs
    assert cos.abs().max() < 0.99  # the same plane, other axes (0.82 to 0.96 over seeds 0-3)


def test_corruptions_and_denoising_wrapper(device):
    x = torch.rand(200, 784, device=device) * 0.5 + 0.25  # no exact 0 or 1
    before = x.clone()
    masked = corrupt(x, "masking", 0.3, generator=gen(device))
    assert torch.equal(x, before)  # x untouched
    assert abs(float((masked == 0).float().mean()) - 0.3) < 0.01
    assert torch.equal(masked[masked != 0], x[masked != 0])
    sp = corrupt(x, "salt_pepper", 0.2, generator=gen(device))
    changed = sp != x
    assert abs(float(changed.float().mean()) - 0.2) < 0.01 and set(sp[changed].unique().tolist()) <= {0.0, 1.0}
    noisy = corrupt(x, "gaussian", 0.1, generator=gen(device))
    assert abs(float((noisy - x).std()) - 0.1) < 0.005
    torch.testing.assert_close(
        corrupt(x, "masking", 0.3, generator=gen(device, 1)), corrupt(x, "masking", 0.3, generator=gen(device, 1))
    )
    with pytest.raises(ValueError, match="kind must be one of"):
        corrupt(x, "blur")
    with pytest.raises(ValueError, match="level"):
        DenoisingAutoEncoder(AutoEncoder(784, 8), "masking", 1.5)
    dae = DenoisingAutoEncoder(AutoEncoder(784, 8), "masking", 0.5).to(device)
    dae.eval()
    torch.testing.assert_close(dae(x), dae.autoencoder(x))  # eval: the clean input
    dae.train()
    assert not torch.allclose(dae(x), dae.autoencoder(x))  # training: a corrupted input


# ---------------------------------------------------------------- VAE


def log_normal(z, mu, logvar):
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_equals_monte_carlo_estimate_of_its_definition(device, likelihood):
    """ELBO = E_q[log p(x, z) - log q(z | x)]; the model's value (closed-form KL + sampled reconstruction)
    agrees with a plain Monte-Carlo average of that definition within 4 standard errors."""
    torch.manual_seed(0)
    vae = VAE(6, latent=2, hidden=(8,), likelihood=likelihood, sigma=0.7).to(device).double()
    x = torch.rand(3, 6, device=device, dtype=torch.float64)
    if likelihood == "bernoulli":
        x = x.round()
    S = 100_000
    with torch.no_grad():
        rec, kl = vae.elbo_terms(x, n_samples=S, generator=gen(device, 1))
        mu, logvar = vae.encode(x)
        z = reparameterize(mu, logvar, S, generator=gen(device, 2))  # (S, B, 2)
        log_prior = log_normal(z, torch.zeros_like(mu), torch.zeros_like(logvar))
        log_q = log_normal(z, mu, logvar)
        log_lik = vae.log_likelihood(x, z)
        if likelihood == "gaussian":  # the decoder's density written out, not through the model
            m = vae.decode(z)
            log_lik_ref = log_normal(x.expand_as(m), m, torch.full_like(m, 2 * math.log(0.7)))
        else:
            p = torch.sigmoid(vae.decode(z))
            log_lik_ref = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
        torch.testing.assert_close(log_lik, log_lik_ref)
        terms = log_lik + log_prior - log_q  # (S, B)
        se = terms.std(0) / math.sqrt(S)
        assert ((rec - kl) - terms.mean(0)).abs().max() < 4 * se.max() + 1e-3
        # the closed-form KL against its sampled estimate, and against torch.distributions
        kl_mc = log_q - log_prior
        assert ((kl - kl_mc.mean(0)).abs() < 4 * kl_mc.std(0) / math.sqrt(S) + 1e-3).all()
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        p0 = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
        torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p0).sum(-1))
        torch.testing.assert_close(
            vae.elbo(x, 5, generator=gen(device, 3)), vae.elbo_terms(x, 5, generator=gen(device, 3))[0] - kl
        )
    assert (kl >= 0).all() and torch.equal(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_vae_reparameterization_carries_gradients_and_shapes(device):
    torch.manual_seed(0)
    vae = VAE(784, latent=2, hidden=(32,)).to(device)
    x = torch.rand(4, 1, 28, 28, device=device).round()
    loss = vae.loss(x)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in vae.encoder.parameters())
    assert vae(x).shape == x.shape and vae.sample(7).shape == (7, 784)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(likelihood="poisson")


# ---------------------------------------------------------------- RBM


def tiny_rbm(device, n_visible=5, n_hidden=4, std=1.0, seed=0):
    torch.manual_seed(seed)
    rbm = RBM(n_visible, n_hidden).to(device).double()
    with torch.no_grad():
        rbm.W.normal_(0, std)
        rbm.b.normal_(0, std)
        rbm.c.normal_(0, std)
    return rbm


def joint_log_weights(rbm):
    """-E(v, h) for every pair of states: Tensor[2^V, 2^H], by brute force."""
    vs = binary_states(rbm.n_visible, device=rbm.W.device, dtype=torch.float64)
    hs = binary_states(rbm.n_hidden, device=rbm.W.device, dtype=torch.float64)
    V, H = len(vs), len(hs)
    neg_e = -rbm.energy(vs.repeat_interleave(H, 0), hs.repeat(V, 1)).view(V, H)
    return vs, hs, neg_e


@pytest.mark.parametrize("shape", [(5, 4), (3, 6)])
def test_rbm_free_energy_and_exact_log_likelihood_by_enumeration(device, shape):
    rbm = tiny_rbm(device, *shape)
    vs, _, neg_e = joint_log_weights(rbm)
    torch.testing.assert_close(rbm.free_energy(vs), -torch.logsumexp(neg_e, 1))  # F(v) = -log sum_h exp(-E)
    log_z = torch.logsumexp(neg_e.flatten(), 0)  # over all (v, h)
    torch.testing.assert_close(rbm.log_partition(), log_z)  # enumerates the smaller layer (h, then v)
    torch.testing.assert_close(rbm.log_partition(chunk=3), log_z)  # chunked sums agree
    ll = rbm.log_likelihood(vs)
    torch.testing.assert_close(ll, torch.logsumexp(neg_e, 1) - log_z)
    torch.testing.assert_close(torch.logsumexp(ll, 0), torch.zeros((), dtype=ll.dtype, device=device))  # sums to 1


def test_rbm_log_partition_refuses_large_models():
    with pytest.raises(ValueError, match=r"2\^30 states.*AIS"):
        RBM(784, 30).log_partition()
    with pytest.raises(ValueError, match="max_units=4"):
        RBM(6, 5).log_likelihood(torch.zeros(1, 6), max_units=4)
    with pytest.raises(ValueError, match="flatten"):
        RBM(6, 5).free_energy(torch.zeros(2, 1, 6))


def test_rbm_conditionals_and_mean_field_against_enumeration(device):
    rbm = tiny_rbm(device)
    vs, hs, neg_e = joint_log_weights(rbm)
    p_h_given_v = torch.softmax(neg_e, 1)  # (2^V, 2^H)
    torch.testing.assert_close(rbm.p_h(vs), p_h_given_v @ hs)  # E[h | v] by enumeration
    p_v_given_h = torch.softmax(neg_e, 0)
    torch.testing.assert_close(rbm.p_v(hs), p_v_given_h.T @ vs)
    mu_v, mu_h = rbm.mean_field(vs)  # all visible units observed: exact, one step
    assert torch.equal(mu_v, vs)
    torch.testing.assert_close(mu_h, rbm.p_h(vs))
    # some visible units missing: a fixed point of the mean-field equations, with observed units clamped
    v = vs[[3, 17, 30]]
    observed = torch.tensor([True, True, False, True, False], device=device).expand(3, 5)
    mu_v, mu_h = rbm.mean_field(v, observed, n_steps=500, tol=1e-12)
    assert torch.equal(mu_v[observed], v[observed])
    torch.testing.assert_close(mu_h, rbm.p_h(mu_v))
    torch.testing.assert_close(mu_v[~observed], rbm.p_v(mu_h)[~observed])
    # weak couplings: mean-field marginals close to the exact conditional marginals p(v_missing, h | v_observed)
    weak = tiny_rbm(device, std=0.1, seed=1)
    vs, hs, neg_e = joint_log_weights(weak)
    mu_v, mu_h = weak.mean_field(v, observed, n_steps=500, tol=1e-12)
    for i in range(len(v)):  # a loop over 3 test cases, not in the library
        agree = (vs[:, observed[i]] == v[i, observed[i]]).all(1)  # visible states consistent with the observation
        post = torch.softmax(neg_e[agree].flatten(), 0).view(int(agree.sum()), len(hs))
        exact_h = post.sum(0) @ hs
        exact_v = post.sum(1) @ vs[agree]
        assert (mu_h[i] - exact_h).abs().max() < 2e-3 and (mu_v[i] - exact_v).abs().max() < 2e-3


def test_gibbs_chains_sample_the_model_distribution(device):
    rbm = tiny_rbm(device, 4, 3, std=0.7)
    vs = binary_states(4, device=device, dtype=torch.float64)
    start = torch.zeros(20_000, 4, device=device, dtype=torch.float64)
    v = rbm.gibbs(start, k=30, generator=gen(device))
    idx = (v * 2 ** torch.arange(4, device=device, dtype=torch.float64)).sum(1).long()  # state index, low bit first
    empirical = torch.bincount(idx, minlength=16).double() / len(v)
    exact = rbm.log_likelihood(vs).exp()
    assert 0.5 * (empirical - exact).abs().sum() < 0.03  # total variation
    assert torch.equal(rbm.gibbs(start[:3], k=0), start[:3])


def exact_gradient(rbm, data):
    """d mean log p(data) / d (W, b, c) by autograd through the enumerated log-likelihood."""
    W, b, c = (p.detach().clone().requires_grad_(True) for p in (rbm.W, rbm.b, rbm.c))
    vs = binary_states(rbm.n_visible, device=W.device, dtype=W.dtype)
    neg_f = lambda v: v @ b + torch.nn.functional.softplus(v @ W + c).sum(-1)
    ll = neg_f(data).mean() - torch.logsumexp(neg_f(vs), 0)
    return dict(zip("Wbc", torch.autograd.grad(ll, (W, b, c))))


def test_cd1_update_raises_the_likelihood_of_the_training_data(device):
    rbm = tiny_rbm(device, 6, 3, std=0.3)
    data = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], device=device, dtype=torch.float64).repeat(512, 1)
    exact = exact_gradient(rbm, data)
    # the positive phase minus the exact model expectation is the exact gradient (the CD-infinity limit)
    vs = binary_states(6, device=device, dtype=torch.float64)
    p = rbm.log_likelihood(vs).exp()
    model_w = (vs * p[:, None]).T @ rbm.p_h(vs)
    torch.testing.assert_close(data.T @ rbm.p_h(data) / len(data) - model_w, exact["W"])
    cd, _ = rbm.cd_gradient(data, k=1, generator=gen(device))
    flat = lambda g: torch.cat([g[k].flatten() for k in "Wbc"])
    assert torch.dot(flat(cd), flat(exact)) > 0  # CD-1 points uphill
    before = rbm.log_likelihood(data).mean()
    for _ in range(10):
        rbm.cd_update(data, lr=0.1, k=1, generator=gen(device))
    assert rbm.log_likelihood(data).mean() > before + 0.05  # +0.10 to +0.12 nats over generator seeds
    assert rbm.chain is None


def test_cd_k_approaches_the_exact_gradient_as_k_grows(device):
    """CD-1's bias (Hinton 2002; Carreira-Perpinan & Hinton 2005) shrinks with k: the CD-1 vs CD-k claim."""
    rbm = tiny_rbm(device, 6, 4, std=1.0)
    data = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], device=device, dtype=torch.float64).repeat(4096, 1)
    flat = lambda g: torch.cat([g[k].flatten() for k in "Wbc"])
    exact = flat(exact_gradient(rbm, data))
    err = {
        k: float((flat(rbm.cd_gradient(data, k, generator=gen(device))[0]) - exact).norm() / exact.norm())
        for k in (1, 30)
    }
    assert err[30] < 0.05 and err[1] > 2 * err[30], err  # CPU: 0.16 vs 0.011


def test_persistent_cd_keeps_its_chain_and_trains(device):
    rbm = tiny_rbm(device, 6, 3, std=0.3)
    data = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], device=device, dtype=torch.float64).repeat(32, 1)
    before = rbm.log_likelihood(data).mean()
    g = gen(device)
    rbm.cd_update(data, lr=0.1, persistent=True, generator=g)
    chain = rbm.chain.clone()
    _, expected_end = RBM.cd_gradient(rbm, data, 1, chain=chain, generator=gen(device, 5))
    rbm.cd_update(data, lr=0.0, persistent=True, generator=gen(device, 5))
    torch.testing.assert_close(rbm.chain, expected_end)  # the negative chain continued from its last state
    errors = train_rbm(rbm, data, epochs=20, batch_size=64, lr=0.1, persistent=True, generator=g)
    assert len(errors) == 20 and rbm.log_likelihood(data).mean() > before + 0.1
    rbm.cd_update(data[:5], lr=0.0, persistent=True, generator=g)
    assert rbm.chain.shape == (64, 6)  # a smaller batch does not restart the 64 chains
    rbm.cd_update(data, lr=0.0, generator=g)
    assert rbm.chain is None  # plain CD drops them


def test_dbn_greedy_stacking_and_classifier(device):
    torch.manual_seed(0)
    data = (torch.rand(64, 12, device=device) < 0.3).float()
    dbn = DBN([12, 8, 4]).to(device)
    histories = dbn.pretrain(data, epochs=2, batch_size=16, lr=0.1, generator=gen(device))
    assert len(histories) == 2 and all(len(h) == 2 for h in histories)
    assert dbn(data).shape == (64, 4)
    torch.testing.assert_close(dbn(data), dbn.rbms[1].p_h(dbn.rbms[0].p_h(data)))
    clf = dbn.to_classifier(10)
    assert clf(data.view(64, 3, 4)).shape == (64, 10)
    torch.testing.assert_close(clf[1].weight, dbn.rbms[0].W.T)
    torch.testing.assert_close(clf[1:3](data), dbn.rbms[0].p_h(data))
    with pytest.raises(ValueError, match="at least two"):
        DBN([10])


# ---------------------------------------------------------------- GANs


def test_gan_losses_match_their_formulas(device):
    g = gen(device)
    real = torch.randn(7, generator=g, device=device, dtype=torch.float64) * 3
    fake = torch.randn(5, generator=g, device=device, dtype=torch.float64) * 3
    D = torch.sigmoid
    torch.testing.assert_close(discriminator_loss(real, fake), -D(real).log().mean() - (1 - D(fake)).log().mean())
    torch.testing.assert_close(generator_loss(fake), -D(fake).log().mean())  # non-saturating
    torch.testing.assert_close(generator_loss(fake, saturating=True), (1 - D(fake)).log().mean())  # minimax
    # a rejected sample (D(G(z)) ~ 0): the minimax loss's gradient vanishes, the non-saturating one's does not
    z = torch.full((4,), -10.0, device=device, dtype=torch.float64, requires_grad=True)
    (g_sat,) = torch.autograd.grad(generator_loss(z, saturating=True), z)
    (g_ns,) = torch.autograd.grad(generator_loss(z), z)
    assert g_sat.abs().max() < 1e-4 and (g_ns.abs() > 0.2).all()


def test_mlp_gan_shapes(device):
    G, D = MLPGenerator(latent=2).to(device), MLPDiscriminator().to(device)
    x = G.sample(9, generator=gen(device))
    assert x.shape == (9, 2) and D(x).shape == (9,)


def test_dcgan_shapes_and_initialization(device):
    torch.manual_seed(0)
    G, D = DCGANGenerator(latent=64).to(device), DCGANDiscriminator().to(device)
    images = G.sample(6, generator=gen(device))
    assert images.shape == (6, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert D(images).shape == (6,)
    assert DCGANGenerator(output="tanh").to(device).sample(2).min() >= -1
    for model in (G, D):
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear):
                w = m.weight.detach()
                assert abs(float(w.mean())) < 0.003 and abs(float(w.std()) - 0.02) < 0.002, m
                assert m.bias is None or torch.count_nonzero(m.bias) == 0
            elif isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                assert abs(float(m.weight.detach().mean()) - 1) < 0.01 and torch.count_nonzero(m.bias) == 0
    lin = dcgan_init_(torch.nn.Linear(1000, 100), std=0.05)
    assert abs(float(lin.weight.detach().std()) - 0.05) < 0.002
    with pytest.raises(ValueError, match=r"\(B, 64\)"):
        G(torch.randn(2, 10, device=device))


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.1, 2, size=5), rng.uniform(0.1, 2, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance_gaussians(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance_gaussians(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0, abs=1e-10)
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance_gaussians(mu1, np.diag(s1), mu2[:3], np.diag(s2))


def test_frechet_distance_on_features(device):
    g = torch.Generator().manual_seed(0)
    f = torch.randn(500, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    assert frechet_distance(f, f) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(f.to(device), (f + shift).to(device)) == pytest.approx(
        float(shift.square().sum()), rel=1e-6
    )
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(f[:1], f)
    with pytest.raises(ValueError, match=r"\(N1, D\)"):
        frechet_distance(f, f[:, :3])
    # the same distance on features of an extractor, in batches, by output or by a named layer
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).to(
        device
    )
    real, fake = torch.rand(100, 1, 4, 4, device=device), torch.rand(80, 1, 4, 4, device=device) * 0.5
    feats = compute_features(net[:3], real, batch_size=7)
    tol = dict(rtol=1e-5, atol=1e-6)  # float32 features: batch sizes may change the kernels' rounding
    torch.testing.assert_close(feats, net[:3](real).double().cpu(), **tol)
    torch.testing.assert_close(compute_features(net, real, layer="2", batch_size=7), feats, **tol)
    assert net.training  # mode restored
    expected = frechet_distance(net[:3](real).detach(), net[:3](fake).detach())
    assert feature_frechet_distance(net, real, fake, layer="2", batch_size=32) == pytest.approx(expected, rel=1e-5)


def test_frechet_distance_matches_torchmetrics():
    """torchmetrics' FID accepts any feature extractor (a module with ``num_features``): here the identity on
    random features, so no Inception weights are needed."""
    fid_mod = pytest.importorskip("torchmetrics.image.fid")

    class Features(torch.nn.Identity):
        num_features = 8

    g = torch.Generator().manual_seed(1)
    real = torch.randn(300, 8, generator=g, dtype=torch.float64)
    fake = (
        0.7
        * torch.randn(200, 8, generator=g, dtype=torch.float64)
        @ torch.randn(8, 8, generator=g, dtype=torch.float64)
        + 0.3
    )
    fid = fid_mod.FrechetInceptionDistance(feature=Features())
    fid.update(real, real=True)
    fid.update(fake, real=False)
    assert frechet_distance(real, fake) == pytest.approx(float(fid.compute()), rel=1e-6)


def test_clamped_gibbs_samples_the_conditional(device):
    """With some visible units clamped, the chain samples p(v_missing | v_observed), by enumeration."""
    rbm = tiny_rbm(device, 4, 3, std=0.7)
    vs, _, neg_e = joint_log_weights(rbm)
    observed = torch.tensor([True, False, True, False], device=device)
    start = torch.tensor([1.0, 0.0, 0.0, 0.0], device=device, dtype=torch.float64).repeat(20_000, 1)
    v = rbm.gibbs(start, k=30, observed=observed, generator=gen(device))
    assert torch.equal(v[:, observed], start[:, observed])
    agree = (vs[:, observed] == start[0, observed]).all(1)
    exact = torch.softmax(torch.logsumexp(neg_e, 1)[agree], 0)  # p(v | v_observed) over the 4 consistent states
    idx = (v * 2 ** torch.arange(4, device=device, dtype=torch.float64)).sum(1).long()
    empirical = torch.bincount(idx, minlength=16).double()[agree] / len(v)
    assert 0.5 * (empirical - exact).abs().sum() < 0.02


# ---------------------------------------------------------------- GAN training through the engine


def test_train_gan_steps_both_players_and_moves_the_generator_to_the_data(device):
    from course_lib.data.synthetic import gaussian_mixture
    from course_lib.methods import train_gan

    torch.manual_seed(0)
    G, D = MLPGenerator(latent=2, hidden=32, depth=2).to(device), MLPDiscriminator(hidden=32, depth=2).to(device)
    data = gaussian_mixture(4096, "ring", n_modes=8, std=0.05, seed=0, device=device)[0] + torch.tensor(
        [3.0, -2.0], device=device
    )
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    start = G.sample(2000, generator=gen(device)).mean(0)
    h = train_gan(G, D, data, steps=300, latent=2, batch_size=64, lr=2e-3, snapshot_every=100, progress=False)
    assert len(h.d_loss) == len(h.g_loss) == 300 and all(math.isfinite(v) for v in h.d_loss + h.g_loss)
    assert [s for s, _ in h.snapshots] == [0, 100, 200, 300] and h.snapshots[0][1].shape == (512, 2)
    assert all(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))  # both players moved
    assert all(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))
    target = data.mean(0)
    end = G.sample(2000, generator=gen(device)).mean(0)
    assert (end - target).norm() < 0.5 * (start - target).norm()  # the generator's mean moved toward the data's


def test_train_gan_discriminator_step_leaves_the_generator_alone(device, monkeypatch):
    """Round by round: D's step changes D only; G's step changes G only (D's gradients are never applied)."""
    import course_lib.engine.loop as loop
    from course_lib.methods import train_gan

    torch.manual_seed(0)
    G, D = MLPGenerator(latent=2, hidden=16, depth=1).to(device), MLPDiscriminator(hidden=16, depth=1).to(device)
    seen = []
    real_step = loop.train_step

    def spy(model, x, y, optimizer, **kw):
        before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
        out = real_step(model, x, y, optimizer, **kw)
        after = list((*G.parameters(), *D.parameters()))
        n_g = len(list(G.parameters()))
        changed = [not torch.equal(a, b) for a, b in zip(before, after)]
        seen.append((any(changed[:n_g]), any(changed[n_g:])))
        return out

    monkeypatch.setattr("course_lib.methods.gan_training.train_step", spy)
    calls = {"n": 0}

    def real(n):
        calls["n"] += 1
        return torch.randn(n, 2, device=device) + 1.0

    train_gan(G, D, real, steps=3, latent=2, batch_size=8, progress=False)
    assert calls["n"] == 3 and seen == [(False, True), (True, False)] * 3  # (G changed, D changed) per step
    with pytest.raises(ValueError, match="steps"):
        train_gan(G, D, real, steps=0, latent=2)


def test_the_gan_training_loop_lives_with_the_methods():
    """The networks stay in models.generative; the loop, built on the engine above them, is a method."""
    import course_lib.methods as methods
    import course_lib.models.generative as generative

    assert methods.train_gan.__module__ == methods.GANHistory.__module__ == "course_lib.methods.gan_training"
    assert not {"train_gan", "GANHistory", "SplitBatch"} & (set(generative.__all__) | set(vars(generative)))


def test_train_gan_is_capped_in_a_dry_run(monkeypatch):
    from course_lib.methods import train_gan

    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    G, D = MLPGenerator(latent=2, hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1)
    h = train_gan(G, D, torch.randn(100, 2), steps=50, latent=2, batch_size=8, snapshot_every=10, progress=False)
    assert len(h.d_loss) == 2 and [s for s, _ in h.snapshots] == [0, 2]


def test_split_batch_keeps_real_and_fake_statistics_apart(device):
    """With batch norm in D, one pass over cat(real, fake) normalizes them together; SplitBatch runs two passes."""
    from course_lib.methods.gan_training import SplitBatch

    torch.manual_seed(0)
    D = DCGANDiscriminator(width=4).to(device)
    real, fake = torch.rand(6, 1, 28, 28, device=device), torch.rand(6, 1, 28, 28, device=device) * 0.2
    both = torch.cat([real, fake])
    torch.testing.assert_close(SplitBatch(D)(both), torch.cat([D(real), D(fake)]))
    assert not torch.allclose(SplitBatch(D)(both), D(both))


def test_vae_importance_log_likelihood_matches_quadrature():
    """A VAE with a 1-D latent: log p(x) = log integral p(x | z) N(z; 0, 1) dz by the trapezoid rule on a fine grid;
    the importance-sampled estimate with many samples agrees, and lies above the ELBO."""
    from course_lib.models.generative import VAE

    torch.manual_seed(0)
    vae = VAE(6, latent=1, hidden=(8,)).double()
    x = (torch.rand(4, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    z = torch.linspace(-10, 10, 20_001, dtype=torch.float64)[:, None, None].expand(-1, 4, 1)  # (S, B, 1)
    with torch.no_grad():
        log_joint = vae.log_likelihood(x, z) - 0.5 * z[..., 0].square() - 0.5 * math.log(2 * math.pi)  # (S, B)
    shift = log_joint.max(0).values
    exact = torch.log(torch.trapezoid((log_joint - shift).exp(), z[:, 0, 0], dim=0)) + shift
    g = torch.Generator().manual_seed(2)
    estimate = vae.importance_log_likelihood(x, n_samples=20_000, chunk=5000, generator=g)
    torch.testing.assert_close(estimate, exact, rtol=0, atol=2e-3)
    with torch.no_grad():
        elbo = vae.elbo(x, n_samples=20_000, generator=g)
    assert (elbo < exact).all()
    with pytest.raises(ValueError, match="n_samples"):
        vae.importance_log_likelihood(x, n_samples=0)


def test_autoencoder_code_activation():
    from course_lib.models.generative import AutoEncoder

    ae = AutoEncoder(784, 16, hidden=(), code="sigmoid")
    h = ae.encode(torch.randn(3, 1, 28, 28))
    assert h.shape == (3, 16) and (h > 0).all() and (h < 1).all()
    assert isinstance(ae.encoder[-1], torch.nn.Sigmoid)
    assert "code=sigmoid" in repr(ae) and "code=" not in repr(AutoEncoder(784, 16, hidden=()))
    with pytest.raises(ValueError, match="code must be one of"):
        AutoEncoder(784, 16, code="tanh")
