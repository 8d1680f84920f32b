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


def test_profile_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert config.profile_name() == ("full" if torch.cuda.is_available() else "fast")


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


def test_get_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    auto = get_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


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
