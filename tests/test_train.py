import math

import pytest
import torch

from course_lib import History, evaluate, fit, fit_or_load, predict, seed_everything
from course_lib.data import DeviceLoader
from course_lib.engine import checkpoint_path, load_checkpoint, save_checkpoint
from course_lib.models import MLP, LeNet5


def _toy(n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return x, y


def test_fit_overfits_one_small_batch(device):
    seed_everything(0)
    x, y = _toy(32)
    model = LeNet5("modern")
    loader = DeviceLoader(x, y, batch_size=32, device=device, seed=0)
    h = fit(model, loader, loader, epochs=60, lr=3e-3, device=device, progress=False)
    assert h.train_loss[-1] < 0.05 * h.train_loss[0]
    assert h.val_acc[-1] == 1.0
    assert len(h) == 60 and all(s > 0 for s in h.seconds) and h.samples[0] == 32


def test_same_seed_gives_same_history_on_cpu():
    def run() -> History:
        seed_everything(123)
        x, y = _toy(96)
        return fit(MLP(hidden=(32,)), DeviceLoader(x, y, 16), epochs=3, progress=False)

    a, b = run(), run()
    assert a.train_loss == b.train_loss and a.train_acc == b.train_acc
    assert all(math.isnan(v) for v in a.val_acc)


def test_fit_rejects_bad_arguments():
    x, y = _toy(8)
    with pytest.raises(ValueError, match="epochs"):
        fit(MLP(), DeviceLoader(x, y, 4), epochs=0)


def test_scheduler_is_stepped_per_batch():
    x, y = _toy(40)
    seen = {}

    def sched(opt, total):
        seen["total"] = total
        return torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=total)

    fit(MLP(hidden=(8,)), DeviceLoader(x, y, 10), epochs=2, scheduler=sched, progress=False)
    assert seen["total"] == 8


def test_evaluate_and_predict_agree(device):
    x, y = _toy(50)
    model = MLP(hidden=(16,)).to(device)
    loss, acc = evaluate(model, DeviceLoader(x, y, 7, shuffle=False, device=device))
    logits = predict(model, x.to(device), batch_size=9)
    assert logits.shape == (50, 10)
    assert acc == pytest.approx(float((logits.argmax(1).cpu() == y).float().mean()))
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits.cpu(), y)), rel=1e-5)


def test_checkpoint_round_trip(tmp_checkpoints):
    seed_everything(0)
    x, y = _toy(32)
    model = MLP(hidden=(8,))
    h = fit(model, DeviceLoader(x, y, 8), DeviceLoader(x, y, 8), epochs=2, progress=False)
    path = save_checkpoint(tmp_checkpoints / "m.pt", model, h, {"lr": 1e-3})
    clone = MLP(hidden=(8,))
    h2 = load_checkpoint(path, clone)
    assert h2 == h
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        assert torch.equal(a, b)
    # the payload holds only tensors and plain containers: loadable with weights_only=True
    assert set(torch.load(path, weights_only=True)) == {"model", "history", "config"}


def test_fit_or_load_trains_once_then_loads(tmp_checkpoints):
    x, y = _toy(32)
    cfg = {"epochs": 2, "lr": 1e-3}
    seed_everything(0)
    m1 = MLP(hidden=(8,))
    h1 = fit_or_load(m1, DeviceLoader(x, y, 8), DeviceLoader(x, y, 8), name="toy", config=cfg, epochs=2, progress=False)
    files = list(tmp_checkpoints.glob("toy-*.pt"))
    assert len(files) == 1
    m2 = MLP(hidden=(8,))

    class Boom:
        def __iter__(self):
            raise AssertionError("should have loaded the checkpoint, not trained")

        def __len__(self):
            return 1

    h2 = fit_or_load(m2, Boom(), Boom(), name="toy", config=cfg, epochs=2, progress=False)
    assert h2 == h1
    assert torch.equal(m1[1].weight, m2[1].weight)
    assert checkpoint_path("toy", {"a": 1}) != checkpoint_path("toy", {"a": 2})
    with pytest.raises(ValueError, match="file name"):
        checkpoint_path("a/b", {})
