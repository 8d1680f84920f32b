"""Checkpoints: ``fit_or_load`` loads a model trained under exactly the same conditions, else trains and saves it.

The UvA-notebook habit: trained models are cached in ``COURSE_CHECKPOINT_DIR``. A checkpoint is never stale: its
key (:mod:`course_lib.engine.fingerprint`) covers the model's structure, code and initial weights, every argument
of ``fit`` including the values its callables read, the data, the random state, the seed and the profile.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import checkpoint_dir, dry_run, profile_name
from . import distributed
from .fingerprint import callable_key, describe, loader_key, module_key, optimizer_key
from .loop import History, Loader, fit

_CACHE_LOG: list[dict[str, str]] = []


def config_key(config: dict[str, Any]) -> str:
    """A short, stable digest of a JSON-serializable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def checkpoint_path(name: str, config: dict[str, Any]) -> Path:
    """``COURSE_CHECKPOINT_DIR/<name>-<digest of config>.pt``."""
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"checkpoint name must be a plain non-empty file name, got {name!r}")
    return checkpoint_dir() / f"{name}-{config_key(config)}.pt"


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    history: History | None = None,
    config: dict | None = None,
    rng: dict[str, Tensor] | None = None,
) -> Path:
    """Save weights, history, config and random states (plain tensors and lists: loadable with ``weights_only=True``).

    ``rng``: the random states training left behind (``fit_or_load`` restores them on load, so that what a
    notebook draws after a loaded model is what it would have drawn after training it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "model": state,
        "history": history.to_dict() if history is not None else None,
        "config": json.loads(json.dumps(config or {}, default=str)),
        "rng": {k: v.detach().cpu() for k, v in (rng or {}).items()},
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per process: parallel runs may save the same model
    try:
        torch.save(payload, tmp)
        tmp.replace(path)  # atomic: an interrupted run never leaves a half-written checkpoint
    finally:
        tmp.unlink(missing_ok=True)  # a failed save leaves nothing behind
    return path


def load_checkpoint(path: str | Path, model: nn.Module, rng: dict[str, Tensor] | None = None) -> History | None:
    """Load weights saved by :func:`save_checkpoint` into ``model`` (``weights_only=True``); return its History.

    ``rng``: a dict that receives the saved random states, if any.
    """
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    if rng is not None:
        rng.update(payload.get("rng") or {})
    return History.from_dict(payload["history"]) if payload.get("history") else None


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
        args["optimizer"] = optimizer_key(optimizer)
    del args["lr"]  # in the optimizer's key (ignored by fit when an optimizer is given)
    for name in ("scheduler", "loss_fn", "metric"):
        args[name] = callable_key(args[name])
    args["train"], args["val"] = loader_key(train), loader_key(val)
    return args


def _random_states(train: Loader, device: torch.device | None) -> dict[str, Tensor]:
    """The random states training draws from: torch's CPU generator, the device's, the loader's shuffling one."""
    states = {"cpu": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    if isinstance(getattr(train, "generator", None), torch.Generator):
        states["loader"] = train.generator.get_state()
    return states


def _set_random_states(states: dict[str, Tensor], train: Loader, device: torch.device | None) -> None:
    if "cpu" in states:
        torch.set_rng_state(states["cpu"])
    if "cuda" in states and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], device)
    if "loader" in states and isinstance(getattr(train, "generator", None), torch.Generator):
        train.generator.set_state(states["loader"])


def checkpoint_key(
    model: nn.Module, train: Loader, val: Loader | None = None, *, config: dict[str, Any] | None = None, **fit_kwargs
) -> dict[str, Any]:
    """Everything the result of ``fit(model, train, val, **fit_kwargs)`` depends on, as a JSON-able dict.

    ``config`` (what the notebook adds), :func:`fit_key` (every argument, the values its callables read, the
    data), the model (:func:`~course_lib.engine.fingerprint.module_key`: ``repr``, module classes' code, weights
    before training), the random states training draws from, the seed and the profile.
    """
    device = fit_kwargs.get("device")
    device = torch.device(device) if device is not None else None
    return {
        **(config or {}),
        "_fit": fit_key(train, val, **fit_kwargs),
        "_model": module_key(model),
        "_rng": describe(_random_states(train, device)),
        "_seed": os.environ.get("COURSE_SEED", "0"),
        "_profile": profile_name(),
    }


def cache_log() -> list[dict[str, str]]:
    """Every ``fit_or_load`` of this process, in order: ``{"name", "path", "action": "trained" | "loaded"}``."""
    return list(_CACHE_LOG)


def fit_or_load(
    model: nn.Module,
    train: Loader,
    val: Loader | None = None,
    *,
    name: str,
    config: dict[str, Any] | None = None,
    **fit_kwargs: Any,
) -> History:
    """Load ``model`` from a checkpoint trained under exactly the same conditions, else ``fit`` and save it.

    The key (:func:`checkpoint_key`) holds ``config`` (anything the notebook wants to add), every
    result-changing argument of ``fit`` (:func:`fit_key`), including the values its scheduler, loss, metric
    and transform read (defaults, closures, globals such as a notebook's ``cfg``), each loader's data and order,
    the model's ``repr``, code and initial weights, the random states training draws from, ``COURSE_SEED`` and
    the profile. Loading restores the random states that training left, so the rest of a notebook draws
    the same numbers whether its models were trained or loaded. The returned History is the one recorded
    when the model was trained.

    Under ``torchrun`` rank 0 decides whether to load or train and every rank follows (a rank that decided
    alone could train while the others load, and hang in an all-reduce); rank 0 saves. Under
    ``COURSE_DRY_RUN=1`` nothing is loaded or saved: the capped run just trains.
    """
    if dry_run():
        return fit(model, train, val, **fit_kwargs)
    key = checkpoint_key(model, train, val, config=config, **fit_kwargs)
    path = checkpoint_path(name, key)
    device = fit_kwargs.get("device")
    device = torch.device(device) if device is not None else None
    broadcast = getattr(distributed, "broadcast_object", lambda value: value)
    path, load = broadcast((path, path.exists()))  # rank 0's key and decision, on every rank
    if load:
        rng: dict[str, Tensor] = {}
        history = load_checkpoint(path, model, rng)
        if device is not None:
            model.to(device)
        if history is not None:
            _set_random_states(rng, train, device)
            _CACHE_LOG.append({"name": name, "path": str(path), "action": "loaded"})
            return history
    history = fit(model, train, val, **fit_kwargs)
    if distributed.is_main():  # under torchrun, rank 0 writes and the others wait for the file
        save_checkpoint(path, model, history, key, rng=_random_states(train, device))
    distributed.barrier()
    _CACHE_LOG.append({"name": name, "path": str(path), "action": "trained"})
    return history
