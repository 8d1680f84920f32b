"""Restricted Boltzmann machines and deep belief nets.

A binary RBM is a latent-variable model with energy ``E(v, h) = -b.v - c.h - v^T W h`` and
``p(v, h) = exp(-E(v, h)) / Z``. The bipartite graph makes both conditionals factorize:
``p(h_j = 1 | v) = sigmoid(c_j + v^T W_:j)`` and ``p(v_i = 1 | h) = sigmoid(b_i + W_i: h)``, and summing out ``h``
gives the free energy ``F(v) = -b.v - sum_j softplus(c_j + v^T W_:j)``, ``p(v) = exp(-F(v)) / Z``.

- contrastive divergence, CD-k (Hinton 2002, "Training products of experts by minimizing contrastive
  divergence"): the log-likelihood gradient ``<v h^T>_data - <v h^T>_model`` with the model term taken after
  ``k`` Gibbs steps started at the data;
- persistent CD (Tieleman 2008, "Training restricted Boltzmann machines using approximations to the likelihood
  gradient"): the negative chains continue from one update to the next instead of restarting at the data;
- Gibbs sampling vs mean-field inference (CVPR-style lecture on Boltzmann machines): mean-field replaces samples
  by probabilities and iterates the conditionals to a fixed point (an unrolled recurrent net);
- the deep belief net (Hinton, Osindero & Teh 2006, "A fast learning algorithm for deep belief nets"): RBMs
  trained greedily, layer by layer, each on the hidden probabilities of the one below; then used as the
  initialization of a classifier trained by back-propagation (STA211/RCP209, the 2006 story).

The exact ``log Z`` sums ``2^min(V, H)`` terms: it is for small RBMs only (the tests and the CD-1 vs CD-k claim).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_ENUMERATED_UNITS = 20


def binary_states(n: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """All ``2^n`` binary vectors of length ``n``: ``Tensor[2^n, n]`` (row ``i`` is ``i`` in binary, low bit first)."""
    idx = torch.arange(2**n, device=device)
    return ((idx[:, None] >> torch.arange(n, device=device)) & 1).to(dtype)


class RBM(nn.Module):
    """A binary-binary RBM with weights ``W: Tensor[V, H]``, visible biases ``b: Tensor[V]``, hidden biases ``c: Tensor[H]``.

    Args:
        n_visible, n_hidden: numbers of units.
        init_std: weights start as ``N(0, init_std^2)``, biases at 0 (Hinton 2010, "A practical guide to training RBMs").

    Visible batches are ``Tensor[B, V]`` of 0/1 (or probabilities), hidden batches ``Tensor[B, H]``. Parameters are
    updated by :meth:`cd_update` (the CD estimate is not the gradient of a loss, so there is no backward pass).
    """

    def __init__(self, n_visible: int, n_hidden: int, *, init_std: float = 0.01) -> None:
        super().__init__()
        if n_visible < 1 or n_hidden < 1:
            raise ValueError(f"n_visible and n_hidden must be >= 1, got {n_visible}, {n_hidden}")
        self.W = nn.Parameter(init_std * torch.randn(n_visible, n_hidden), requires_grad=False)
        self.b = nn.Parameter(torch.zeros(n_visible), requires_grad=False)
        self.c = nn.Parameter(torch.zeros(n_hidden), requires_grad=False)
        self.register_buffer("chain", None, persistent=False)  # PCD's negative particles, Tensor[B', V]
        self.n_visible, self.n_hidden = n_visible, n_hidden

    def _check(self, v: Tensor) -> Tensor:
        if v.dim() != 2 or v.shape[1] != self.n_visible:
            raise ValueError(
                f"expected visible units (B, {self.n_visible}), got shape {tuple(v.shape)}; flatten images first"
            )
        return v.to(self.W.dtype)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """``E(v, h) = -b.v - c.h - v^T W h``: ``Tensor[B, V]``, ``Tensor[B, H]`` -> ``Tensor[B]``."""
        v = self._check(v)
        return -(v @ self.b) - (h @ self.c) - ((v @ self.W) * h).sum(-1)

    def free_energy(self, v: Tensor) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + v^T W_:j)``: ``Tensor[B, V]`` -> ``Tensor[B]``."""
        v = self._check(v)
        return -(v @ self.b) - F.softplus(v @ self.W + self.c).sum(-1)

    def p_h(self, v: Tensor) -> Tensor:
        """``p(h = 1 | v) = sigmoid(c + v W)``: ``Tensor[B, V]`` -> ``Tensor[B, H]``."""
        return torch.sigmoid(self._check(v) @ self.W + self.c)

    def p_v(self, h: Tensor) -> Tensor:
        """``p(v = 1 | h) = sigmoid(b + h W^T)``: ``Tensor[B, H]`` -> ``Tensor[B, V]``."""
        return torch.sigmoid(h @ self.W.T + self.b)

    def gibbs(
        self, v: Tensor, k: int = 1, *, observed: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``k`` steps of block Gibbs sampling ``v -> h ~ p(h | v) -> v ~ p(v | h)``: ``Tensor[B, V]`` -> ``Tensor[B, V]``.

        ``observed`` (``Tensor[B, V]`` boolean) clamps those visible units to ``v``'s values: the chain then samples
        the missing units from ``p(v_missing | v_observed)`` (the sampling counterpart of :meth:`mean_field`).
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        v = v0 = self._check(v)
        clamp = None if observed is None else observed.to(torch.bool).expand_as(v)
        for _ in range(k):  # a loop over chain steps; every step is one batched matrix product
            h = torch.bernoulli(self.p_h(v), generator=generator)
            v = torch.bernoulli(self.p_v(h), generator=generator)
            if clamp is not None:
                v = torch.where(clamp, v0, v)
        return v

    @torch.no_grad()
    def cd_gradient(
        self, v: Tensor, k: int = 1, *, chain: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """The CD-k estimate of ``d log p(v) / d theta`` averaged over the batch, and the chain's end.

        Positive phase: ``<v p(h|v)^T>`` on the data ``v``; negative phase: the same after ``k`` Gibbs steps from
        ``chain`` (default: the data itself, CD-k; PCD passes the previous chain's end).

        Returns:
            ``({"W": Tensor[V, H], "b": Tensor[V], "c": Tensor[H]}, v_k: Tensor[B', V])``; an ascent direction.
        """
        v = self._check(v)
        start = v if chain is None else self._check(chain)
        vk = self.gibbs(start, k, generator=generator)
        ph0, phk = self.p_h(v), self.p_h(vk)
        grads = {
            "W": v.T @ ph0 / len(v) - vk.T @ phk / len(vk),
            "b": v.mean(0) - vk.mean(0),
            "c": ph0.mean(0) - phk.mean(0),
        }
        return grads, vk

    @torch.no_grad()
    def cd_update(
        self,
        v: Tensor,
        lr: float = 0.1,
        k: int = 1,
        *,
        persistent: bool = False,
        weight_decay: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One CD-k (or persistent CD-k) ascent step on the batch ``v``: ``theta += lr * (grad - weight_decay * W)``.

        With ``persistent=True`` the negative chains continue from the previous call's end (Tieleman 2008): they
        start at the first batch and keep its size (a smaller last batch does not restart them); a call with
        ``persistent=False`` drops them. Returns the gradient used.
        """
        v = self._check(v)
        chain = self.chain if persistent and self.chain is not None else None
        grads, vk = self.cd_gradient(v, k, chain=chain, generator=generator)
        self.chain = vk if persistent else None
        self.W.add_(lr * (grads["W"] - weight_decay * self.W))
        self.b.add_(lr * grads["b"])
        self.c.add_(lr * grads["c"])
        return grads

    @torch.no_grad()
    def mean_field(
        self, v: Tensor, observed: Tensor | None = None, *, n_steps: int = 50, tol: float = 1e-6
    ) -> tuple[Tensor, Tensor]:
        """Mean-field inference: the fixed point of ``mu_h = sigmoid(c + mu_v W)``, ``mu_v = sigmoid(b + mu_h W^T)``.

        Args:
            v: ``Tensor[B, V]``; its values are clamped where ``observed`` is true.
            observed: ``Tensor[B, V]`` boolean mask of clamped visible units (default: all clamped, and then
                ``mu_h = p(h | v)`` exactly after one step, since the hidden units are conditionally independent).
            n_steps: at most this many sweeps (an unrolled recurrent net); stops earlier when nothing moves by ``tol``.

        Returns:
            ``(mu_v, mu_h)``: ``Tensor[B, V]`` (observed entries equal ``v``), ``Tensor[B, H]``.
        """
        v = self._check(v)
        if observed is None:
            return v, self.p_h(v)
        observed = observed.to(torch.bool).expand_as(v)
        mu_v = torch.where(observed, v, torch.full_like(v, 0.5))
        mu_h = self.p_h(mu_v)
        for _ in range(n_steps):
            new_v = torch.where(observed, v, self.p_v(mu_h))
            new_h = self.p_h(new_v)
            moved = max(float((new_v - mu_v).abs().max()), float((new_h - mu_h).abs().max()))
            mu_v, mu_h = new_v, new_h
            if moved < tol:
                break
        return mu_v, mu_h

    @torch.no_grad()
    def log_partition(self, *, max_units: int = MAX_ENUMERATED_UNITS, chunk: int = 2**14) -> Tensor:
        """The exact ``log Z``, enumerating the ``2^min(V, H)`` states of the smaller layer (scalar tensor).

        Raises:
            ValueError: if both layers have more than ``max_units`` units (``2^min(V, H)`` terms is too many);
                use a smaller RBM, or an estimate such as annealed importance sampling.
        """
        n = min(self.n_visible, self.n_hidden)
        if n > max_units:
            raise ValueError(
                f"exact log Z enumerates 2^{n} states (the smaller layer has {n} units, more than max_units="
                f"{max_units}); use an RBM with at most {max_units} units on one side, or estimate log Z (e.g. AIS)"
            )
        states = binary_states(n, device=self.W.device, dtype=self.W.dtype)
        terms = []
        for i in range(0, len(states), chunk):  # chunks of states, not examples: bounded memory
            s = states[i : i + chunk]
            if n == self.n_visible:
                terms.append(-self.free_energy(s))
            else:  # -F(h) = c.h + sum_i softplus(b_i + W_i: h)
                terms.append(s @ self.c + F.softplus(s @ self.W.T + self.b).sum(-1))
        return torch.logsumexp(torch.cat(terms), 0)

    @torch.no_grad()
    def log_likelihood(self, v: Tensor, *, max_units: int = MAX_ENUMERATED_UNITS) -> Tensor:
        """The exact ``log p(v) = -F(v) - log Z`` per example: ``Tensor[B, V]`` -> ``Tensor[B]`` (small RBMs only)."""
        return -self.free_energy(v) - self.log_partition(max_units=max_units)

    def forward(self, v: Tensor) -> Tensor:
        """``p(h = 1 | v)``: the features an RBM gives the layer above."""
        return self.p_h(v)

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


@torch.no_grad()
def train_rbm(
    rbm: RBM,
    data: Tensor,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 0.1,
    k: int = 1,
    persistent: bool = False,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Train ``rbm`` with CD-k or PCD-k on ``data`` (``Tensor[N, V]``, on the RBM's device), shuffled each epoch.

    Returns the mean squared one-step reconstruction error ``||v - p(v | p(h | v))||^2 / V`` of each epoch
    (a rough progress signal only: it is not the likelihood, see :meth:`RBM.log_likelihood`).
    """
    data = rbm._check(data.flatten(1))
    errors = []
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator, device=data.device)
        total = torch.zeros((), device=data.device)
        for i in range(0, len(data), batch_size):
            v = data[order[i : i + batch_size]]
            rbm.cd_update(v, lr, k, persistent=persistent, weight_decay=weight_decay, generator=generator)
            total += (v - rbm.p_v(rbm.p_h(v))).square().sum()
        errors.append(float(total) / data.numel())  # one host sync per epoch
    return errors


class DBN(nn.Module):
    """A deep belief net: a stack of RBMs ``sizes[0] -> sizes[1] -> ...`` trained greedily (Hinton et al. 2006).

    ``pretrain(data)`` trains RBM ``l`` on ``p(h | v)`` of RBM ``l - 1``; ``forward(v)`` is the upward mean-field
    pass; ``to_classifier(n_classes)`` returns the sigmoid MLP initialized with the RBMs' weights, plus a new
    output layer, ready for back-propagation (the 2006 recipe for deep nets with few labels).
    """

    def __init__(self, sizes: Sequence[int], *, init_std: float = 0.01) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"a DBN needs at least two layer sizes (visible, hidden), got {list(sizes)}")
        self.sizes = list(sizes)
        self.rbms = nn.ModuleList(RBM(a, b, init_std=init_std) for a, b in pairwise(sizes))

    def pretrain(self, data: Tensor, **train_kwargs) -> list[list[float]]:
        """Greedy layer-wise training; ``train_kwargs`` go to :func:`train_rbm`. Returns each layer's errors."""
        x, histories = data.flatten(1), []
        for rbm in self.rbms:
            histories.append(train_rbm(rbm, x, **train_kwargs))
            x = rbm.p_h(x)
        return histories

    def forward(self, v: Tensor) -> Tensor:
        x = v.flatten(1)
        for rbm in self.rbms:
            x = rbm.p_h(x)
        return x  # (B, sizes[-1])

    def to_classifier(self, n_classes: int) -> nn.Sequential:
        """``Flatten, (Linear, Sigmoid) per RBM with W^T and c copied, Linear(sizes[-1], n_classes)``: trainable copies."""
        layers: list[nn.Module] = [nn.Flatten()]
        for rbm in self.rbms:
            lin = nn.Linear(rbm.n_visible, rbm.n_hidden).to(rbm.W.device)
            with torch.no_grad():
                lin.weight.copy_(rbm.W.T)
                lin.bias.copy_(rbm.c)
            layers += [lin, nn.Sigmoid()]
        layers.append(nn.Linear(self.sizes[-1], n_classes).to(self.rbms[0].W.device))
        return nn.Sequential(*layers)
