"""An empirical Rademacher complexity, estimated by training a model class on random +-1 labels.

Lecture: RCP209 "open questions". For a class ``H`` of functions ``h: X -> {-1, +1}`` and ``n`` points,

    R_n(H) = E_sigma [ sup_{h in H} (1/n) sum_i sigma_i h(x_i) ],   sigma_i uniform in {-1, +1},

the best correlation the class can reach with pure noise. Generalization bounds grow with it; a class that
fits any labelling (R_n = 1) gets no guarantee from them. Zhang et al. (ICLR 2017, section 2.2) note that
deep networks fit random labels, so their R_n is near 1. The ``sup`` is estimated here by *training*
(cross-entropy on the labels ``sigma``, then ``h = sign``), which gives a lower bound of the true sup;
the expectation by an average over a few draws of ``sigma``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..data.loader import DeviceLoader
from ..engine.checkpoints import fit_or_load
from ..engine.evaluate import predict


def random_signs(n: int, *, seed: int = 0, device: str | torch.device = "cpu") -> Tensor:
    """``n`` Rademacher variables: ``Tensor[n]`` of -1.0 and +1.0, each with probability 1/2 (seeded)."""
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.randint(0, 2, (n,), generator=g, device=device).float() * 2 - 1


def rademacher_correlation(sigma: Tensor, h: Tensor) -> Tensor:
    """``(1/n) sum_i sigma_i h(x_i)``: the correlation of predictions ``h`` (``Tensor[n]`` in {-1, +1}) with
    the signs ``sigma`` (``Tensor[n]``). 1 when ``h`` reproduces every sign, about 0 for a guess."""
    if sigma.shape != h.shape or sigma.dim() != 1:
        raise ValueError(f"sigma and h must be vectors of the same length, got {tuple(sigma.shape)}, {tuple(h.shape)}")
    return (sigma.float() * h.float()).mean()


@dataclass
class RademacherEstimate:
    """The estimate (``value``: the mean correlation over draws) and each draw's ``correlations``."""

    value: float
    correlations: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    @property
    def spread(self) -> float:
        """max - min of the per-draw correlations."""
        return max(self.correlations) - min(self.correlations)


def empirical_rademacher(
    make_model: Callable[[], nn.Module],
    x: Tensor,
    *,
    draws: int = 3,
    steps: int = 500,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device | None = None,
    desc: str = "rademacher",
) -> RademacherEstimate:
    """Estimate ``R_n(H)`` on the points ``x`` for the class of models built by ``make_model``.

    For each of ``draws`` sign vectors ``sigma``: a fresh ``make_model()`` (two output logits) is trained with
    :func:`course_lib.engine.fit_or_load` on the labels ``(sigma + 1) / 2`` for at most ``steps`` steps (it stops
    early once its running training error is 0), then ``h(x_i) = +1`` if it predicts class 1, else -1,
    and the draw's value is :func:`rademacher_correlation` ``(sigma, h)``.

    Args:
        make_model: builds an untrained model ``Tensor[B, ...] -> Tensor[B, 2]``.
        x: the ``n`` points ``Tensor[n, ...]``.
        draws: sign vectors averaged over (the expectation over sigma).
        steps, lr, batch_size: the training budget of each fit (Adam).
        seed: seeds the signs (draw ``k`` uses ``seed * 1000 + k``) and the batch order.
        device: where to train (default: ``x``'s device).

    Returns:
        A :class:`RademacherEstimate`.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    device = torch.device(device) if device is not None else x.device
    x = x.to(device)
    est = RademacherEstimate(value=0.0)
    for k in range(draws):
        sigma = random_signs(len(x), seed=seed * 1000 + k, device=device)
        model = make_model().to(device)
        loader = DeviceLoader(x, ((sigma + 1) / 2).long(), batch_size, seed=seed * 1000 + k)
        hist = fit_or_load(  # trained once, then reloaded
            model,
            loader,
            name="rademacher",
            steps=steps,
            lr=lr,
            stop_below=0.0,
            window=len(loader),
            check_every=len(loader),
            device=device,
            desc=f"{desc} {k + 1}/{draws}",
        )
        h = predict(model, x, device=device).argmax(1).float() * 2 - 1
        est.correlations.append(float(rademacher_correlation(sigma, h)))
        est.steps.append(sum(hist.steps))
    est.value = sum(est.correlations) / draws
    return est
