"""Shared fixtures. The notebook run (nbval) uses the same environment variables:
COURSE_DATA_DIR (MNIST), COURSE_PROFILE (fast in CI), COURSE_CHECKPOINT_DIR."""

from __future__ import annotations

import os

# Under pytest-xdist (``make test`` runs ``pytest -n 2``) the workers share the cores: each gets its share of
# threads, for its own torch and for the notebook kernels it starts (they inherit this environment). Oversubscribed
# torch threads slow everything down badly on a small CPU.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("OMP_NUM_THREADS"):
    _workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _workers))

import matplotlib
import pytest
import torch

if os.environ.get("OMP_NUM_THREADS", "").isdigit():
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # in case torch was imported before this file
matplotlib.use("Agg")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device test runs on the CPU, and on CUDA when there is one."""
    return torch.device(request.param)


@pytest.fixture
def tmp_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    return tmp_path / "ckpt"
