"""Shared fixtures. The notebook run (nbval) uses the same environment variables:
COURSE_DATA_DIR (MNIST), COURSE_PROFILE (fast in CI), COURSE_CHECKPOINT_DIR."""

from __future__ import annotations

import matplotlib
import pytest
import torch

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
