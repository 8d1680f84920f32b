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

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data.loader import DeviceLoader
from .models import count_parameters
from .train import _model_device, predict
from .train import synchronize as _sync

# ----------------------------------------------------------------------------------------------
# (a) deep features from any named layer
# ----------------------------------------------------------------------------------------------


@torch.no_grad()
def extract_features(
    model: nn.Module,
    x: Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int = 512,
    flatten: bool = True,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """Activations of named layers, read with forward hooks (eval mode, no gradients, in batches).

    Args:
        model: any network; layer names are those of ``model.named_modules()`` (e.g. ``"features.pool2"``).
        x: inputs ``Tensor[N, ...]`` (moved batch by batch to the model's device).
        layers: one name or several.
        batch_size: images per forward pass.
        flatten: return ``Tensor[N, D]`` per layer (else the layer's own shape, e.g. ``Tensor[N, C, H, W]``).
        device: where to run (default: the model's device).

    Returns:
        ``{name: Tensor[N, D]}`` on ``x``'s device, in the order of ``layers``.

    Raises:
        ValueError: if a name is not a module of ``model`` (the message lists the valid names).
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        valid = [n for n in modules if n]
        raise ValueError(f"unknown layer(s) {unknown}; the model's layers are {valid}")
    device = _model_device(model) if device is None else torch.device(device)
    store: dict[str, list[Tensor]] = {n: [] for n in names}
    hooks = [
        modules[n].register_forward_hook(lambda _m, _i, out, n=n: store[n].append(out.flatten(1) if flatten else out))
        for n in names
    ]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size].to(device))
            for n in names:
                store[n][-1] = store[n][-1].to(x.device)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {n: torch.cat(store[n]) for n in names}


# ----------------------------------------------------------------------------------------------
# (b) a linear classifier on frozen features
# ----------------------------------------------------------------------------------------------


def linear_probe(
    f_train: Tensor | np.ndarray, y_train: Tensor | np.ndarray, f_test: Tensor | np.ndarray, y_test: Tensor | np.ndarray,
    *, C: float = 1.0, max_iter: int = 2000,
) -> tuple[float, object]:  # fmt: skip
    """Standardize features, fit a multinomial logistic regression (scikit-learn), return (test accuracy, pipeline).

    Args:
        f_train: ``[N, D]`` training features; ``y_train`` ``[N]`` labels.
        f_test: ``[M, D]`` test features; ``y_test`` ``[M]`` labels.
        C: inverse L2 regularization strength.

    The same classifier serves every representation in notebook 04 (pixels, bag of words, each layer),
    so only the representation differs between rows of a comparison.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def np_(a):
        return a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)

    f_train, y_train, f_test, y_test = map(np_, (f_train, y_train, f_test, y_test))
    if f_train.ndim != 2 or f_test.ndim != 2 or f_train.shape[1] != f_test.shape[1]:
        raise ValueError(f"expected features (N, D) and (M, D), got {f_train.shape} and {f_test.shape}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    clf.fit(f_train, y_train)
    return float((clf.predict(f_test) == y_test).mean()), clf


# ----------------------------------------------------------------------------------------------
# (c), (d) freezing by layer name, parameter groups, a new head
# ----------------------------------------------------------------------------------------------


def _matches(param_name: str, prefixes: Sequence[str]) -> bool:
    return any(param_name == p or param_name.startswith(p + ".") for p in prefixes)


def set_trainable(model: nn.Module, layers: str | Sequence[str] | None, trainable: bool) -> int:
    """Set ``requires_grad`` of the parameters of the named layers (``None``: all); return how many tensors changed.

    A layer name selects its parameters and those of its sub-modules (``"features"`` covers ``features.conv1.weight``).
    """
    prefixes = [layers] if isinstance(layers, str) else (None if layers is None else list(layers))
    named = dict(model.named_parameters())
    if prefixes is not None:
        unknown = [p for p in prefixes if not any(_matches(n, [p]) for n in named)]
        if unknown:
            raise ValueError(f"no parameters under {unknown}; the model's parameters are {list(named)}")
    changed = 0
    for name, p in named.items():
        if prefixes is None or _matches(name, prefixes):
            changed += int(p.requires_grad != trainable)
            p.requires_grad_(trainable)
    return changed


def freeze(model: nn.Module, layers: str | Sequence[str] | None = None) -> nn.Module:
    """Freeze the named layers (default: the whole model); returns the model."""
    set_trainable(model, layers, False)
    return model


def unfreeze(model: nn.Module, layers: str | Sequence[str] | None = None) -> nn.Module:
    """Unfreeze the named layers (default: the whole model); returns the model."""
    set_trainable(model, layers, True)
    return model


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (what a strategy trains)."""
    return count_parameters(model, trainable_only=True)


def param_groups(
    model: nn.Module, head: str | Sequence[str], lr: float, backbone_lr: float | None = None, weight_decay: float = 0.0
) -> list[dict]:
    """Two optimizer parameter groups: the new head at ``lr``, the pretrained rest at ``backbone_lr``.

    Frozen parameters are left out. ``backbone_lr=None`` means the same rate for both (plain fine-tuning);
    the common recipe is a smaller one (e.g. ``lr / 10``) so that training does not wash out what was learned.
    Pass the result to any optimizer: ``torch.optim.Adam(param_groups(model, "head", 1e-3, 1e-4))``.
    """
    heads = [head] if isinstance(head, str) else list(head)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    head_params = [p for n, p in named if _matches(n, heads)]
    if not head_params:
        raise ValueError(f"no trainable parameters under {heads}")
    rest = [p for n, p in named if not _matches(n, heads)]
    groups = [{"params": head_params, "lr": lr, "weight_decay": weight_decay, "name": "head"}]
    if rest:
        groups.append({"params": rest, "lr": lr if backbone_lr is None else backbone_lr, "weight_decay": weight_decay,
                       "name": "backbone"})  # fmt: skip
    return groups


def replace_head(model: nn.Module, num_classes: int, name: str = "head") -> nn.Linear:
    """Replace the final ``nn.Linear`` called ``name`` by a freshly initialized one with ``num_classes`` outputs."""
    old = model.get_submodule(name)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"{name!r} is a {type(old).__name__}, expected nn.Linear")
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, new)
    return new


def train_steps(
    model: nn.Module, x: Tensor, y: Tensor, optimizer: torch.optim.Optimizer, *, steps: int, batch_size: int = 64,
    seed: int = 0, loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> float:  # fmt: skip
    """Exactly ``steps`` optimizer steps on shuffled mini-batches of ``(x, y)``; returns the seconds spent.

    A fixed number of steps (not epochs) gives every strategy the same budget whatever the dataset size.
    Batches are ``min(batch_size, N)`` images, reshuffled every pass (seeded).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = _model_device(model)
    loader = DeviceLoader(x, y, min(batch_size, len(x)), drop_last=True, device=device, seed=seed)
    model.train()
    _sync(device)
    t0, done = time.perf_counter(), 0
    while done < steps:
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    _sync(device)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------
# the four strategies of the lecture's table
# ----------------------------------------------------------------------------------------------


@dataclass
class StrategyResult:
    """One row of the lecture's table: test accuracy, parameters trained on the target, seconds."""

    strategy: str
    accuracy: float
    trained_params: int
    seconds: float


def bag_of_words(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, n_words: int = 100,
                 seed: int = 0, **bow_kwargs) -> StrategyResult:  # fmt: skip
    """Handcrafted baseline: :class:`~course_lib.handcrafted.BagOfVisualWords` (notebook 01) + :func:`linear_probe`.

    The dictionary is fit on the target's training images (without their labels); images in [0, 1].
    """
    from .handcrafted import BagOfVisualWords

    t0 = time.perf_counter()
    bow = BagOfVisualWords(n_words=n_words, pyramid=bow_kwargs.pop("pyramid", (1, 2, 3)), seed=seed, **bow_kwargs)
    f_train = bow.fit_transform(x_train.cpu())
    acc, clf = linear_probe(f_train, y_train, bow.transform(x_test.cpu()), y_test)
    lr = clf[-1]
    return StrategyResult("bag of words", acc, lr.coef_.size + lr.intercept_.size, time.perf_counter() - t0)


def extraction(source: nn.Module, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *,
               layer: str = "embed.relu") -> StrategyResult:  # fmt: skip
    """Frozen source network, features of ``layer``, linear classifier (:func:`linear_probe`)."""
    t0 = time.perf_counter()
    f_train = extract_features(source, x_train, layer)[layer]
    f_test = extract_features(source, x_test, layer)[layer]
    acc, clf = linear_probe(f_train, y_train, f_test, y_test)
    lr = clf[-1]
    return StrategyResult("extraction", acc, lr.coef_.size + lr.intercept_.size, time.perf_counter() - t0)


def train_and_test(model: nn.Module, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, steps: int,
                   lr: float, backbone_lr: float | None = None, head: str = "head", batch_size: int = 64, seed: int = 0,
                   strategy: str = "fine-tuning") -> StrategyResult:  # fmt: skip
    """Train ``model``'s trainable parameters for ``steps`` Adam steps (head at ``lr``, the rest at ``backbone_lr``), then test.

    Used for both *fine-tuning* (``model`` = the source network with a new head) and *from scratch*
    (``model`` = a fresh network): same steps, same learning rate, same batches, only the initialization differs.
    """
    optimizer = torch.optim.Adam(param_groups(model, head, lr, backbone_lr))
    seconds = train_steps(model, x_train, y_train, optimizer, steps=steps, batch_size=batch_size, seed=seed)
    acc = float((predict(model, x_test).argmax(1).cpu() == y_test.cpu()).float().mean())
    return StrategyResult(strategy, acc, trainable_parameters(model), seconds)


def transfer_gain(results: Iterable[StrategyResult], better: str = "fine-tuning", baseline: str = "from scratch") -> float:
    """Accuracy of ``better`` minus that of ``baseline`` in a list of results."""
    acc = {r.strategy: r.accuracy for r in results}
    return acc[better] - acc[baseline]
