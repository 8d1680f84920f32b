"""The one training loop: fit (epochs, steps, per-step records, clipping, scheduler, early stop, dry run) against a
hand-written reference loop; evaluate/predict; metrics; eval_mode; extract_features; checkpoints and fit_or_load's key."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import History, evaluate, fit, fit_or_load, predict, seed_everything
from course_lib.config import DRY_RUN_STEPS
from course_lib.data import DeviceLoader
from course_lib.engine import (
    accuracy_counts,
    checkpoint_path,
    eval_mode,
    extract_features,
    fit_key,
    load_checkpoint,
    running_mean,
    save_checkpoint,
    train_mode,
    train_step,
)
from course_lib.engine import checkpoints as checkpoints_module
from course_lib.engine import loop as loop_module
from course_lib.metrics import ErrorCurve, iterations_to_target
from course_lib.models import MLP, SMALL, AlexNet, LeNet5, SmallCNN

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _toy(n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return x, y


# --- fit against a hand-written reference loop -------------------------------------------------------------------


def _mlp(device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double().to(device)


def _batches(device):
    """A fixed batch sequence (float64), the last batch smaller: the epoch means must weight by batch size."""
    g = torch.Generator().manual_seed(1)
    sizes = [5, 5, 5, 3]
    return [
        (
            torch.randn(n, 6, generator=g, dtype=torch.float64).to(device),
            torch.randint(0, 3, (n,), generator=g).to(device),
        )
        for n in sizes
    ]


def _reference(model, batches, n_steps, optimizer, scheduler=None, clip=None):
    """The textbook loop, written out: per-step (loss, accuracy)."""
    records = []
    for i in range(n_steps):
        x, y = batches[i % len(batches)]
        out = model(x)
        loss = F.cross_entropy(out, y)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        records.append((float(loss.detach()), float((out.argmax(1) == y).double().mean()), len(y)))
    return records


MODES = {
    "epochs": dict(epochs=3),
    "steps": dict(steps=7),
    "record_steps": dict(steps=6, record_steps=True),
    "clip": dict(epochs=2, clip_grad_norm=0.05),
    "scheduler": dict(epochs=2, scheduler=lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 0.3, total_steps=n)),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_fit_equals_the_reference_loop(mode, device):
    kwargs = dict(MODES[mode])
    batches = _batches(device)
    n_steps = kwargs.get("steps") or kwargs["epochs"] * len(batches)

    ref_model = _mlp(device)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=0.9)
    ref_sched = kwargs["scheduler"](ref_opt, n_steps) if "scheduler" in kwargs else None
    records = _reference(ref_model, batches, n_steps, ref_opt, ref_sched, kwargs.get("clip_grad_norm"))

    model = _mlp(device)
    h = fit(
        model,
        batches,
        batches,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        progress=False,
        **kwargs,
    )
    for a, b in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # rows: one per pass over the batches, the last one partial in steps mode
    rows = [len(batches)] * (n_steps // len(batches)) + ([n_steps % len(batches)] if n_steps % len(batches) else [])
    assert h.steps == rows and h.total_steps == n_steps and h.epoch == list(range(1, len(rows) + 1))
    lo = 0
    for r, n in enumerate(rows):
        part = records[lo : lo + n]
        seen = sum(k for *_, k in part)
        assert h.samples[r] == seen
        assert h.train_loss[r] == pytest.approx(sum(loss * k for loss, _, k in part) / seen, rel=1e-12)
        assert h.train_metric[r] == pytest.approx(sum(acc * k for _, acc, k in part) / seen, rel=1e-12)
        lo += n
    assert (h.val_loss[-1], h.val_metric[-1]) == pytest.approx(evaluate(model, batches), rel=1e-12)
    if kwargs.get("record_steps"):
        assert h.step_loss == pytest.approx([loss for loss, *_ in records], rel=1e-12)
        assert h.step_metric == pytest.approx([acc for _, acc, _ in records], rel=1e-12)
    else:
        assert h.step_loss == [] and h.step_metric == []


def test_train_step_is_one_optimizer_step_and_does_not_sync():
    model = _mlp("cpu")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    (x, y), *_ = _batches("cpu")
    loss, out = train_step(model, x, y, opt)
    assert loss.dim() == 0 and not loss.requires_grad and out.shape == (5, 3) and not out.requires_grad


def test_fit_steps_makes_exactly_the_asked_number_of_steps(device):
    m = nn.Linear(4, 2).to(device)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    loader = DeviceLoader(
        torch.rand(10, 4), torch.randint(0, 2, (10,)), 4, drop_last=True, device=device
    )  # 2 batches/pass
    h = fit(m, loader, steps=7, optimizer=opt, progress=False)
    assert len(calls) == 7 and h.steps == [2, 2, 2, 1]
    with pytest.raises(ValueError, match="steps"):
        fit(m, loader, steps=0)
    with pytest.raises(ValueError, match="exactly one"):
        fit(m, loader, epochs=1, steps=3)
    with pytest.raises(ValueError, match="exactly one"):
        fit(m, loader)


def test_early_stop_on_the_running_error_and_iterations_to_target(device):
    torch.manual_seed(0)
    x = torch.randn(64, 1, 12, 12)
    y = (x.mean((1, 2, 3)) > 0).long()  # a learnable rule

    def run(**kw):
        loader = DeviceLoader(x, y, 16, device=device, seed=0)  # 4 batches per pass
        torch.manual_seed(0)
        model = SmallCNN("relu", channels=(4, 8, 8), input_size=12)
        opt = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)
        kw.setdefault("record_steps", True)
        return fit(model, loader, steps=kw.pop("steps"), optimizer=opt, device=device, progress=False, **kw)

    h = run(steps=30)
    curve = ErrorCurve.from_history(h)
    assert len(curve.errors) == 30 == h.total_steps and curve.total_seconds > 0
    assert curve.seconds_to(15) == pytest.approx(curve.total_seconds / 2) and curve.seconds_to(None) is None
    assert all(0.0 <= e <= 1.0 for e in curve.errors)
    assert sum(curve.errors[-8:]) < sum(curve.errors[:8])  # it learns
    early = run(steps=120, stop_below=0.3, window=8, check_every=4)
    hit = iterations_to_target(early, 0.3, window=8)
    assert hit is not None and early.total_steps < 120 and hit <= early.total_steps < hit + 4
    assert early.total_steps % 4 == 0 and len(early.step_metric) == early.total_steps
    assert iterations_to_target(ErrorCurve.from_history(early), 0.3, window=8) == hit
    # the same run up to the stop, without a stop: the same records (stopping changes nothing before it)
    same = run(steps=early.total_steps)
    assert same.step_loss == early.step_loss
    unrecorded = run(
        steps=120, stop_below=0.3, window=8, check_every=4, record_steps=False
    )  # keeps only `window` steps
    assert unrecorded.total_steps == early.total_steps and unrecorded.step_metric == []
    loss_stop = run(steps=120, stop_below=0.5, stop_on="loss", window=8, check_every=4)
    assert loss_stop.total_steps < 120
    with pytest.raises(ValueError, match="stop_on"):
        run(steps=4, stop_below=0.1, stop_on="accuracy")


def test_early_stop_on_the_error_needs_a_metric():
    x, yb = torch.randn(32, 5), (torch.rand(32, 3) > 0.5).float()
    with pytest.raises(ValueError, match="stop_on='loss'"):
        fit(
            nn.Linear(5, 3),
            DeviceLoader(x, yb, 8),
            steps=20,
            loss_fn=F.binary_cross_entropy_with_logits,
            stop_below=0.1,
            check_every=2,
            progress=False,
        )


def test_an_empty_loader_raises(device):
    class Empty:  # no len(): found out while iterating
        def __iter__(self):
            return iter(())

    model = nn.Linear(4, 2).to(device)
    for train in ([], Empty()):
        with pytest.raises(ValueError, match="no batch"):
            fit(model, train, epochs=1, progress=False)
        with pytest.raises(ValueError, match="no batch"):
            fit(model, train, steps=5, progress=False)
    with pytest.raises(ValueError, match="no batch"):
        evaluate(model, [])
    with pytest.raises(ValueError, match="scheduler"):
        fit(model, Empty(), epochs=1, scheduler=lambda opt, n: torch.optim.lr_scheduler.StepLR(opt, 1))


def test_the_host_fetches_the_sums_once_per_epoch(monkeypatch):
    calls = []
    fetch = loop_module.DeviceTotals.fetch
    monkeypatch.setattr(loop_module.DeviceTotals, "fetch", lambda self: calls.append(1) or fetch(self))
    x, y = _toy(96)
    fit(MLP(hidden=(8,)), DeviceLoader(x, y, 8), epochs=3, progress=True)  # 12 batches per epoch, bar on
    assert len(calls) == 3


# --- metrics ------------------------------------------------------------------------------------------------------


def test_no_metric_for_multilabel_targets_is_nan_never_zero(device):
    torch.manual_seed(0)
    x, yb = torch.randn(40, 5), (torch.rand(40, 3) > 0.5).float()
    loader = DeviceLoader(x, yb, 8, device=device)
    h = fit(
        nn.Linear(5, 3).to(device),
        loader,
        loader,
        epochs=2,
        loss_fn=F.binary_cross_entropy_with_logits,
        record_steps=True,
        progress=False,
    )
    assert all(math.isnan(v) for v in h.train_metric + h.val_metric + h.step_metric)
    assert all(math.isfinite(v) for v in h.train_loss + h.val_loss + h.step_loss)
    assert accuracy_counts(torch.randn(4, 3), torch.rand(4)) is None  # float targets
    assert accuracy_counts(torch.randn(4, 3, 2, 2), torch.randint(0, 3, (4, 2, 2))) is None  # per-pixel: pass a metric
    assert accuracy_counts(torch.randn(4, 3), torch.tensor([True, False, True, True])) is None


def test_a_pluggable_metric_is_used_by_fit_and_evaluate(device):
    def multilabel_accuracy(out, y):  # share of correct (sample, label) decisions
        return ((out > 0) == (y > 0.5)).sum(), y.numel()

    torch.manual_seed(0)
    x, yb = torch.randn(40, 5), (torch.rand(40, 3) > 0.5).float()
    loader = DeviceLoader(x, yb, 40, shuffle=False, device=device)
    model = nn.Linear(5, 3).to(device)
    h = fit(
        model,
        loader,
        loader,
        epochs=1,
        loss_fn=F.binary_cross_entropy_with_logits,
        metric=multilabel_accuracy,
        progress=False,
    )
    out = predict(model, x.to(device))
    expected = float(((out > 0) == (yb.to(device) > 0.5)).float().mean())
    assert h.val_metric[0] == pytest.approx(expected) and h.metric_name == "multilabel_accuracy"
    assert (
        evaluate(model, loader, loss_fn=F.binary_cross_entropy_with_logits, metric=multilabel_accuracy)[1]
        == h.val_metric[0]
    )
    assert 0 <= h.train_metric[0] <= 1 and h.train_acc is h.train_metric  # train_acc/val_acc read the metric

    def pixel_accuracy(out, y):  # (B, C, H, W) logits, (B, H, W) class map; a tensor count
        return (out.argmax(1) == y).sum(), torch.tensor(y.numel(), device=y.device)

    xs, ys = torch.randn(6, 2, 4, 4), torch.randint(0, 3, (6, 4, 4))
    seg = nn.Conv2d(2, 3, 1).to(device)
    _, acc = evaluate(seg, [(xs, ys)], metric=pixel_accuracy)
    assert acc == pytest.approx(float((predict(seg, xs.to(device)).argmax(1).cpu() == ys).float().mean()))


def test_evaluate_and_predict_agree(device):
    x, y = _toy(50)
    model = MLP(hidden=(16,)).to(device)
    loss, acc = evaluate(model, DeviceLoader(x, y, 7, shuffle=False, device=device))
    logits = predict(model, x.to(device), batch_size=9)
    assert logits.shape == (50, 10)
    assert acc == pytest.approx(float((logits.argmax(1).cpu() == y).float().mean()))
    assert loss == pytest.approx(float(F.cross_entropy(logits.cpu(), y)), rel=1e-5)


# --- eval_mode and hooks ------------------------------------------------------------------------------------------


def test_eval_mode_restores_every_modules_mode_even_on_exception():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout(0.5)).train()
    model[1].eval()  # a frozen BatchNorm inside a training model
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model) as m:
        assert m is model and not any(mod.training for mod in model.modules())
        raise RuntimeError("boom")
    assert [mod.training for mod in model.modules()] == [True, True, False, True]
    with eval_mode(model.eval()):
        pass
    assert not model.training
    with pytest.raises(RuntimeError, match="boom"), train_mode(model) as m:  # the reverse: sample dropout at test time
        assert m is model and all(mod.training for mod in model.modules())
        raise RuntimeError("boom")
    assert not any(mod.training for mod in model.modules())


def test_evaluate_predict_and_extract_features_restore_the_mode_on_exception():
    class Fails(nn.Module):
        def forward(self, x):
            raise RuntimeError("forward failed")

    model = nn.Sequential(nn.Linear(2, 2), Fails()).train()
    for call in (
        lambda: evaluate(model, [(torch.rand(2, 2), torch.tensor([0, 1]))]),
        lambda: predict(model, torch.rand(2, 2)),
        lambda: extract_features(model, torch.rand(2, 2), "0"),
    ):
        with pytest.raises(RuntimeError, match="forward failed"):
            call()
        assert all(m.training for m in model.modules())
        assert not model[0]._forward_hooks


def test_extract_features_returns_copies_not_views_overwritten_by_an_inplace_relu(device):
    torch.manual_seed(0)
    model = AlexNet(SMALL, num_classes=10, in_channels=1, input_size=40).to(device)
    assert isinstance(model.features.relu1, nn.ReLU) and model.features.relu1.inplace  # what follows conv1
    x = torch.randn(5, 1, 40, 40, device=device)
    feats = extract_features(model, x, ["features.conv1", "features.relu1"], batch_size=2, flatten=False)
    with torch.no_grad():
        expected = model.features.conv1(x)
    assert (feats["features.conv1"] < 0).any()  # the negative responses survive the in-place ReLU
    torch.testing.assert_close(feats["features.conv1"], expected)
    torch.testing.assert_close(feats["features.relu1"], expected.clamp_min(0))


# --- dry run ------------------------------------------------------------------------------------------------------


def test_dry_run_caps_every_fit_and_fit_or_load_never_caches(monkeypatch, tmp_checkpoints):
    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    x, y = _toy(64)
    loader, val = DeviceLoader(x, y, 8), DeviceLoader(x, y, 32, shuffle=False)
    model = MLP(hidden=(8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    for kwargs in (dict(epochs=5), dict(steps=50), dict(steps=50, record_steps=True, stop_below=0.0, check_every=1)):
        calls.clear()
        h = fit(model, loader, val, optimizer=opt, progress=False, **kwargs)
        assert len(calls) == DRY_RUN_STEPS == h.total_steps and len(h) == 1
        assert h.samples == [8 * DRY_RUN_STEPS] and math.isfinite(h.val_metric[0]) and math.isfinite(h.train_loss[0])
    # fit_or_load trains (capped) and neither writes nor reads a checkpoint
    h = fit_or_load(MLP(hidden=(8,)), loader, val, name="dry", epochs=3, progress=False)
    assert h.total_steps == DRY_RUN_STEPS and not list(tmp_checkpoints.glob("*.pt"))
    monkeypatch.delenv("COURSE_DRY_RUN")
    fit_or_load(MLP(hidden=(8,)), loader, val, name="dry", epochs=1, progress=False)
    assert len(list(tmp_checkpoints.glob("dry-*.pt"))) == 1
    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    assert fit_or_load(MLP(hidden=(8,)), loader, val, name="dry", epochs=1, progress=False).total_steps == DRY_RUN_STEPS


# --- history, checkpoints, fit_or_load -----------------------------------------------------------------------------


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
    loader = DeviceLoader(x, y, 4)
    for kwargs, match in [
        (dict(epochs=0), "epochs"),
        (dict(epochs=1, clip_grad_norm=0.0), "clip_grad_norm"),
        (dict(epochs=1, window=0), "window"),
    ]:
        with pytest.raises(ValueError, match=match):
            fit(MLP(), loader, **kwargs)


def test_scheduler_gets_the_total_number_of_steps():
    x, y = _toy(40)
    seen = []

    def sched(opt, total):
        seen.append(total)
        return torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=total)

    fit(MLP(hidden=(8,)), DeviceLoader(x, y, 10), epochs=2, scheduler=sched, progress=False)
    fit(MLP(hidden=(8,)), DeviceLoader(x, y, 10), steps=11, scheduler=sched, progress=False)
    assert seen == [8, 11]


def test_checkpoint_round_trip(tmp_checkpoints):
    seed_everything(0)
    x, y = _toy(32)
    model = MLP(hidden=(8,))
    h = fit(model, DeviceLoader(x, y, 8), DeviceLoader(x, y, 8), steps=6, record_steps=True, progress=False)
    path = save_checkpoint(tmp_checkpoints / "m.pt", model, h, {"lr": 1e-3})
    clone = MLP(hidden=(8,))
    h2 = load_checkpoint(path, clone)
    assert h2 == h and len(h2.step_loss) == 6
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        assert torch.equal(a, b)
    # the payload holds only tensors and plain containers: loadable with weights_only=True
    assert set(torch.load(path, weights_only=True)) == {"model", "history", "config", "rng"}
    old = {**h.to_dict(), "train_acc": h.train_metric, "val_acc": h.val_metric}  # a History saved with the old names
    del old["train_metric"], old["val_metric"]
    assert History.from_dict(old) == h


def test_fit_or_load_trains_once_then_loads_and_retrains_when_an_argument_changes(tmp_checkpoints, monkeypatch):
    x, y = _toy(32)
    val = DeviceLoader(x, y, 8, shuffle=False)
    trained = []
    real_fit = checkpoints_module.fit
    monkeypatch.setattr(checkpoints_module, "fit", lambda *a, **k: trained.append(1) or real_fit(*a, **k))

    def run(**kwargs):
        seed_everything(0)
        model = MLP(hidden=(8,))
        train = DeviceLoader(x, y, 8, seed=0)  # a new loader: the same order (a used one has moved on)
        return model, fit_or_load(model, train, val, name="toy", config={"seed": 0}, progress=False, **kwargs)

    m1, h1 = run(epochs=2, lr=1e-3)
    assert len(trained) == 1 and len(list(tmp_checkpoints.glob("toy-*.pt"))) == 1
    m2, h2 = run(epochs=2, lr=1e-3, desc="another label", device="cpu")  # same result-changing arguments: loaded
    assert len(trained) == 1 and h2 == h1 and torch.equal(m1[1].weight, m2[1].weight)
    run(epochs=3, lr=1e-3)  # epochs changed
    run(epochs=2, lr=2e-3)  # lr changed
    run(steps=8, lr=1e-3)  # a step budget instead
    assert len(trained) == 4 and len(list(tmp_checkpoints.glob("toy-*.pt"))) == 4
    assert checkpoint_path("toy", {"a": 1}) != checkpoint_path("toy", {"a": 2})
    with pytest.raises(ValueError, match="file name"):
        checkpoint_path("a/b", {})


def test_fit_key_holds_every_result_changing_argument():
    x, y = _toy(32)
    train = DeviceLoader(x, y, 8)
    m = MLP(hidden=(8,))
    base = fit_key(train, epochs=2)
    assert fit_key(train, epochs=2, device="cpu", progress=False, desc="x") == base

    def one_cycle(opt, n):
        return torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=n)

    variants = [
        dict(epochs=3),
        dict(steps=2),
        dict(epochs=2, lr=1e-2),
        dict(epochs=2, amp=True),
        dict(epochs=2, channels_last=True),
        dict(epochs=2, clip_grad_norm=1.0),
        dict(epochs=2, record_steps=True),
        dict(epochs=2, stop_below=0.1),
        dict(epochs=2, loss_fn=F.nll_loss),
        dict(epochs=2, metric=lambda o, t: None),
        dict(epochs=2, scheduler=one_cycle),
        dict(epochs=2, optimizer=torch.optim.SGD(m.parameters(), lr=1e-3)),
        dict(epochs=2, optimizer=torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-4)),
    ]
    keys = [config_json(fit_key(train, **v)) for v in variants]
    assert config_json(base) not in keys and len(set(keys)) == len(keys)
    # optimizers: class and every group's hyper-parameters
    adam = lambda **kw: fit_key(train, epochs=2, optimizer=torch.optim.Adam(m.parameters(), **kw))
    assert config_json(adam(lr=1e-3)) == config_json(adam(lr=1e-3)) != config_json(adam(lr=1e-3, betas=(0.8, 0.99)))
    # a lambda scheduler's constants count; the loaders' sizes too
    s1 = fit_key(train, epochs=2, scheduler=lambda o, n: torch.optim.lr_scheduler.OneCycleLR(o, 1e-2, total_steps=n))
    s2 = fit_key(train, epochs=2, scheduler=lambda o, n: torch.optim.lr_scheduler.OneCycleLR(o, 2e-2, total_steps=n))
    assert config_json(s1) != config_json(s2)
    assert config_json(fit_key(DeviceLoader(x, y, 16), epochs=2)) != config_json(base)
    assert config_json(fit_key(DeviceLoader(x[:16], y[:16], 8), epochs=2)) != config_json(base)
    assert config_json(fit_key(train, DeviceLoader(x, y, 4), epochs=2)) != config_json(base)
    with pytest.raises(TypeError, match="unexpected"):
        fit_key(train, epoch=2)


def config_json(key) -> str:
    import json

    return json.dumps(key, sort_keys=True, default=str)


# --- CUDA only: mixed precision, channels_last, no per-batch sync ---------------------------------------------------


def _sgd_steps_on_cuda(make_model, x, y, steps: int = 6, **fit_kwargs):
    """``steps`` SGD steps (lr 0.05, momentum 0.9, batches of 32) of a freshly seeded model on CUDA: (model, History).
    Two calls that differ only in ``fit_kwargs`` see the same initial weights and batches."""
    seed_everything(0)
    model = make_model().cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DeviceLoader(x, y, 32, device="cuda", seed=0)
    return model, fit(model, loader, steps=steps, optimizer=opt, progress=False, **fit_kwargs)


@pytest.mark.cuda
@needs_cuda
def test_amp_trains_on_cuda():
    seed_everything(0)
    x, y = _toy(256)
    loader = DeviceLoader(x, y, 64, device="cuda", seed=0)
    model = LeNet5("modern").cuda()
    h = fit(model, loader, loader, epochs=8, lr=3e-3, amp=True, clip_grad_norm=5.0, progress=False)
    assert all(math.isfinite(v) for v in h.train_loss) and h.train_loss[-1] < h.train_loss[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast keeps float32 master weights


@pytest.mark.cuda
@needs_cuda
def test_fp16_with_grad_scaler_follows_fp32_on_cuda(monkeypatch):
    """The fp16 + GradScaler path (CUDA without bf16) never runs on a bf16-capable GPU: force it, and compare a few
    steps with fp32 (same seed, data and optimizer)."""
    from course_lib.engine import devices

    x, y = _toy(192)
    x = 0.25 * x  # small inputs: the scaled fp16 weight gradients stay far below 65504 at the initial scale 2**16
    scalers, dtypes = [], []

    def metric(out, t):
        dtypes.append(out.dtype)
        return accuracy_counts(out, t)

    def run(amp: bool):
        return _sgd_steps_on_cuda(lambda: MLP(hidden=(64,)), x, y, amp=amp, metric=metric, record_steps=True)

    ref, h_ref = run(False)
    assert set(dtypes) == {torch.float32}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # as on a pre-Ampere GPU
    real_scaler = devices.grad_scaler
    monkeypatch.setattr(loop_module, "grad_scaler", lambda d, a: scalers.append(real_scaler(d, a)) or scalers[-1])
    dtypes.clear()
    fp16, h16 = run(True)
    assert set(dtypes) == {torch.float16}, "autocast ran in fp16"
    assert len(scalers) == 1 and isinstance(scalers[0], torch.amp.GradScaler), "fit made a GradScaler"
    assert scalers[0].get_scale() == 2.0**16, "no step was skipped for an overflow: every step was applied"
    assert h16.step_loss == pytest.approx(h_ref.step_loss, rel=2e-2, abs=2e-3)
    for p, q in zip(fp16.parameters(), ref.parameters()):
        assert p.dtype == torch.float32  # float32 master weights
        torch.testing.assert_close(p, q, rtol=2e-2, atol=2e-3)


@pytest.mark.cuda
@needs_cuda
def test_channels_last_matches_the_default_layout_on_cuda():
    x, y = _toy(128)

    (a, _), (b, _) = (_sgd_steps_on_cuda(lambda: LeNet5("modern"), x, y, channels_last=c) for c in (False, True))
    conv = next(m for m in b.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    for p, q in zip(a.parameters(), b.parameters()):  # cuDNN picks other algorithms (and TF32) for NHWC
        torch.testing.assert_close(p, q, rtol=1e-2, atol=1e-3)


@pytest.mark.cuda
@needs_cuda
def test_fit_does_not_sync_per_batch_on_cuda():
    import warnings

    x, y = _toy(640)
    loader = DeviceLoader(x, y, 16, device="cuda", shuffle=False)  # 40 batches per epoch
    model = MLP(hidden=(32,)).cuda()
    fit(model, loader, steps=2, progress=False)  # warm-up
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit(model, loader, epochs=2, record_steps=True, progress=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    # per epoch: synchronize() before and after the timed pass and one fetch of the sums; then the step records
    assert len(syncs) < 20, [str(w.message) for w in syncs]  # a few per epoch, never one per batch (80 batches)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_running_mean_and_iterations_to_target_match_a_naive_loop(window):
    g = torch.Generator().manual_seed(window)
    errors = torch.rand(40, generator=g, dtype=torch.float64).sort(descending=True).values
    naive = torch.tensor([float(errors[max(0, i - window + 1) : i + 1].mean()) for i in range(40)], dtype=torch.float64)
    assert torch.allclose(running_mean(errors, window), naive)
    target = float(naive[24] + naive[25]) / 2  # between two values: no tie to break by rounding
    first = next(i + 1 for i in range(40) if naive[i] <= target)
    assert iterations_to_target(ErrorCurve(errors.tolist()), target, window) == first
    assert iterations_to_target(errors, -1.0, window) is None
    with pytest.raises(ValueError, match="window"):
        running_mean(errors, 0)


def test_step_records_are_preallocated_and_early_stop_reads_a_view():
    """``record_steps``: one preallocated device buffer (doubled when full), not a 0-d tensor per step; early stop
    reads a view of the last ``window`` steps, so each check costs O(window) whatever the number of steps so far."""
    from course_lib.engine.records import StepRecords

    g = torch.Generator().manual_seed(0)
    values = torch.rand(2, 300, generator=g, dtype=torch.float64)
    every = StepRecords(torch.device("cpu"), torch.float64, capacity=16)
    window = StepRecords(torch.device("cpu"), torch.float64, capacity=10_000, keep=7)
    assert window.values.shape[1] == 64, "early stop alone keeps only a few windows, whatever the step budget"
    for i in range(300):
        every.append(values[0, i], values[1, i])
        window.append(values[0, i], values[1, i])
        for records in (every, window):
            recent = records.last(7, 1)
            torch.testing.assert_close(recent, values[1, max(0, i - 6) : i + 1])
            assert recent.untyped_storage().data_ptr() == records.values.untyped_storage().data_ptr()  # no copy
    assert every.values.shape[1] == 512 and len(every) == 300, "16 doubled five times"
    assert window.values.shape[1] == 64 and len(window) <= 64 and window.seen == 300
    losses, metrics = every.tolist()
    assert losses == values[0].tolist() and metrics == values[1].tolist()
    with pytest.raises(ValueError, match="keep must be >= 1"):
        StepRecords(torch.device("cpu"), torch.float64, keep=0)


def test_fit_preallocates_its_step_budget_and_checks_in_linear_time(monkeypatch):
    """fit(steps=n, record_steps=True) allocates its n steps once; no torch.stack of the step list at a check."""
    from course_lib.engine import records as records_module

    made = []

    class Spy(records_module.StepRecords):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(loop_module, "StepRecords", Spy)
    stacked = []
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda ts, *a, **k: stacked.append(len(ts)) or real_stack(ts, *a, **k))
    x, y = _toy(64)
    h = fit(MLP(hidden=(8,)), DeviceLoader(x, y, 8), steps=40, record_steps=True, stop_below=-1.0, check_every=2)
    assert len(made) == 1 and made[0].values.shape[1] == 40 and len(h.step_loss) == 40
    assert max(stacked, default=0) < 40, "nothing stacks the whole record"
