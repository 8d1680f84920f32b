"""What a training run's result depends on, as a stable JSON-able description: the key of a checkpoint.

``fit_or_load`` must never reload a model trained under other conditions. Its key describes

- the model: its ``repr`` (layers and their options), the code of every module class it is built from
  (:func:`code_digest`: a changed ``forward`` changes the key) and its weights before training
  (:func:`tensor_digest`: the initialization, hence the seed and everything drawn before it);
- every callable handed to ``fit`` (scheduler, loss, metric, transform): :func:`callable_key` holds its code
  and the *values* it reads: default arguments, closure cells, and the globals its code names (``cfg.lr`` in a
  notebook lambda reads the global ``cfg``: its current contents are in the key);
- the data: :func:`loader_key` fingerprints each loader's tensors (shape, dtype, per-sample sums in order and a
  strided sample) and its shuffling generator's state;
- the random state that training draws from (dropout masks, augmentations).

Each description costs one pass over the tensors (a sum) and a hash of at most :data:`SAMPLE` elements.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import types
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

SAMPLE = 65_536  # elements of a tensor hashed exactly (evenly strided); the rest enter through sums
DEPTH = 4  # how deep a description follows containers, attributes and the functions a function calls
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# Libraries whose functions are described by name and code alone: the values they read are theirs, not the run's.
_LIBRARIES = frozenset({"torch", "torchvision", "torchmetrics", "numpy", "scipy", "sklearn", "functools", "math"})


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def tensor_digest(t: Tensor) -> dict[str, Any]:
    """``shape``, ``dtype``, a digest of the per-sample sums (in order) and of an evenly strided sample of ``t``.

    Same size and other values, the same values in another order, another dtype: each gives another digest.
    """
    t = t.detach()
    flat = t.reshape(-1)
    step = max(1, flat.numel() // SAMPLE)
    sample = flat[::step][:SAMPLE].cpu()
    if t.dim() >= 1 and t.numel() > 0 and not t.is_complex():
        sums = torch.sum(t.reshape(len(t), -1), dim=1, dtype=torch.float64).cpu()  # (N,): one per sample, in order
    else:
        sums = sample.to(torch.complex128 if t.is_complex() else torch.float64)
    if sample.dtype == torch.bfloat16:
        sample = sample.float()
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype),
        "sums": _sha(sums.numpy().tobytes()),
        "sample": _sha(sample.numpy().tobytes()),
    }


def code_digest(code: types.CodeType) -> str:
    """A digest of a code object: bytecode, names and constants, nested functions (lambdas, comprehensions) included."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    parts += [_stable_repr(const).encode() for const in code.co_consts]
    return _sha(b"\0".join(parts))


def _stable_repr(const: Any) -> str:
    """``repr`` of a code constant that is the same in every process: sets sorted (their order follows the
    per-process string hash seed), nested code by digest, no memory address."""
    if inspect.iscode(const):
        return code_digest(const)
    if isinstance(const, frozenset | set):
        return "{" + ", ".join(sorted(_stable_repr(c) for c in const)) + "}"
    if isinstance(const, tuple):
        return "(" + ", ".join(_stable_repr(c) for c in const) + ")"
    return _ADDRESS.sub("", repr(const))


def _all_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _all_names(const)
    return list(dict.fromkeys(names))


def class_digest(cls: type) -> str:
    """A digest of the code of every function a class defines (its own ``__dict__``, base classes included)."""
    parts = []
    for klass in cls.__mro__:
        if klass is object or klass.__module__ == "builtins":
            continue
        for name, member in sorted(vars(klass).items()):
            fn = member.__func__ if isinstance(member, staticmethod | classmethod) else member
            fn = fn.fget if isinstance(fn, property) else fn
            code = getattr(fn, "__code__", None)
            if code is not None:
                parts.append(f"{klass.__qualname__}.{name}:{code_digest(code)}")
    return _sha("\n".join(parts).encode())


def module_key(model: nn.Module) -> dict[str, Any]:
    """A model's structure and current weights: ``repr``, the code of its module classes, a digest of its state."""
    classes = sorted({f"{type(m).__module__}.{type(m).__qualname__}": type(m) for m in model.modules()}.items())
    state = [(name, tensor_digest(t)) for name, t in model.state_dict().items()]
    plain = (type(None), bool, int, float, str, tuple, list)  # options a repr may not show (label_smoothing...)
    options = [
        (name, {k: describe(v, 1) for k, v in vars(m).items() if not k.startswith("_") and isinstance(v, plain)})
        for name, m in model.named_modules()
    ]
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]  # fine-tuning freezes layers
    return {
        "frozen": _sha(repr(frozen).encode()),
        "options": _sha(repr(options).encode()),
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "repr": _ADDRESS.sub("", repr(model)),
        "code": _sha("".join(f"{n}:{class_digest(c)}" for n, c in classes).encode()),
        "params": sum(p.numel() for p in model.parameters()),
        "state": _sha(repr(state).encode()),
    }


