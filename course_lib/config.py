"""Profiles, seeding, device selection and the course's folders (and how a notebook is found by name).

Every notebook starts with the same three lines::

    cfg = profile(fast=dict(n_train=5000, epochs=2), full=dict(n_train=60000, epochs=20))
    seed = seed_everything()
    device = get_device()

Environment variables (all optional):

- ``COURSE_PROFILE``: ``fast`` (the default on every device: about 3 minutes per notebook on a
  2-core CPU) or ``full`` (only when asked: the lecture's effects at the largest scale a 2-core CPU
  runs in about 30 minutes per notebook, a minute or two on one GPU).
- ``COURSE_SEED``: the seed of every notebook (default 0); results must hold for any seed.
- ``COURSE_DEVICE``: ``auto`` (default), ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
- ``COURSE_DATA_DIR``: root handed to torchvision datasets (default ``<repo>/data``).
- ``COURSE_CHECKPOINT_DIR``: where trained models are cached (default ``<repo>/checkpoints``).
- ``COURSE_PROGRESS``: ``1``/``0`` to force progress bars on/off (default: on, off under CI).
- ``COURSE_DRY_RUN``: ``1`` runs a notebook with its profile's sizes and branches but caps every
  training at :data:`DRY_RUN_STEPS` optimizer steps (the engine enforces it); full-scale claims are
  then measured and printed, not asserted. Used to test the full profile on a CPU.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .utils import model_device as model_device  # re-exported from its old home (utils sits below config)

PROFILES = ("fast", "full")
DRY_RUN_STEPS = 2  # optimizer steps per training call under COURSE_DRY_RUN=1


def repo_root() -> Path:
    """The checkout this package was installed from (editable install), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def notebook_name(name: str | Path) -> str:
    """A notebook's name, its file's stem (``02_alexnet_ablations``), from a path, a file name or the name itself."""
    return Path(name).name.removesuffix(".ipynb")


def find_notebook(name: str | Path, folder: Path | None = None) -> Path:
    """The one way the tools find a notebook: an existing ``.ipynb`` path, else the notebook of ``folder`` (default:
    the repository's ``notebooks/``) whose name is :func:`notebook_name` of ``name``, else the only one it begins
    (``02`` or ``02_alex`` for ``02_alexnet_ablations``; ``05`` is ambiguous: ``05a`` and ``05b``).

    Raises:
        FileNotFoundError: no notebook, or several, match; the message lists the notebooks of ``folder``.
    """
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path
    folder = Path(folder) if folder is not None else repo_root() / "notebooks"
    stem = notebook_name(name)
    exact = folder / f"{stem}.ipynb"
    if exact.is_file():
        return exact
    known = sorted(p.stem for p in folder.glob("*.ipynb"))
    matches = [k for k in known if k.startswith(stem)] if stem else []
    if len(matches) == 1:
        return folder / f"{matches[0]}.ipynb"
    why = f"{len(matches)} notebooks begin with it: {', '.join(matches)}" if matches else "no notebook is so named"
    raise FileNotFoundError(f"no notebook {str(name)!r} in {folder} ({why}); the notebooks are: {', '.join(known)}")


def profile_name() -> str:
    """The active profile: ``COURSE_PROFILE``, or ``fast`` when it is unset (on every device: ``full`` only when asked)."""
    name = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if not name:
        return "fast"
    if name not in PROFILES:
        raise ValueError(f"COURSE_PROFILE must be one of {PROFILES}, got {name!r}")
    return name


class Config(dict):
    """A dict whose keys are also attributes: ``cfg.epochs`` or ``cfg["epochs"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no entry {key!r}; it has {sorted(self)}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def profile(fast: dict[str, Any], full: dict[str, Any], name: str | None = None) -> Config:
    """Pick a notebook's sizes for the active profile.

    Args:
        fast: sizes for a 2-core CPU (about 3 minutes per notebook).
        full: the lecture's effects at the largest scale a 2-core CPU runs in about 30 minutes per notebook.
        name: force a profile instead of reading ``COURSE_PROFILE``.

    Returns:
        A :class:`Config` holding the chosen sizes plus ``profile`` (its name).

    Raises:
        ValueError: if the two profiles do not define the same keys (a notebook must
            run the same code in both; only sizes change).
    """
    if set(fast) != set(full):
        raise ValueError(
            "fast and full profiles must define the same keys; "
            f"only in fast: {sorted(set(fast) - set(full))}, only in full: {sorted(set(full) - set(fast))}"
        )
    chosen = profile_name() if name is None else name
    if chosen not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {chosen!r}")
    cfg = Config(fast if chosen == "fast" else full)
    cfg["profile"] = chosen
    return cfg


def seed_everything(seed: int | None = None, deterministic: bool = False) -> int:
    """Seed Python, NumPy and torch (all devices). ``None`` reads ``COURSE_SEED`` (default 0).

    ``deterministic=True`` also asks torch for deterministic algorithms (slower on CUDA) and sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when it is unset: without it cuBLAS matrix products are not
    deterministic on CUDA >= 10.2 (PyTorch's "Reproducibility" notes). cuBLAS reads it when it starts, so
    call this before any CUDA work (first thing in a notebook's setup cell).
    Returns the seed used.
    """
    if seed is None:
        seed = int(os.environ.get("COURSE_SEED", "0"))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators as well
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before torch's first cuBLAS call
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


def get_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device once: ``"auto"`` (or ``None``) picks cuda > mps > cpu.

    ``COURSE_DEVICE`` overrides ``"auto"``. Under ``torchrun`` (``LOCAL_RANK`` set), ``"cuda"`` without an index,
    whether asked for or picked by ``"auto"``, is ``cuda:LOCAL_RANK % device_count``: each process on its own GPU
    (see https://pytorch.org/docs/stable/elastic/run.html); ``"cuda:1"`` stays ``cuda:1``.
    Pass the result explicitly from then on.

    Raises:
        ValueError: a CUDA device asked for where CUDA is not available.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        device = os.environ.get("COURSE_DEVICE", "auto")
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            device = "cuda"  # this process's GPU under torchrun: below
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        else:
            return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {dev} was asked for but CUDA is not available; use 'auto' or 'cpu'")
    local = os.environ.get("LOCAL_RANK", "").strip()
    if dev.type == "cuda" and dev.index is None and local:  # under torchrun, each process on its own GPU
        return torch.device("cuda", int(local) % torch.cuda.device_count())
    return dev


def dry_run() -> bool:
    """``COURSE_DRY_RUN`` is set to a true value: every training is capped at :data:`DRY_RUN_STEPS` steps."""
    return os.environ.get("COURSE_DRY_RUN", "").strip().lower() in ("1", "true", "yes", "on")


def data_dir() -> Path:
    """Root for datasets: ``COURSE_DATA_DIR`` or ``<repo>/data``."""
    return Path(os.environ.get("COURSE_DATA_DIR") or repo_root() / "data").expanduser()


def checkpoint_dir() -> Path:
    """Where trained models are cached: ``COURSE_CHECKPOINT_DIR`` or ``<repo>/checkpoints``."""
    return Path(os.environ.get("COURSE_CHECKPOINT_DIR") or repo_root() / "checkpoints").expanduser()


def progress_enabled() -> bool:
    """Progress bars are on unless ``COURSE_PROGRESS=0``, or ``CI`` is set and ``COURSE_PROGRESS`` is not."""
    flag = os.environ.get("COURSE_PROGRESS")
    if flag is not None:
        return flag.strip().lower() not in ("0", "false", "no", "off", "")
    return not os.environ.get("CI")
