"""Checkpoints: ``fit_or_load`` loads a model trained with the same configuration, else trains and saves it.

The UvA-notebook habit: trained models are cached in ``COURSE_CHECKPOINT_DIR``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import checkpoint_dir, dry_run, profile_name
from . import distributed
from .loop import History, Loader, fit


def config_key(config: dict[str, Any]) -> str:
    """A short, stable digest of a JSON-serializable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def checkpoint_path(name: str, config: dict[str, Any]) -> Path:
    """``COURSE_CHECKPOINT_DIR/<name>-<digest of config>.pt``."""
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"checkpoint name must be a plain non-empty file name, got {name!r}")
    return checkpoint_dir() / f"{name}-{config_key(config)}.pt"


def save_checkpoint(path: str | Path, model: nn.Module, history: History | None = None, config: dict | None = None) -> Path:
    """Save weights, history and config (plain tensors and lists: loadable with ``weights_only=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "model": state,
        "history": history.to_dict() if history is not None else None,
        "config": json.loads(json.dumps(config or {}, default=str)),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per process: parallel runs may save the same model
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written checkpoint
    return path


def load_checkpoint(path: str | Path, model: nn.Module) -> History | None:
    """Load weights saved by :func:`save_checkpoint` into ``model`` (``weights_only=True``); return its History."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    return History.from_dict(payload["history"]) if payload.get("history") else None


def callable_key(fn: Any) -> Any:
    """A stable description of a function, lambda, ``functools.partial`` or module, for a checkpoint key.

    Functions: their module and qualified name, plus, for lambdas and functions defined in a notebook, the
    literal constants and names their code uses (so editing ``pct_start=0.25`` in a lambda changes the key);
    objects with their own ``__repr__`` (an ``nn.Module`` loss, a transform): that repr; ``None`` stays ``None``.
    """
    if fn is None or isinstance(fn, str | int | float | bool):
        return fn
    if isinstance(fn, functools.partial):
        return {"partial": callable_key(fn.func), "args": [repr(a) for a in fn.args],
                "keywords": {k: repr(v) for k, v in sorted(fn.keywords.items())}}  # fmt: skip
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        key: dict[str, Any] = {"fn": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"}
        code = getattr(fn, "__code__", None)
        defined_here = fn.__name__ == "<lambda>" or "<locals>" in fn.__qualname__ or fn.__module__ == "__main__"
        if code is not None and defined_here:  # a notebook's own function: its constants are part of what it does
            key["consts"] = [repr(c) for c in code.co_consts if not inspect.iscode(c) and c != fn.__doc__]
            key["names"] = list(code.co_names)
        return key
    if type(fn).__repr__ is not object.__repr__:
        return repr(fn)
    return f"{type(fn).__module__}.{type(fn).__qualname__}"


def _loader_key(loader: Any) -> Any:
    """What of a loader changes the result: its type, length, batch size, samples, order and transform."""
    if loader is None:
        return None
    key: dict[str, Any] = {"type": type(loader).__qualname__}
    try:
        key["batches"] = len(loader)
    except TypeError:
        pass
    for attr in ("batch_size", "num_samples", "shuffle", "drop_last"):
        value = getattr(loader, attr, None)
        if isinstance(value, int | float | bool):
            key[attr] = value
    if getattr(loader, "dataset", None) is not None:
        try:
            key["samples"] = len(loader.dataset)
        except TypeError:
            pass
    if getattr(loader, "transform", None) is not None:
        key["transform"] = callable_key(loader.transform)
    return key


def _optimizer_key(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's class and every parameter group's hyper-parameters (lr, weight decay, betas...) and size."""
    groups = [{**{k: v for k, v in g.items() if k != "params"}, "numel": sum(p.numel() for p in g["params"])}
              for g in optimizer.param_groups]  # fmt: skip
    return {"class": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}", "groups": groups}


_FIT_PARAMETERS = inspect.signature(fit).parameters


def fit_key(train: Loader, val: Loader | None = None, **fit_kwargs: Any) -> dict[str, Any]:
    """Every result-changing argument of :func:`~course_lib.engine.fit`, as a JSON-able dict (defaults filled in).

    Left out: ``device``, ``progress`` and ``desc`` (they do not change the trained weights).
    """
    params = _FIT_PARAMETERS
    unknown = set(fit_kwargs) - set(params)
    if unknown:
        raise TypeError(f"fit() got unexpected keyword argument(s) {sorted(unknown)}")
    args = {name: fit_kwargs.get(name, p.default) for name, p in params.items() if p.kind is p.KEYWORD_ONLY}
    for name in ("device", "progress", "desc"):
        args.pop(name)
    optimizer = args.pop("optimizer")
    if optimizer is None:
        args["optimizer"] = {"class": "torch.optim.adam.Adam", "lr": args["lr"]}
    else:
        args["optimizer"] = _optimizer_key(optimizer)
    del args["lr"]  # in the optimizer's key (ignored by fit when an optimizer is given)
    for name in ("scheduler", "loss_fn", "metric"):
        args[name] = callable_key(args[name])
    args["train"], args["val"] = _loader_key(train), _loader_key(val)
    return args


def fit_or_load(
    model: nn.Module,
    train: Loader,
    val: Loader | None = None,
    *,
    name: str,
    config: dict[str, Any] | None = None,
    **fit_kwargs: Any,
) -> History:
    """Load ``model`` from a checkpoint made with the same ``name``, ``config`` and ``fit`` arguments, else ``fit`` and save.

    The checkpoint's key hashes ``config`` (put there what the arguments cannot show: data sizes, seed,
    model options...), every result-changing argument of ``fit`` (:func:`fit_key`: epochs or steps, the
    optimizer's class and hyper-parameters, loss, metric, scheduler, amp, channels_last, clipping, early
    stop, the loaders' sizes), the profile name and the model's class and parameter count. The returned
    History is the one recorded when the model was trained. Under ``COURSE_DRY_RUN=1`` nothing is loaded
    or saved: the capped run just trains.
    """
    if dry_run():
        return fit(model, train, val, **fit_kwargs)
    key = {
        **(config or {}),
        "_fit": fit_key(train, val, **fit_kwargs),
        "_profile": profile_name(),
        "_model": type(model).__name__,
        "_params": sum(p.numel() for p in model.parameters()),
    }
    path = checkpoint_path(name, key)
    device = fit_kwargs.get("device")
    if path.exists():
        history = load_checkpoint(path, model)
        if device is not None:
            model.to(device)
        if history is not None:
            return history
    history = fit(model, train, val, **fit_kwargs)
    if distributed.is_main():  # under torchrun, rank 0 writes and the others wait for the file
        save_checkpoint(path, model, history, key)
    distributed.barrier()
    return history