def callable_key(fn: Any, depth: int = DEPTH) -> Any:
    """A stable description of a function, lambda, ``functools.partial``, bound method or callable object.

    A Python function is described by its qualified name, its code (:func:`code_digest`) and the values it
    reads: its default arguments, its closure cells, and the globals its code names (a notebook's ``cfg``, a
    module constant), described in turn by :func:`describe`. So ``lambda opt, n: OneCycleLR(opt, cfg.lr, ...)``
    has another key once ``cfg.lr`` changed, and so has a factory whose default argument changed.
    """
    if fn is None or isinstance(fn, str | int | float | bool):
        return fn
    if isinstance(fn, functools.partial):
        return {
            "partial": callable_key(fn.func, depth),
            "args": describe(fn.args, depth),
            "keywords": describe(fn.keywords, depth),
        }
    if inspect.ismethod(fn):
        return {"method": callable_key(fn.__func__, depth), "self": describe(fn.__self__, depth - 1)}
    if inspect.isfunction(fn):
        key: dict[str, Any] = {
            "fn": f"{fn.__module__}.{fn.__qualname__}",
            "code": code_digest(fn.__code__),
        }
        if depth <= 0 or (fn.__module__ or "").split(".")[0] in _LIBRARIES:
            return key
        if fn.__defaults__:
            key["defaults"] = describe(fn.__defaults__, depth - 1)
        if fn.__kwdefaults__:
            key["kwdefaults"] = describe(fn.__kwdefaults__, depth - 1)
        if fn.__closure__:
            cells = []
            for cell in fn.__closure__:
                try:
                    cells.append(describe(cell.cell_contents, depth - 1))
                except ValueError:  # an empty cell (a name assigned later in the enclosing function)
                    cells.append("<empty>")
            key["closure"] = cells
        names = {n: fn.__globals__[n] for n in _all_names(fn.__code__) if n in fn.__globals__}
        globals_read = {n: describe(v, depth - 1) for n, v in names.items() if not isinstance(v, types.ModuleType)}
        if globals_read:
            key["globals"] = globals_read
        return key
    if inspect.isbuiltin(fn) or isinstance(fn, types.BuiltinFunctionType | np.ufunc):
        return f"{getattr(fn, '__module__', None) or ''}.{getattr(fn, '__qualname__', repr(fn))}"
    return describe(fn, depth)


def describe(value: Any, depth: int = DEPTH) -> Any:
    """A JSON-able description of a value that changes when the value does (tensors by :func:`tensor_digest`).

    Containers are followed to ``depth``; objects without a ``repr`` of their own are described by their
    attributes. Memory addresses never enter a description.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)  # nan and inf are stable as strings
    if isinstance(value, Tensor):
        return tensor_digest(value)
    if isinstance(value, np.ndarray):
        return tensor_digest(torch.from_numpy(np.ascontiguousarray(value)))
    if isinstance(value, np.generic):
        return describe(value.item(), depth)
    if isinstance(value, torch.device | torch.dtype):
        return str(value)
    if isinstance(value, bytes):
        return _sha(value)
    if isinstance(value, torch.Generator):
        return {"generator": _sha(value.get_state().numpy().tobytes())}
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, type):
        return {"class": f"{value.__module__}.{value.__qualname__}", "code": class_digest(value)}
    if isinstance(value, nn.Module):
        return module_key(value)
    if isinstance(value, torch.optim.Optimizer):
        return optimizer_key(value)
    if callable(value) and (
        inspect.isfunction(value) or inspect.ismethod(value) or isinstance(value, functools.partial)
    ):
        return callable_key(value, depth)
    if depth <= 0:
        return f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, dict):
        return {str(k): describe(v, depth - 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        items = [describe(v, depth - 1) for v in value[:256]]
        return items if len(value) <= 256 else {"len": len(value), "head": items}
    if isinstance(value, set | frozenset):
        return sorted(repr(describe(v, depth - 1)) for v in value)
    if type(value).__repr__ is not object.__repr__:
        return _ADDRESS.sub("", repr(value))
    attrs = getattr(value, "__dict__", None)
    if attrs is not None:
        return {"type": f"{type(value).__module__}.{type(value).__qualname__}", "vars": describe(attrs, depth - 1)}
    return f"{type(value).__module__}.{type(value).__qualname__}"


def optimizer_key(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's class and every parameter group's hyper-parameters (lr, weight decay, betas...) and size."""
    groups = [
        {**{k: describe(v) for k, v in g.items() if k != "params"}, "numel": sum(p.numel() for p in g["params"])}
        for g in optimizer.param_groups
    ]
    state = [tensor_digest(t) for s in optimizer.state.values() for t in s.values() if isinstance(t, Tensor)]
    key = {"class": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}", "groups": groups}
    return key | ({"state": _sha(repr(state).encode())} if state else {})


def loader_key(loader: Any) -> Any:
    """What of a loader changes the result: its type, sizes, order (the generator's state), transform and data.

    A :class:`~course_lib.data.DeviceLoader` is described by its tensors (:func:`tensor_digest`); a
    ``DataLoader`` over a ``TensorDataset`` by the dataset's tensors; a list of batches by its tensors.
    """
    if loader is None:
        return None
    if isinstance(loader, list | tuple):
        return {"type": type(loader).__qualname__, "batches": describe(list(loader), DEPTH)}
    key: dict[str, Any] = {"type": f"{type(loader).__module__}.{type(loader).__qualname__}"}
    try:
        key["batches"] = len(loader)
    except TypeError:
        pass
    for attr in ("batch_size", "num_samples", "shuffle", "drop_last"):
        value = getattr(loader, attr, None)
        if isinstance(value, int | float | bool):
            key[attr] = value
    for attr in ("x", "y"):
        if isinstance(getattr(loader, attr, None), Tensor):
            key[attr] = tensor_digest(getattr(loader, attr))
    if isinstance(getattr(loader, "generator", None), torch.Generator):
        key["generator"] = describe(loader.generator)
    dataset = getattr(loader, "dataset", None)
    if dataset is not None:
        key["samples"] = len(dataset) if hasattr(dataset, "__len__") else None
        tensors = getattr(dataset, "tensors", None)
        key["dataset"] = describe(list(tensors)) if tensors is not None else describe(dataset, 1)
    if getattr(loader, "transform", None) is not None:
        key["transform"] = callable_key(loader.transform)
    return key


__all__ = [
    "callable_key",
    "class_digest",
    "code_digest",
    "describe",
    "loader_key",
    "module_key",
    "optimizer_key",
    "tensor_digest",
]
