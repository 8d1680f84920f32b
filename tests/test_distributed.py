"""``fit`` under DistributedDataParallel: two CPU ranks (gloo) train exactly as one process on the same global batch.

The reference is the single-process run: same seed, same global batch of 16, same optimizer steps. With the
loader's shards (every 2nd sample of each batch) and DDP's gradient averaging, the two ranks' weights must equal
the single process's to float tolerance, and their History (totals summed over the ranks) its History.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from course_lib.data import DeviceLoader
from course_lib.engine import distributed as ddp
from course_lib.engine import fit, fit_or_load


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(100, 1, 6, 6, generator=g), torch.randint(0, 3, (100,), generator=g)


def _train(name: str | None = None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    x, y = _data()
    loader = DeviceLoader(x, y, batch_size=16, seed=0)  # 100 = 6 x 16 + 4: a last, smaller batch too
    kwargs = dict(epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9), progress=False)
    if name is None:
        history = fit(model, loader, DeviceLoader(x, y, 50, shuffle=False), **kwargs)
    else:
        history = fit_or_load(model, loader, name=name, **kwargs)
    return model, history


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), COURSE_CHECKPOINT_DIR=os.path.join(out, "ckpt"))  # fmt: skip
    torch.set_num_threads(1)
    try:
        model, history = _train()
        assert dist.is_initialized() and dist.get_world_size() == world, "fit joined torchrun's process group"
        torch.save({"state": model.state_dict(), "loss": history.train_loss, "acc": history.train_metric,
                    "val": history.val_metric, "samples": history.samples}, os.path.join(out, f"rank{rank}.pt"))  # fmt: skip
        _train(name="ddp_test")  # fit_or_load: rank 0 saves, the others wait for it
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loader_shards_cover_each_batch_once():
    x, y = torch.arange(23).float().view(23, 1), torch.arange(23)
    whole = DeviceLoader(x, y, batch_size=8, seed=3)
    shards = [DeviceLoader(x, y, batch_size=8, seed=3).shard(r, 3) for r in range(3)]
    assert len(whole) == 3 and all(len(s) == 3 for s in shards)  # the last batch (7 samples) >= 3 ranks: kept
    for batch, *parts in zip(whole, *shards, strict=True):
        assert sorted(torch.cat([p[1] for p in parts]).tolist()) == sorted(batch[1].tolist())
    assert len(DeviceLoader(x, y, batch_size=11).shard(0, 3)) == 2  # a last batch of 1 < 3 ranks is dropped
    with pytest.raises(ValueError, match="rank"):
        whole.shard(3, 3)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(x, y, batch_size=2).shard(0, 3)


def test_outside_torchrun_nothing_changes():
    assert ddp.world_size() == 1 and ddp.rank() == 0 and ddp.is_main()
    assert not ddp.setup(torch.device("cpu"))
    model = nn.Linear(2, 2)
    assert ddp.wrap(model, torch.device("cpu")) is model
    t = torch.tensor([1.0, 2.0])
    assert torch.equal(ddp.all_reduce_sum(t), t)


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo needed")
def test_two_ranks_train_like_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    reference, history = _train()
    runs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for run in runs:
        for key, value in reference.state_dict().items():
            torch.testing.assert_close(run["state"][key], value, rtol=1e-5, atol=1e-6)
        assert run["samples"] == history.samples  # every sample once per epoch, across the ranks
        assert run["loss"] == pytest.approx(history.train_loss, rel=1e-5)
        assert run["acc"] == pytest.approx(history.train_metric, rel=1e-6)
        assert run["val"] == pytest.approx(history.val_metric, rel=1e-6)
    assert len(list((tmp_path / "ckpt").rglob("*.pt"))) == 1, "one checkpoint, written by rank 0"


PRETRAIN_CELLS = [
    "%matplotlib inline\nimport os, pathlib, torch\nfrom torch import nn\n"
    "from course_lib import fit_or_load, seed_everything\nfrom course_lib.data import DeviceLoader\n"
    "from course_lib.engine import distributed\nseed_everything(0)",
    "x, y = torch.randn(64, 5), torch.randint(0, 2, (64,))\nmodel = nn.Linear(5, 2)\n"
    "h = fit_or_load(model, DeviceLoader(x, y, 16, seed=0), name='pretrain_test', epochs=2, progress=False)",
    "raise RuntimeError('a claim that fails at this scale')",
    "if distributed.is_main():\n"
    "    pathlib.Path(os.environ['MARKER']).write_text(f'{distributed.world_size()} {h.samples}')",
]


def test_pretrain_runs_a_notebook_under_torchrun_and_its_checkpoints_reload(tmp_path, monkeypatch):
    """``torchrun -m course_lib.tools.pretrain``: every cell runs on every rank (a failed one is reported and
    skipped), rank 0 saves the checkpoint; then the same notebook in one process loads it instead of training."""
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in PRETRAIN_CELLS])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    env = {**os.environ, "COURSE_CHECKPOINT_DIR": str(tmp_path / "ckpt"), "MARKER": str(tmp_path / "marker"),
           "OMP_NUM_THREADS": "1", "COURSE_PROGRESS": "0"}  # fmt: skip
    env.pop("COURSE_DRY_RUN", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port", str(_free_port()),
           "-m", "course_lib.tools.pretrain", str(path), "--profile", "fast"]  # fmt: skip
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "1 failed cell(s)" in run.stdout, run.stdout + run.stderr
    assert (tmp_path / "marker").read_text() == "2 [64, 64]", "the cells after the failed one ran, on 2 ranks"
    saved = list((tmp_path / "ckpt").rglob("*.pt"))
    assert len(saved) == 1
    stamp = saved[0].stat().st_mtime_ns
    from course_lib.tools.pretrain import main

    for key in ("COURSE_CHECKPOINT_DIR", "MARKER"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("COURSE_PROFILE", "fast")  # main() sets it; monkeypatch restores it
    assert main([str(path), "--profile", "fast"]) == 1
    assert saved[0].stat().st_mtime_ns == stamp, "one process reloads the checkpoint: nothing retrained"
    assert (tmp_path / "marker").read_text() == "1 [64, 64]"
