import os
import random

import numpy as np
import pytest
import torch

from course_lib import config
from course_lib.config import get_device, profile, seed_everything


def test_profile_picks_sizes_by_env(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    cfg = profile(fast=dict(n=1, epochs=2), full=dict(n=10, epochs=20))
    assert (cfg.n, cfg["epochs"], cfg.profile) == (1, 2, "fast")
    monkeypatch.setenv("COURSE_PROFILE", "full")
    cfg = profile(fast=dict(n=1, epochs=2), full=dict(n=10, epochs=20))
    assert (cfg.n, cfg.epochs, cfg.profile) == (10, 20, "full")


@pytest.mark.parametrize("cuda", [False, True])
def test_profile_default_is_fast_on_every_device(monkeypatch, cuda):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert config.profile_name() == "fast"  # full only when asked, even where CUDA is available


def test_profile_rejects_mismatched_keys_and_bad_names(monkeypatch):
    with pytest.raises(ValueError, match="same keys"):
        profile(fast=dict(n=1), full=dict(m=1))
    monkeypatch.setenv("COURSE_PROFILE", "medium")
    with pytest.raises(ValueError, match="COURSE_PROFILE"):
        profile(fast=dict(n=1), full=dict(n=2))
    with pytest.raises(AttributeError, match="no entry"):
        _ = profile(fast=dict(n=1), full=dict(n=2), name="fast").missing


def test_seed_everything_reproduces_all_generators(monkeypatch):
    monkeypatch.setenv("COURSE_SEED", "7")
    assert seed_everything() == 7
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def _machine(monkeypatch, *, cuda: bool, mps: bool) -> None:
    """Pretend the machine has (or lacks) CUDA and MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _machine(monkeypatch, cuda=cuda, mps=mps)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert get_device("auto") == get_device() == get_device(None) == torch.device(expected)


def test_course_device_overrides_auto_only(monkeypatch):
    _machine(monkeypatch, cuda=True, mps=False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == get_device("auto") == torch.device("cpu")  # the environment beats auto-detection
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)
    assert get_device("cpu") == torch.device("cpu")  # an explicit device beats the environment
    assert get_device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    monkeypatch.setenv("COURSE_DEVICE", "auto")
    assert get_device() == torch.device("cuda")


def test_asking_for_cuda_without_it_raises(monkeypatch):
    _machine(monkeypatch, cuda=False, mps=False)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device("cuda")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device()


def test_deterministic_seeding_sets_the_cublas_workspace(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda mode, **kw: calls.append((mode, kw)))
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # so that monkeypatch restores the original state afterwards
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    seed_everything(3)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ and calls == []  # nothing without deterministic=True
    seed_everything(3, deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" and calls == [(True, {"warn_only": True})]
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # a value the user chose is kept
    seed_everything(3, deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_dirs_follow_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "c"))
    assert config.data_dir() == tmp_path / "d"
    assert config.checkpoint_dir() == tmp_path / "c"
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR")
    assert config.checkpoint_dir() == config.repo_root() / "checkpoints"


def test_progress_flag(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    assert not config.progress_enabled()
    monkeypatch.setenv("COURSE_PROGRESS", "1")
    assert config.progress_enabled()
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert not config.progress_enabled()


def test_import_has_no_side_effects(capsys):
    import importlib

    import course_lib

    importlib.reload(course_lib)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_find_notebook_by_path_name_or_unique_prefix(tmp_path):
    """The one notebook resolver of the tools (claims report, pretrain) and of claims' notebook name."""
    from course_lib.config import find_notebook, notebook_name

    for stem in ("02_alexnet_ablations", "05a_weak_supervision", "05b_regions_and_alignment"):
        (tmp_path / f"{stem}.ipynb").write_text("{}")
    want = tmp_path / "02_alexnet_ablations.ipynb"
    for name in (want, str(want), "02_alexnet_ablations", "02_alexnet_ablations.ipynb", "02", "02_alex"):
        assert find_notebook(name, tmp_path) == want, name
    assert find_notebook("05b", tmp_path).name == "05b_regions_and_alignment.ipynb"
    with pytest.raises(FileNotFoundError, match=r"2 notebooks begin with it: 05a_weak_supervision, 05b_regions"):
        find_notebook("05", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'99' .*no notebook is so named.*the notebooks are: 02_alexnet"):
        find_notebook("99", tmp_path)
    assert notebook_name("/x/notebooks/03_modules.ipynb") == notebook_name("03_modules") == "03_modules"
    assert find_notebook("01").name == "01_history_and_lenet.ipynb"  # the repository's notebooks/ by default
