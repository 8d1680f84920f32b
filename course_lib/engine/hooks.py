"""Feature hooks: the activations of any named layer of a model, on a whole tensor of inputs.

``eval_mode`` lives in :mod:`course_lib.utils` (re-exported here and by ``course_lib.engine``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..utils import eval_mode as eval_mode  # re-exported from its old home (defined in course_lib.utils)
from ..utils import model_device


def _shapes(out: object) -> str:
    """What a layer returned, by shape: ``"a tuple (Tensor(2, 5, 8), (Tensor(1, 2, 8), Tensor(1, 2, 8)))"``."""

    def describe(o: object) -> str:
        if isinstance(o, Tensor):
            return f"Tensor{tuple(o.shape)}"
        if isinstance(o, tuple | list):
            return "(" + ", ".join(describe(v) for v in o) + ("," if len(o) == 1 else "") + ")"
        if isinstance(o, dict):
            return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in o.items()) + "}"
        return type(o).__name__

    return f"a {type(out).__name__} {describe(out)}"


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
        ``{name: Tensor[N, D]}`` on ``x``'s device, in the order of ``layers``. The hooks store *copies*
        of the layers' outputs, so an in-place operation after the layer (``ReLU(inplace=True)``) does not
        change what is returned.

    Raises:
        ValueError: if a name is not a module of ``model`` (the message lists the valid names), or if a layer
            returns something else than one tensor (a tuple: the message gives its shapes).
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        valid = [n for n in modules if n]
        raise ValueError(f"unknown layer(s) {unknown}; the model's layers are {valid}")
    device = model_device(model) if device is None else torch.device(device)
    store: dict[str, list[Tensor]] = {n: [] for n in names}

    def keep(name: str, out: Tensor) -> None:
        if not isinstance(out, Tensor):  # e.g. nn.LSTM's (output, (h, c)), a detector's dicts
            raise ValueError(
                f"layer {name!r} returns {_shapes(out)}, expected one tensor (N, ...): hook a sub-module that "
                "returns a tensor"
            )
        out = out.detach()
        store[name].append((out.flatten(1) if flatten else out).to(x.device, copy=True))  # a copy: in-place ops follow

    hooks = [modules[n].register_forward_hook(lambda _m, _i, out, n=n: keep(n, out)) for n in names]
    try:
        with eval_mode(model):
            for i in range(0, len(x), batch_size):
                model(x[i : i + batch_size].to(device))
    finally:
        for h in hooks:
            h.remove()
    return {n: torch.cat(store[n]) for n in names}
