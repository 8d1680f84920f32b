"""course_lib/engine/schedules.py: the one-cycle factory is torch's OneCycleLR, and its arguments key checkpoints."""

import pytest
import torch
from torch import nn

from course_lib.engine import callable_key, one_cycle


def test_one_cycle_is_torchs_schedule():
    model = nn.Linear(2, 2)
    ours = one_cycle(0.1, pct_start=0.2)(torch.optim.SGD(model.parameters(), lr=1.0), 50)
    ref_opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=1.0)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, 0.1, total_steps=50, pct_start=0.2)
    lrs = []
    for _ in range(49):
        ours.optimizer.step(), ours.step(), ref_opt.step(), ref.step()
        lrs.append((ours.get_last_lr()[0], ref.get_last_lr()[0]))
    assert all(a == pytest.approx(b, rel=1e-12) for a, b in lrs)
    assert max(a for a, _ in lrs) == pytest.approx(0.1, rel=1e-3)


def test_its_arguments_key_the_checkpoint():
    assert callable_key(one_cycle(0.1)) == callable_key(one_cycle(0.1))
    assert callable_key(one_cycle(0.1)) != callable_key(one_cycle(0.2))
    assert callable_key(one_cycle(0.1)) != callable_key(one_cycle(0.1, pct_start=0.1))


def test_one_rate_per_parameter_group():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = torch.optim.Adam([{"params": a.parameters()}, {"params": b.parameters()}], lr=1.0)
    schedule = one_cycle([0.1, 0.01], pct_start=0.5)(opt, 10)
    peaks = [0.0, 0.0]
    for _ in range(9):
        opt.step(), schedule.step()
        peaks = [max(p, r) for p, r in zip(peaks, schedule.get_last_lr())]
    assert peaks == pytest.approx([0.1, 0.01], rel=1e-3)  # each group peaks at its own rate


def test_bad_max_lr_is_refused():
    for bad in (0.0, [0.1, -1.0], []):
        with pytest.raises(ValueError, match="max_lr must be > 0"):
            one_cycle(bad)


def test_no_metric_records_nan():
    from course_lib.data import DeviceLoader
    from course_lib.engine import fit, no_metric

    x = torch.randn(16, 2)
    h = fit(
        nn.Linear(2, 1),
        DeviceLoader(x, x.sum(1, keepdim=True), 8),
        epochs=1,
        loss_fn=nn.functional.mse_loss,
        metric=no_metric,
        progress=False,
    )
    assert h.train_metric[0] != h.train_metric[0]  # NaN: no metric applies, never a silent 0
