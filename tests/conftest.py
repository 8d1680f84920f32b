"""Shared fixtures. The notebook run (nbval) uses the same environment variables:
COURSE_DATA_DIR (MNIST), COURSE_PROFILE (fast in CI), COURSE_CHECKPOINT_DIR. Each xdist worker's share of the
cores is set by ``course_lib.tools.pytest_plugin``, which every pytest run loads (``pytest notebooks/`` too)."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch

if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # the thread share (course_lib.tools.pytest_plugin)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
matplotlib.use("Agg")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device test runs on the CPU, and on CUDA when there is one."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def tmp_checkpoints(tmp_path, monkeypatch):
    """Every unit test caches its models in its own folder: never in the repository's ``checkpoints/``, never
    reloading what another test (or an older run) trained."""
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    return tmp_path / "ckpt"
