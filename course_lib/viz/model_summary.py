"""A per-layer table of a network: output shape, parameters, multiply-adds (what Keras' ``model.summary()`` prints).

Notebooks 01 (LeNet-5) and 02 (AlexNet) read it to see where the parameters are and where the computation is.
Multiply-adds come from ``torch.utils.flop_counter`` (FLOPs / 2), not from hand formulas.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..utils import eval_mode, model_device


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    mult_adds: int


@dataclass
class Summary:
    """What :func:`summary` returns; prints as a fixed-width table (deterministic, for checked cells)."""

    rows: list[LayerRow] = field(default_factory=list)
    input_shape: tuple[int, ...] = ()

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_mult_adds(self) -> int:
        return sum(r.mult_adds for r in self.rows)

    def __getitem__(self, name: str) -> LayerRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}; layers: {[r.name for r in self.rows]}")

    def __str__(self) -> str:
        head = f"{'layer':<22}{'type':<18}{'output shape':<20}{'params':>10}{'mult-adds':>14}"
        lines = [head, "-" * len(head), f"{'input':<22}{'':<18}{self.input_shape!s:<20}"]
        for r in self.rows:
            lines.append(f"{r.name:<22}{r.kind:<18}{r.output_shape!s:<20}{r.params:>10,}{r.mult_adds:>14,}")
        lines.append("-" * len(head))
        lines.append(f"{'total':<60}{self.total_params:>10,}{self.total_mult_adds:>14,}")
        return "\n".join(lines)

    __repr__ = __str__


def summary(model: nn.Module, input_shape: tuple[int, ...], device: str | torch.device | None = None) -> Summary:
    """Run one input of ``input_shape`` (batch included, e.g. ``(1, 1, 28, 28)``) through ``model``.

    ``device``: where to run (default: the model's device). A model elsewhere is not moved: a copy of it
    runs on ``device`` (``"meta"`` works too: shapes and multiply-adds need no values).

    Returns a :class:`Summary` with one row per leaf module (a module with no children, or with
    parameters of its own), in execution order: output shape without the batch dimension,
    its own trainable parameters, and its multiply-adds for that input.
    """
    device = model_device(model) if device is None else torch.device(device)
    if model_device(model) != device:
        model = copy.deepcopy(model).to(device)
    names = {m: n for n, m in model.named_modules()}
    rows: list[LayerRow] = []
    hooks = []

    def is_leaf(m: nn.Module) -> bool:
        return not list(m.children()) or any(True for _ in m.parameters(recurse=False))

    def hook(m: nn.Module, _inp: object, out: object) -> None:
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
        params = sum(p.numel() for p in m.parameters(recurse=not list(m.children())) if p.requires_grad)
        rows.append(LayerRow(names[m], type(m).__name__, shape, params, 0))

    for m in model.modules():
        if m is not model and is_leaf(m):
            hooks.append(m.register_forward_hook(hook))
    try:
        with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(input_shape, device=device))
    finally:
        for h in hooks:
            h.remove()
    flops = counter.get_flop_counts()
    for r in rows:
        per_op = flops.get(f"{type(model).__name__}.{r.name}", flops.get(r.name, {}))
        r.mult_adds = int(sum(per_op.values()) // 2)
    return Summary(rows, tuple(input_shape[1:]))
