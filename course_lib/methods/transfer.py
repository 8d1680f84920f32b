"""Transferring representations: deep features, linear probes, freezing, fine-tuning (notebook 04).

Lecture: STA211 (Thome), "Transferring representations learned from ImageNet" and "Deep features and
domain adaptation". A network trained on a large source task is reused on a target task in one of
three ways, compared with the handcrafted baseline (bag of visual words):

- **extraction** ("off-the-shelf deep features", Donahue et al. 2014 DeCAF; Razavian et al. 2014):
  freeze the network, read a layer's activations, fit a linear classifier on them;
- **fine-tuning** (Girshick et al. 2014; Yosinski et al. 2014): replace the head, train everything,
  often with a smaller learning rate for the pretrained part (parameter groups);
- **from scratch**: the same architecture, randomly initialized, trained on the target only.

Which layer to transfer: a linear probe on each layer's features (Yosinski et al. 2014, "How transferable
are features in deep neural networks?"; Azizpour et al. 2015).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..data.loader import DeviceLoader
from ..engine.checkpoints import fit_or_load
from ..engine.evaluate import predict
from ..engine.finetune import param_groups, trainable_parameters
from ..engine.hooks import extract_features
from ..utils import model_device


def linear_probe(
    f_train: Tensor | np.ndarray,
    y_train: Tensor | np.ndarray,
    f_test: Tensor | np.ndarray,
    y_test: Tensor | np.ndarray,
    *,
    C: float = 1.0,
    max_iter: int = 2000,
    n_components: int | None = None,
    seed: int = 0,
) -> tuple[float, object]:
    """Standardize features, fit a multinomial logistic regression (scikit-learn), return (test accuracy, pipeline).

    Args:
        f_train: ``[N, D]`` training features; ``y_train`` ``[N]`` labels.
        f_test: ``[M, D]`` test features; ``y_test`` ``[M]`` labels.
        C: inverse L2 regularization strength.
        n_components: if given, first project the features on their ``n_components`` principal axes
            (scikit-learn ``PCA``, fit on the training features only), so that layers of different widths
            are compared at the same dimension. Features with ``D <= n_components`` are kept as they are.
        seed: ``random_state`` of the PCA.

    The same classifier serves every representation in notebook 04 (pixels, bag of words, each layer),
    so only the representation differs between rows of a comparison.

    Raises:
        ValueError: if the feature shapes disagree, or ``n_components`` exceeds the number of training
            examples of a wider representation (PCA cannot find more axes than examples).
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def np_(a):
        return a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)

    f_train, y_train, f_test, y_test = map(np_, (f_train, y_train, f_test, y_test))
    if f_train.ndim != 2 or f_test.ndim != 2 or f_train.shape[1] != f_test.shape[1]:
        raise ValueError(f"expected features (N, D) and (M, D), got {f_train.shape} and {f_test.shape}")
    steps = []
    if n_components is not None and n_components < f_train.shape[1]:
        if not 1 <= n_components <= len(f_train):
            raise ValueError(f"n_components={n_components} must be between 1 and the {len(f_train)} training examples")
        steps.append(PCA(n_components, random_state=seed))
    clf = make_pipeline(*steps, StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    clf.fit(f_train, y_train)
    return float((clf.predict(f_test) == y_test).mean()), clf


@dataclass
class StrategyResult:
    """One row of the lecture's table: test accuracy, parameters trained on the target, seconds."""

    strategy: str
    accuracy: float
    trained_params: int
    seconds: float


def bag_of_words(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, n_words: int = 100, seed: int = 0, **bow_kwargs
) -> StrategyResult:
    """Handcrafted baseline: :class:`~course_lib.methods.bag_of_words.BagOfVisualWords` (notebook 01) + :func:`linear_probe`.

    The dictionary is fit on the target's training images (without their labels); images in [0, 1].
    """
    from .bag_of_words import BagOfVisualWords

    t0 = time.perf_counter()
    bow = BagOfVisualWords(n_words=n_words, pyramid=bow_kwargs.pop("pyramid", (1, 2, 3)), seed=seed, **bow_kwargs)
    f_train = bow.fit_transform(x_train.cpu())
    acc, clf = linear_probe(f_train, y_train, bow.transform(x_test.cpu()), y_test)
    lr = clf[-1]
    return StrategyResult("bag of words", acc, lr.coef_.size + lr.intercept_.size, time.perf_counter() - t0)


def extraction(
    source: nn.Module, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, layer: str = "embed.relu"
) -> StrategyResult:
    """Frozen source network, features of ``layer``, linear classifier (:func:`linear_probe`)."""
    t0 = time.perf_counter()
    f_train = extract_features(source, x_train, layer)[layer]
    f_test = extract_features(source, x_test, layer)[layer]
    acc, clf = linear_probe(f_train, y_train, f_test, y_test)
    lr = clf[-1]
    return StrategyResult("extraction", acc, lr.coef_.size + lr.intercept_.size, time.perf_counter() - t0)


def train_and_test(
    model: nn.Module,
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    *,
    steps: int,
    lr: float,
    backbone_lr: float | None = None,
    head: str = "head",
    batch_size: int = 64,
    seed: int = 0,
    strategy: str = "fine-tuning",
) -> StrategyResult:
    """Train ``model``'s trainable parameters for ``steps`` Adam steps (head at ``lr``, the rest at ``backbone_lr``), then test.

    Used for both *fine-tuning* (``model`` = the source network with a new head) and *from scratch*
    (``model`` = a fresh network): same steps, same learning rate, same batches, only the initialization differs.
    A fixed number of steps (``fit(steps=...)``, not epochs) gives every strategy the same budget whatever the
    dataset size; batches are ``min(batch_size, N)`` images, reshuffled every pass (seeded).
    """
    optimizer = torch.optim.Adam(param_groups(model, head, lr, backbone_lr))
    loader = DeviceLoader(
        x_train, y_train, min(batch_size, len(x_train)), drop_last=True, device=model_device(model), seed=seed
    )
    name = re.sub(r"\W+", "_", f"transfer_{strategy}")  # trained once, then reloaded (engine.fit_or_load)
    history = fit_or_load(model, loader, name=name, steps=steps, optimizer=optimizer, progress=False)
    acc = float((predict(model, x_test).argmax(1).cpu() == y_test.cpu()).float().mean())
    return StrategyResult(strategy, acc, trainable_parameters(model), history.total_seconds)


def transfer_gain(
    results: Iterable[StrategyResult], better: str = "fine-tuning", baseline: str = "from scratch"
) -> float:
    """Accuracy of ``better`` minus that of ``baseline`` in a list of results."""
    acc = {r.strategy: r.accuracy for r in results}
    return acc[better] - acc[baseline]
