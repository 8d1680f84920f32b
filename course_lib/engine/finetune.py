"""Fine-tuning helpers: freeze or unfreeze layers by name, parameter groups with their own learning rates, a new head.

Lecture: STA211 (Thome), "Transferring representations" (fine-tuning, Girshick et al. 2014; Yosinski et al. 2014).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..utils import count_parameters


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
        groups.append(
            {
                "params": rest,
                "lr": lr if backbone_lr is None else backbone_lr,
                "weight_decay": weight_decay,
                "name": "backbone",
            }
        )
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
