"""Benchmark: images/s of ``fit`` (device-resident data) vs a pytorch/examples-style loop.

The reference loop is the one of ``pytorch/examples/mnist/main.py``: ``torchvision.datasets.MNIST``
with ``ToTensor()`` + ``Normalize()`` per sample, a ``DataLoader`` (``num_workers=1`` and
``pin_memory`` on CUDA, as there), and a plain train step. Both train LeNet-5 with the same
optimizer and batch size; the only difference is how batches are made. Usage::

    python -m course_lib.tools.bench [--device auto] [--samples 30000] [--batch-size 64] [--variant classic]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ..config import data_dir, get_device, seed_everything
from ..data import MNIST_MEAN, MNIST_STD, DeviceLoader, load_mnist
from ..engine.loop import synchronize as _sync
from ..engine.loop import train_one_epoch
from ..models import LeNet5


def bench_examples_loop(device: torch.device, samples: int, batch_size: int, variant: str) -> float:
    """images/s of the pytorch/examples MNIST loop (per-sample transforms + DataLoader)."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    ds = datasets.MNIST(str(data_dir()), train=True, download=False, transform=tf)
    ds = torch.utils.data.Subset(ds, range(samples))
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, **kwargs)
    model = LeNet5(variant).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    _sync(device)
    t0 = time.perf_counter()
    seen = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        seen += len(y)
    _sync(device)
    return seen / (time.perf_counter() - t0)


def bench_course_fit(device: torch.device, samples: int, batch_size: int, variant: str) -> float:
    """images/s of course_lib's training epoch over a DeviceLoader."""
    x, y = load_mnist(True, device=device)
    loader = DeviceLoader(x[:samples], y[:samples], batch_size, shuffle=True, seed=0)
    model = LeNet5(variant).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    _sync(device)
    t0 = time.perf_counter()
    _, _, seen = train_one_epoch(model, loader, opt, device=device)
    _sync(device)
    return seen / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="images/s of course_lib.fit vs the pytorch/examples MNIST loop")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--variant", default="classic", choices=["classic", "modern"])
    args = parser.parse_args(argv)
    device = get_device(args.device)
    seed_everything(0)
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, LeNet-5 ({args.variant}), "
          f"batch {args.batch_size}, {args.samples} MNIST images per run")  # fmt: skip
    # one short warm-up of each (allocator, cuDNN autotune), then the measured runs
    bench_course_fit(device, min(2048, args.samples), args.batch_size, args.variant)
    bench_examples_loop(device, min(2048, args.samples), args.batch_size, args.variant)
    ref = bench_examples_loop(device, args.samples, args.batch_size, args.variant)
    ours = bench_course_fit(device, args.samples, args.batch_size, args.variant)
    print(f"{'pytorch/examples loop (DataLoader + ToTensor/Normalize)':<58}{ref:>10,.0f} img/s")
    print(f"{'course_lib fit (DeviceLoader)':<58}{ours:>10,.0f} img/s")
    print(f"{'speed-up':<58}{ours / ref:>10.2f} x")
    return {"examples": ref, "course_lib": ours, "ratio": ours / ref}


if __name__ == "__main__":
    main()
