"""``fit`` under DistributedDataParallel: two CPU ranks (gloo) train exactly as one process on the same global batch.

The reference is the single-process run: same seed, same global batch, same optimizer steps. With the loader's
shards (every 2nd sample of each batch), the loss weights of uneven shares (a batch of 15 on 2 ranks: 8 and 7
samples; a last batch of 1: one rank trains a stand-in with weight 0) and DDP's gradient averaging, the two
ranks' weights must equal the single process's to float tolerance, and their History (totals summed over the
ranks) its History.
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

# (samples, global batch): 100 = 6 x 16 + 4 splits evenly on 2 ranks; 97 = 6 x 15 + 7: every batch uneven (8 and 7,
# then 4 and 3); 91 = 6 x 15 + 1: a last batch smaller than the 2 ranks (rank 1 trains a stand-in with weight 0)
SIZES = [(100, 16), (97, 15), (91, 15)]


def _data(n: int = 100):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 6, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def _train(name: str | None = None, n: int = 100, batch_size: int = 16):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    x, y = _data(n)
    loader = DeviceLoader(x, y, batch_size=batch_size, seed=0)
    kwargs = dict(epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9), progress=False)
    if name is None:
        history = fit(model, loader, DeviceLoader(x, y, 50, shuffle=False), **kwargs)
    else:
        history = fit_or_load(model, loader, name=name, **kwargs)
    return model, history


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        COURSE_CHECKPOINT_DIR=os.path.join(out, "ckpt"),
    )
    torch.set_num_threads(1)
    try:
        decided = ddp.broadcast_object({"rank": rank, "load": rank == 0})  # before any fit: joins the group itself
        assert dist.is_initialized() and dist.get_world_size() == world, "broadcast_object joined the process group"
        for n, batch_size in SIZES:
            model, history = _train(n=n, batch_size=batch_size)
            torch.save(
                {
                    "state": model.state_dict(),
                    "loss": history.train_loss,
                    "acc": history.train_metric,
                    "val": history.val_metric,
                    "samples": history.samples,
                    "steps": history.steps,
                    "decided": decided,
                },
                os.path.join(out, f"rank{rank}_{n}.pt"),
            )
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
    assert len(whole) == 3 and all(len(s) == 3 for s in shards)
    for b, (batch, *parts) in enumerate(zip(whole, *shards, strict=True)):
        assert sorted(torch.cat([p[1] for p in parts]).tolist()) == sorted(batch[1].tolist())
        assert [s.share_sizes(b) for s in shards] == [(len(p[1]), len(batch[1])) for p in parts]
    assert [s.share_sizes(2) for s in shards] == [(3, 7), (2, 7), (2, 7)]  # 7 samples on 3 ranks
    with pytest.raises(ValueError, match="rank"):
        whole.shard(3, 3)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(x, y, batch_size=2).shard(0, 3)
    with pytest.raises(ValueError, match="an epoch has 3 batches"):
        whole.share_sizes(3)


def test_a_last_batch_smaller_than_the_ranks_is_kept_with_stand_ins():
    """23 = 2 x 11 + 1 on 3 ranks: rank 0 has the last sample; ranks 1 and 2 yield it as a stand-in of weight 0."""
    x, y = torch.arange(23).float().view(23, 1), torch.arange(23)
    whole = DeviceLoader(x, y, batch_size=11, shuffle=False)
    shards = [DeviceLoader(x, y, batch_size=11, shuffle=False).shard(r, 3) for r in range(3)]
    assert len(whole) == 3 and all(len(s) == 3 for s in shards)
    assert [s.share_sizes(2) for s in shards] == [(1, 1), (0, 1), (0, 1)]
    assert [list(s)[2][1].tolist() for s in shards] == [[22], [22], [22]]
    counted = [sum(s.share_sizes(b)[0] for b in range(len(s))) for s in shards]
    assert sum(counted) == 23 and whole.share_sizes(2) == (1, 1)


def test_outside_torchrun_nothing_changes():
    assert ddp.world_size() == 1 and ddp.rank() == 0 and ddp.is_main()
    assert not ddp.setup(torch.device("cpu"))
    model = nn.Linear(2, 2)
    assert ddp.wrap(model, torch.device("cpu")) is model
    t = torch.tensor([1.0, 2.0])
    assert torch.equal(ddp.all_reduce_sum(t), t)
    value = {"load": True}
    assert ddp.broadcast_object(value) is value and not dist.is_initialized()


def test_cuda_without_an_index_is_local_ranks_gpu(monkeypatch):
    """Under torchrun, ``"cuda"`` (asked for, from COURSE_DEVICE, or picked by ``"auto"``) is ``cuda:LOCAL_RANK % n``."""
    from course_lib.config import get_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert get_device("cuda") == torch.device("cuda") and get_device("auto") == torch.device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "5")
    assert get_device("cuda") == torch.device("cuda", 1)
    assert get_device("auto") == get_device(None) == torch.device("cuda", 1)
    assert get_device(torch.device("cuda")) == torch.device("cuda", 1)
    assert get_device("cuda:2") == torch.device("cuda", 2), "an explicit index is kept"
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    assert get_device() == torch.device("cuda", 1)


@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo needed"
)
def test_two_ranks_train_like_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for n, batch_size in SIZES:
        reference, history = _train(n=n, batch_size=batch_size)
        runs = [torch.load(tmp_path / f"rank{r}_{n}.pt", weights_only=True) for r in range(2)]
        for run in runs:
            for key, value in reference.state_dict().items():
                torch.testing.assert_close(run["state"][key], value, rtol=1e-5, atol=1e-6, msg=f"{n=} {key}")
            assert run["samples"] == history.samples == [n] * 3  # every sample once per epoch, across the ranks
            assert run["steps"] == history.steps  # the last, partial batch too
            assert run["loss"] == pytest.approx(history.train_loss, rel=1e-5)
            assert run["acc"] == pytest.approx(history.train_metric, rel=1e-6)
            assert run["val"] == pytest.approx(history.val_metric, rel=1e-6)
            assert run["decided"] == {"rank": 0, "load": True}, "broadcast_object: rank 0's value on every rank"
    assert len(list((tmp_path / "ckpt").rglob("*.pt"))) == 1, "one checkpoint, written by rank 0"


PRETRAIN_CELLS = [
    "%matplotlib inline\nimport os, pathlib, torch\nfrom torch import nn\n"
    "from course_lib import fit_or_load, seed_everything\nfrom course_lib.claims import assert_claims, check\n"
    "from course_lib.data import DeviceLoader\nfrom course_lib.engine import distributed\nseed_everything(0)",
    "x, y = torch.randn(64, 5), torch.randint(0, 2, (64,))\nmodel = nn.Linear(5, 2)\n"
    "h = fit_or_load(model, DeviceLoader(x, y, 16, seed=0), name='pretrain_test', epochs=2, progress=False)",
    "raise RuntimeError('a cell that fails')",
    "check('pretrain-counts', 'every sample once per epoch', source='test', scale='both',\n"
    "      measured={'samples': sum(h.samples)}, condition='samples >= 128')\n"
    "check('pretrain-fails', 'a loss below zero', source='test', scale='both',\n"
    "      measured={'loss': h.train_loss[-1]}, condition='loss < 0')",
    "if distributed.is_main():\n"
    "    pathlib.Path(os.environ['MARKER']).write_text(f'{distributed.world_size()} {h.samples}')",
    "assert_claims()  # COURSE_ASSERT_CLAIMS=0 under pretrain: shows the table, raises nowhere",
]


def _notebook(path, cells: list[str]):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    return path


def _torchrun_pretrain(notebook: str, env: dict[str, str], timeout: int = 300):
    """``python -m torch.distributed.run --nproc_per_node=2 -m course_lib.tools.pretrain NOTEBOOK --profile fast``."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port", str(_free_port())]
    cmd += ["-m", "course_lib.tools.pretrain", notebook, "--profile", "fast"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _pretrain_env(tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "COURSE_CHECKPOINT_DIR": str(tmp_path / "ckpt"),
        "OMP_NUM_THREADS": "1",
        "COURSE_PROGRESS": "0",
    }
    env.pop("COURSE_DRY_RUN", None)
    return env


def _in_process(monkeypatch, env: dict[str, str]) -> None:
    """The environment of ``pretrain.main`` run in this process (restored after the test)."""
    for key in ("COURSE_CHECKPOINT_DIR", "MARKER"):
        if key in env:
            monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("COURSE_PROFILE", "fast")  # main() sets it and COURSE_ASSERT_CLAIMS; monkeypatch restores them
    monkeypatch.setenv("COURSE_ASSERT_CLAIMS", "1")
    monkeypatch.delenv("COURSE_DRY_RUN", raising=False)


def test_pretrain_runs_a_notebook_under_torchrun_and_its_checkpoints_reload(tmp_path, monkeypatch, capsys):
    """``torchrun -m course_lib.tools.pretrain``: every cell runs on every rank (a failed one is reported and
    skipped), claims are recorded but asserted on no rank (rank 0 reports the failed one), rank 0 saves the
    checkpoint; then the same notebook in one process loads it instead of training."""
    from course_lib.engine.checkpoints import cache_log
    from course_lib.tools.pretrain import main

    path = _notebook(tmp_path / "tiny.ipynb", PRETRAIN_CELLS)
    env = {**_pretrain_env(tmp_path), "MARKER": str(tmp_path / "marker")}
    run = _torchrun_pretrain(str(path), env)
    out = run.stdout
    assert run.returncode != 0, out + run.stderr
    assert "1 failed cell(s), 1 failed claim(s), checkpoints: 1 trained, 0 loaded" in out, out + run.stderr
    assert "CLAIM FAILED" in out and "[pretrain-fails]" in out.split("failed claim(s)")[-1], "rank 0 names it"
    assert "AssertionError" not in out + run.stderr, "assert_claims() raised on no rank"
    assert (tmp_path / "marker").read_text() == "2 [64, 64]", "the cells after the failed one ran, on 2 ranks"
    saved = list((tmp_path / "ckpt").rglob("*.pt"))
    assert len(saved) == 1
    stamp = saved[0].stat().st_mtime_ns

    _in_process(monkeypatch, env)
    before = len(cache_log())
    assert main([str(path), "--profile", "fast"]) == 1  # the failed cell and the failed claim, again
    assert saved[0].stat().st_mtime_ns == stamp, "one process reloads the checkpoint: nothing retrained"
    assert [entry["action"] for entry in cache_log()[before:]] == ["loaded"]
    assert "checkpoints: 0 trained, 1 loaded" in capsys.readouterr().out
    assert (tmp_path / "marker").read_text() == "1 [64, 64]"


def test_pretrain_exit_status(tmp_path, monkeypatch, capsys):
    """0 for a notebook whose cells and claims pass and that trains through ``fit_or_load``; 1 for a notebook that
    saves and loads no checkpoint, even when every cell passes (there would be nothing to copy)."""
    from course_lib.tools.pretrain import main

    _in_process(monkeypatch, _pretrain_env(tmp_path))
    passing = [PRETRAIN_CELLS[0], PRETRAIN_CELLS[1], PRETRAIN_CELLS[3].split("\ncheck('pretrain-fails'")[0]]
    path = _notebook(tmp_path / "passing.ipynb", [*passing, "assert_claims()"])
    assert main([str(path), "--profile", "fast"]) == 0
    assert "0 failed cell(s), 0 failed claim(s), checkpoints: 1 trained, 0 loaded" in capsys.readouterr().out
    assert main([str(path), "--profile", "fast"]) == 0
    assert "checkpoints: 0 trained, 1 loaded" in capsys.readouterr().out

    path = _notebook(tmp_path / "uncached.ipynb", ["x = 1 + 1", "print(x)"])
    assert main([str(path), "--profile", "fast"]) == 1
    out = capsys.readouterr().out
    assert "0 failed cell(s), 0 failed claim(s), checkpoints: 0 trained, 0 loaded" in out
    assert "no checkpoint was saved or loaded" in out


REAL_NOTEBOOK = "03_modules"  # the cheapest fast run among the notebooks that train through fit_or_load (~2 min alone)


@pytest.mark.slow
def test_readme_torchrun_example_on_a_real_notebook_then_one_process_reloads(tmp_path, monkeypatch, capsys):
    """The README's ``torchrun --nproc_per_node=2 -m course_lib.tools.pretrain`` on a real notebook leaves every
    checkpoint its ``fit_or_load`` calls need: the same notebook in one process then trains nothing."""
    from course_lib.engine.checkpoints import cache_log
    from course_lib.tools.pretrain import main

    env = _pretrain_env(tmp_path)
    run = _torchrun_pretrain(REAL_NOTEBOOK, env, timeout=480)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " 0 loaded" in run.stdout and "0 failed cell(s), 0 failed claim(s)" in run.stdout, run.stdout[-3000:]
    saved = sorted((tmp_path / "ckpt").rglob("*.pt"))
    assert saved, "rank 0 saved the checkpoints"
    stamps = {p: p.stat().st_mtime_ns for p in saved}

    _in_process(monkeypatch, env)
    before = len(cache_log())
    assert main([REAL_NOTEBOOK, "--profile", "fast"]) == 0, capsys.readouterr().out[-6000:]
    entries = cache_log()[before:]
    retrained = [entry["name"] for entry in entries if entry["action"] != "loaded"]
    assert entries and not retrained, (
        f"one process retrained {retrained}: their checkpoint keys differ across processes"
    )
    assert len(entries) >= len(saved)
    assert {p: p.stat().st_mtime_ns for p in sorted((tmp_path / "ckpt").rglob("*.pt"))} == stamps, "nothing rewritten"
