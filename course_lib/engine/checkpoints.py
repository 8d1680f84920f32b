"""Checkpoints: ``fit_or_load`` loads a model trained with the same configuration, else trains and saves it.

The UvA-notebook habit: trained models are cached in ``COURSE_CHECKPOINT_DIR``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import checkpoint_dir, profile_name
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
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written checkpoint
    return path


def load_checkpoint(path: str | Path, model: nn.Module) -> History | None:
    """Load weights saved by :func:`save_checkpoint` into ``model`` (``weights_only=True``); return its History."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    return History.from_dict(payload["history"]) if payload.get("history") else None


def fit_or_load(
    model: nn.Module,
    train: Loader,
    val: Loader | None = None,
    *,
    name: str,
    config: dict[str, Any],
    **fit_kwargs: Any,
) -> History:
    """Load ``model`` from a checkpoint made with the same ``name`` and ``config``, else ``fit`` and save.

    ``config`` must hold everything that changes the result (sizes, epochs, lr, seed...); the
    profile name and the model's class and parameter count are added to it. The returned
    History is the one recorded when the model was trained.
    """
    key = {
        **config,
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
    save_checkpoint(path, model, history, key)
    return history
