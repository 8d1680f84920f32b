"""Deep Boltzmann machines: bottom-up and top-down mean-field, dense and convolutional.

A DBM has layers ``z_0 = v, z_1, ..., z_L`` of binary units, connections only between neighbouring layers, and
``p(z) ∝ exp(S(z))`` with the score ``S(z) = sum_i b_i.z_i + sum_{i>=1} z_{i-1}^T W_i z_i`` (Salakhutdinov & Hinton
2009, "Deep Boltzmann machines"; the CVPR-style lecture on Boltzmann machines writes ``S_Boltz(x, z)``). Unlike a DBN,
a hidden layer hears both neighbours: the conditional of a unit is

    p(z_i = 1 | rest) = sigmoid(b_i + bot_i + top_i),  bot_i = z_{i-1} W_i,  top_i = z_{i+1} W_{i+1}^T,

and, in a convolutional Boltzmann machine (Lee et al. 2009), ``bot_i`` is a correlation of the layer below with
the filters ``w_i`` and ``top_i`` a convolution of the layer above with ``w_{i+1}`` (a transposed convolution). Mean-field
inference replaces the samples by probabilities ``mu_i`` and iterates these updates: every sweep is a (convolutional)
layer plus a sigmoid, so a fixed number of sweeps is a recurrent net (the lecture's "Claim: any sequence of updates
can be written as a collection of filtering + nonlinear operations"; Goodfellow et al. 2013 unroll it).

Odd layers are conditionally independent given even ones, so the sweeps alternate odd and even layers: each is a
coordinate step of the mean-field objective, and ``KL(q || p(h | v))`` never increases (:meth:`DBM.kl_to_posterior`
measures it exactly on small models, by enumeration).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rbm import DBN, MAX_ENUMERATED_UNITS, binary_states


class DBM(nn.Module):
    """A binary DBM with layer sizes ``sizes = (V, H_1, ..., H_L)``, weights ``W[i]: Tensor[n_i, n_{i+1}]``, biases ``b[i]``.

    Args:
        sizes: numbers of units per layer, visible first (at least two layers).
        init_std: weights start as ``N(0, init_std^2)``, biases at 0.

    A state is a list of ``Tensor[B, n_i]`` (0/1, or probabilities for mean-field). There is no joint training
    here: :meth:`from_dbn` composes a DBM from greedily trained RBMs, the first step of Salakhutdinov & Hinton's
    recipe, and the notebook uses it for inference only.
    """

    def __init__(self, sizes: Sequence[int], *, init_std: float = 0.01) -> None:
        super().__init__()
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"a DBM needs at least two layers of >= 1 unit (visible, hidden...), got {list(sizes)}")
        self.sizes = list(sizes)
        self.W = nn.ParameterList(
            nn.Parameter(init_std * torch.randn(a, b), requires_grad=False) for a, b in pairwise(sizes)
        )
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(n), requires_grad=False) for n in sizes)

    @classmethod
    def from_dbn(cls, dbn: DBN) -> DBM:
        """The DBM with the DBN's weights, the visible biases of its first RBM and each hidden layer's upward bias."""
        dbm = cls(dbn.sizes).to(dbn.rbms[0].W.device)
        with torch.no_grad():
            for i, rbm in enumerate(dbn.rbms):
                dbm.W[i].copy_(rbm.W)
                dbm.b[i + 1].copy_(rbm.c)
            dbm.b[0].copy_(dbn.rbms[0].b)
        return dbm

    def _check(self, states: Sequence[Tensor]) -> None:
        got = [tuple(z.shape[1:]) for z in states]
        if got != [(n,) for n in self.sizes]:
            raise ValueError(f"states must be Tensor[B, n] for n in {self.sizes}, got shapes {got}")

    def score(self, states: Sequence[Tensor]) -> Tensor:
        """``S(z) = sum_i b_i.z_i + sum_i z_i^T W_i z_{i+1}`` per example (the negative energy): ``Tensor[B]``."""
        self._check(states)
        s = sum(z @ b for z, b in zip(states, self.b, strict=True))
        return s + sum(((za @ w) * zb).sum(-1) for (za, zb), w in zip(pairwise(states), self.W, strict=True))

    def conditional(self, states: Sequence[Tensor], i: int) -> Tensor:
        """``p(z_i = 1 | z_{i-1}, z_{i+1}) = sigmoid(b_i + bot + top)``: ``Tensor[B, n_i]`` (one mean-field update)."""
        self._check(states)
        if not 0 <= i < len(self.sizes):
            raise ValueError(f"layer index must be in [0, {len(self.sizes) - 1}], got {i}")
        pre = self.b[i].expand_as(states[i])
        if i > 0:
            pre = pre + states[i - 1] @ self.W[i - 1]  # bottom-up
        if i < len(self.W):
            pre = pre + states[i + 1] @ self.W[i].T  # top-down
        return torch.sigmoid(pre)

    @torch.no_grad()
    def gibbs_sweep(self, states: Sequence[Tensor], *, generator: torch.Generator | None = None) -> list[Tensor]:
        """One Gibbs sweep with ``v`` clamped: sample the odd hidden layers given the even ones, then the even ones.

        The lecture's "Option 1 (Gibbs sampling): Iteratively update z_i[u] by computing P(z_i[u] | all else)";
        the units of one layer are conditionally independent, so a layer is sampled at once. Returns the new state.
        """
        z = list(states)
        for parity in (1, 0):
            for i in range(parity or 2, len(z), 2):  # layer 0 (v) stays clamped
                z[i] = torch.bernoulli(self.conditional(z, i), generator=generator)
        return z

    @torch.no_grad()
    def mean_field(
        self,
        v: Tensor,
        *,
        n_steps: int = 30,
        top_down: bool = True,
        observed: Tensor | None = None,
        tol: float = 0.0,
        trace: list[list[Tensor]] | None = None,
    ) -> list[Tensor]:
        """Mean-field inference of ``q(h) = prod_j mu_j^h_j (1 - mu_j)^(1 - h_j)`` given ``v: Tensor[B, V]``.

        Starts from the upward pass (each layer from the one below, as a DBN would), then ``n_steps`` sweeps that
        update the odd layers, then the even ones, each from both neighbours. ``top_down=False`` stops after the
        upward pass (what ignoring the layers above gives). With ``observed`` (``Tensor[B, V]`` boolean), only those
        visible units are clamped and the others are inferred too. ``trace`` gets the state after every sweep.

        Returns:
            the list ``[mu_0, ..., mu_L]``; ``mu_0`` equals ``v`` where clamped.
        """
        if v.dim() != 2 or v.shape[1] != self.sizes[0]:
            raise ValueError(f"v must be Tensor[B, {self.sizes[0]}], got {tuple(v.shape)}")
        clamp = torch.ones_like(v, dtype=torch.bool) if observed is None else observed.to(torch.bool).expand_as(v)
        mu = [torch.where(clamp, v, torch.full_like(v, 0.5))]
        for w, b in zip(self.W, list(self.b)[1:], strict=True):
            mu.append(torch.sigmoid(mu[-1] @ w + b))
        if trace is not None:
            trace.append([m.clone() for m in mu])
        if not top_down:
            return mu
        for _ in range(n_steps):
            before = [m.clone() for m in mu]
            for parity in (1, 0):  # odd layers given even ones, then even layers given odd ones
                for i in range(parity, len(mu), 2):
                    new = self.conditional(mu, i)
                    mu[i] = torch.where(clamp, v, new) if i == 0 else new
            if trace is not None:
                trace.append([m.clone() for m in mu])
            if max(float((m - p).abs().max()) for m, p in zip(mu, before, strict=True)) <= tol:
                break
        return mu

    @torch.no_grad()
    def _hidden_states(self, max_units: int) -> list[Tensor]:
        n = sum(self.sizes[1:])
        if n > max_units:
            raise ValueError(f"enumerating p(h | v) sums 2^{n} hidden states; use at most {max_units} hidden units")
        h = binary_states(n, device=self.W[0].device, dtype=self.W[0].dtype)
        return list(h.split(self.sizes[1:], dim=1))

    @torch.no_grad()
    def posterior_marginals(self, v: Tensor, *, max_units: int = MAX_ENUMERATED_UNITS) -> list[Tensor]:
        """The exact ``p(h_j = 1 | v)`` of every hidden layer, by enumerating all hidden states (small DBMs only)."""
        hs = self._hidden_states(max_units)
        post = torch.softmax(self._joint_scores(v, hs), dim=1)  # (B, 2^n)
        return [post @ h for h in hs]

    def _joint_scores(self, v: Tensor, hs: list[Tensor]) -> Tensor:
        """``S(v, h)`` for every example and every enumerated hidden state: ``Tensor[B, 2^n]`` (memory ``B * 2^n``)."""
        hidden = sum(h @ b for h, b in zip(hs, list(self.b)[1:], strict=True))
        hidden = hidden + sum(((ha @ w) * hb).sum(-1) for (ha, hb), w in zip(pairwise(hs), list(self.W)[1:]))
        return (v @ self.b[0])[:, None] + (v @ self.W[0]) @ hs[0].T + hidden[None, :]

    @torch.no_grad()
    def kl_to_posterior(self, v: Tensor, mu: Sequence[Tensor], *, max_units: int = MAX_ENUMERATED_UNITS) -> Tensor:
        """``KL(q || p(h | v)) = log Z(v) - E_q[S(v, h)] - H(q)`` per example, exactly (small DBMs): ``Tensor[B]``.

        ``mu`` is a mean-field state ``[v, mu_1, ..., mu_L]``; ``E_q[S]`` is ``S`` at the means (``S`` is linear in
        each layer and ``q`` factorizes across layers).
        """
        log_zv = torch.logsumexp(self._joint_scores(v, self._hidden_states(max_units)), dim=1)
        m = [v] + [x.clamp(1e-7, 1 - 1e-7) for x in mu[1:]]
        entropy = sum(-(x * x.log() + (1 - x) * (1 - x).log()).sum(-1) for x in m[1:])
        return log_zv - self.score(m) - entropy


def conv_dbm_score(states: Sequence[Tensor], weights: Sequence[Tensor], biases: Sequence[Tensor]) -> Tensor:
    """The score of a convolutional Boltzmann machine (Lee et al. 2009), written unit by unit: ``Tensor[B]``.

    ``states[i]: Tensor[B, C_i, H_i, W_i]``, ``weights[i]: Tensor[C_{i+1}, C_i, k, k]`` links layer ``i`` to ``i + 1``
    (valid, stride 1: ``H_{i+1} = H_i - k + 1``), ``biases[i]: Tensor[C_i]``. With ``z_{i+1}[c, u]`` seeing the window
    of layer ``i`` at ``u``: ``S = sum_i sum_{c,u} b_i[c] z_i[c, u] + sum_i sum_{c,u,v} z_{i+1}[c, u] w_i[c, :, v] z_i[:, u + v]``.
    The sum over windows is written with ``unfold`` (every window listed), not with a convolution.
    """
    if len(states) != len(biases) or len(weights) != len(states) - 1:
        raise ValueError(f"need L+1 states and biases and L weights, got {len(states)}, {len(biases)}, {len(weights)}")
    s = sum((z * b[:, None, None]).sum((1, 2, 3)) for z, b in zip(states, biases, strict=True))
    for i, w in enumerate(weights):
        below, above = states[i], states[i + 1]
        k = w.shape[-1]
        windows = F.unfold(below, k)  # (B, C_i * k * k, H_{i+1} * W_{i+1})
        s = s + torch.einsum("bdn,cd,bcn->b", windows, w.flatten(1), above.flatten(2))
    return s


def conv_dbm_conditional(
    states: Sequence[Tensor], weights: Sequence[Tensor], biases: Sequence[Tensor], i: int
) -> Tensor:
    """One mean-field (or Gibbs) update of layer ``i``: ``sigmoid(b_i + conv(z_{i-1}, w_{i-1}) + conv^T(z_{i+1}, w_i))``.

    ``bot`` is the lecture's "convolution" (PyTorch's ``conv2d``, a correlation) of the layer below, ``top`` its
    "correlation" (``conv_transpose2d``) of the layer above: a convolutional layer plus a sigmoid.
    """
    if not 0 <= i < len(states):
        raise ValueError(f"layer index must be in [0, {len(states) - 1}], got {i}")
    pre = biases[i][:, None, None].expand_as(states[i])
    if i > 0:
        pre = pre + F.conv2d(states[i - 1], weights[i - 1])
    if i < len(weights):
        pre = pre + F.conv_transpose2d(states[i + 1], weights[i])
    return torch.sigmoid(pre)
