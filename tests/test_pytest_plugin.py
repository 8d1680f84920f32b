"""course_lib.tools.pytest_plugin: every pytest run (``pytest notebooks/`` too) splits the cores among xdist workers."""

from __future__ import annotations

import os

import pytest

from course_lib.tools import pytest_plugin


@pytest.mark.parametrize(("cpus", "workers", "share"), [(2, 2, 1), (16, 2, 8), (2, 4, 1), (None, 2, 1), (8, 1, 8)])
def test_thread_share(cpus, workers, share):
    assert pytest_plugin.thread_share(cpus, workers) == share


def test_the_plugin_is_registered_for_every_pytest_run():
    from importlib.metadata import entry_points

    assert any(e.value == "course_lib.tools.pytest_plugin" for e in entry_points(group="pytest11"))


def test_a_worker_gets_its_share_unless_the_user_chose(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    import torch

    before = torch.get_num_threads()
    try:
        pytest_plugin.pytest_configure()
        assert os.environ["OMP_NUM_THREADS"] == "4" and torch.get_num_threads() == 4
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        pytest_plugin.pytest_configure()
        assert os.environ["OMP_NUM_THREADS"] == "3"  # the user's choice stands
    finally:
        torch.set_num_threads(before)
