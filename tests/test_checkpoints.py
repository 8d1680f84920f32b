"""``fit_or_load`` never reloads a stale model (course_lib/engine/checkpoints.py, engine/fingerprint.py).

Each case below once reloaded the old checkpoint instead of training: a scheduler lambda that reads ``cfg.lr``
after ``cfg.lr`` changed; a scheduler factory whose default argument changed; same-size data with other values;
the same model class and parameter count with another activation. Each must now retrain; the unchanged run must
reload, and a reloaded run must leave the random state where training left it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib import seed_everything
from course_lib.config import Config
from course_lib.data import DeviceLoader
from course_lib.engine import cache_log, callable_key, checkpoint_key, describe, fit_or_load, tensor_digest
from course_lib.engine import checkpoints as checkpoints_module

# A notebook's cells, run in one namespace as a kernel runs them (the functions' globals are this namespace).
NOTEBOOK = """
import torch
cfg = Config(lr=0.05)
sched = lambda opt, total: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total)

def factory(opt, total, pct=0.3):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=total, pct_start=pct)
"""


def _notebook() -> dict:
    ns = {"Config": Config, "__name__": "__main__"}
    exec(NOTEBOOK, ns)
    return ns


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(48, 6, generator=g), torch.randint(0, 3, (48,), generator=g)


def _net(activation: type[nn.Module] = nn.ReLU) -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), activation(), nn.Linear(8, 3))


@pytest.fixture
def trained(tmp_checkpoints, monkeypatch):
    """``run(**changes)`` trains or loads a small model; the list it returns counts the real trainings."""
    calls: list[int] = []
    real_fit = checkpoints_module.fit
    monkeypatch.setattr(checkpoints_module, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    monkeypatch.setenv("COURSE_SEED", "0")
    monkeypatch.delenv("COURSE_DRY_RUN", raising=False)

    def run(data_seed=0, activation=nn.ReLU, scheduler=None):
        seed_everything(0)
        x, y = _data(data_seed)
        model = _net(activation)
        fit_or_load(model, DeviceLoader(x, y, 16, seed=0), name="stale", epochs=2, scheduler=scheduler, progress=False)
        return model

    return run, calls


def test_an_unchanged_run_reloads_and_leaves_the_random_state_where_training_did(trained):
    run, calls = trained
    first = run()
    after_training = torch.rand(3)
    second = run()
    after_loading = torch.rand(3)
    assert len(calls) == 1, "the second, identical run loads the checkpoint"
    assert torch.equal(first[0].weight, second[0].weight)
    assert torch.equal(after_training, after_loading), "loading restores the random state training left"
    assert [e["action"] for e in cache_log()[-2:]] == ["trained", "loaded"]


def test_a_lambda_reading_a_changed_global_retrains(trained):
    run, calls = trained
    nb = _notebook()
    run(scheduler=nb["sched"])
    nb["cfg"].lr = 0.01  # the lambda's code is the same; the value it reads is not
    run(scheduler=nb["sched"])
    assert len(calls) == 2


def test_a_factory_whose_default_changed_retrains(trained):
    run, calls = trained
    nb = _notebook()
    run(scheduler=nb["factory"])
    exec(NOTEBOOK.replace("pct=0.3", "pct=0.4"), nb)  # the cell edited and run again
    run(scheduler=nb["factory"])
    assert len(calls) == 2


def test_same_size_data_with_other_values_retrains(trained):
    run, calls = trained
    run(data_seed=0)
    run(data_seed=1)
    assert len(calls) == 2


def test_the_same_class_and_size_with_another_activation_retrains(trained):
    run, calls = trained
    run(activation=nn.ReLU)
    run(activation=nn.Tanh)
    assert len(calls) == 2
    assert sum(p.numel() for p in _net(nn.ReLU).parameters()) == sum(p.numel() for p in _net(nn.Tanh).parameters())


def test_the_seed_the_profile_and_the_initial_weights_are_in_the_key(monkeypatch):
    x, y = _data()
    loader = DeviceLoader(x, y, 16, seed=0)

    def key():
        torch.manual_seed(0)
        return checkpoint_key(_net(), loader, epochs=1)

    base = key()
    monkeypatch.setenv("COURSE_SEED", "7")
    assert key() != base
    monkeypatch.setenv("COURSE_SEED", "0")
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert key() != base
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    assert key() == base
    torch.manual_seed(1)
    assert checkpoint_key(_net(), loader, epochs=1)["_model"] != base["_model"], "another initialization"
    torch.manual_seed(0)
    frozen = _net()
    frozen[0].requires_grad_(False)
    assert checkpoint_key(frozen, loader, epochs=1)["_model"] != base["_model"], "a frozen layer"


def test_tensor_digest_sees_values_order_and_dtype():
    x = torch.arange(12.0).view(4, 3)
    assert tensor_digest(x) == tensor_digest(x.clone())
    assert tensor_digest(x) != tensor_digest(x.flip(0)), "the same values in another order"
    assert tensor_digest(x) != tensor_digest(x.double())
    y = x.clone()
    y[1, 1] += 1e-3
    assert tensor_digest(x) != tensor_digest(y)


def test_callable_keys_follow_closures_partials_and_methods():
    import functools

    def make(scale):
        return lambda t: t * scale

    assert callable_key(make(2)) != callable_key(make(3))
    assert callable_key(make(2)) == callable_key(make(2))
    assert callable_key(functools.partial(max, 1)) != callable_key(functools.partial(max, 2))
    assert callable_key(nn.CrossEntropyLoss(label_smoothing=0.1)) != callable_key(nn.CrossEntropyLoss())
    assert "0x" not in str(describe(object())), "no memory address enters a key"


def test_a_key_is_the_same_in_every_process():
    """Python seeds its string hash per process, which orders sets: a key must not depend on it (nn.Conv2d's code
    holds a frozenset constant). Two interpreters with other hash seeds compute the same key."""
    import subprocess
    import sys

    code = (
        "import torch, json\n"
        "from course_lib.engine import checkpoint_key\n"
        "from course_lib.data import DeviceLoader\n"
        "from course_lib.models import LeNet5\n"
        "torch.manual_seed(0)\n"
        "x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))\n"
        "print(json.dumps(checkpoint_key(LeNet5('modern'), DeviceLoader(x, y, 4, seed=0), epochs=1), sort_keys=True))"
    )
    keys = [
        subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "PYTHONHASHSEED": seed, "COURSE_SEED": "0", "COURSE_PROFILE": "fast"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert keys[0] == keys[1] and keys[0].strip()
