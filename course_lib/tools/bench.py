"""Benchmark: images/s of ``fit`` against the pytorch/examples MNIST loop and against a bare training step.

Three ways to make the same optimizer steps (LeNet-5, Adam, the same batch size and images):

- **(a) pytorch/examples** (``mnist/main.py``): a per-sample ``Dataset`` that turns each uint8 digit into a
  PIL image, then ``ToTensor()`` + ``Normalize()`` (what ``torchvision.datasets.MNIST.__getitem__`` does), a
  ``DataLoader`` (``num_workers=1`` and ``pin_memory`` on CUDA, as there), and its loop, which reads
  ``loss.item()`` every ``log_interval=10`` batches;
- **(b) bare step**: :func:`~course_lib.engine.train_step` over batches already sliced on the device,
  nothing else, no sync until the end: the ceiling of any loop;
- **(c) fit**: :func:`~course_lib.engine.fit` for one epoch over a :class:`~course_lib.data.DeviceLoader`
  (shuffled on the device, loss and accuracy summed on the device, one sync per epoch).

Each is an epoch timed by :func:`course_lib.tools.timing.measure` (``torch.utils.benchmark.Timer``'s
``blocked_autorange``: an untimed epoch, then a timed one), ``--repeats`` times, interleaved, on a fresh model made
outside the timing; the median is reported, then ``torch.utils.benchmark.Compare``'s table of the time per epoch.
Usage::

    python -m course_lib.tools.bench [--device auto] [--samples 30000] [--batch-size 64] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import get_device, seed_everything
from ..data import MNIST_MEAN, MNIST_STD, DeviceLoader, load_mnist
from ..engine import fit, train_step
from ..models import LeNet5
from .timing import Case, compare_table, measure


class ExamplesMNIST(torch.utils.data.Dataset):
    """MNIST as ``torchvision.datasets.MNIST`` serves it: uint8 digits, one PIL image per ``__getitem__``, then ``transform``."""

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable) -> None:
        self.data = (images.squeeze(1) * 255).round().to(torch.uint8).cpu()  # (N, 28, 28), as in the idx files
        self.targets, self.transform = labels.cpu(), transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        img = Image.fromarray(self.data[i].numpy(), mode="L")
        return self.transform(img), int(self.targets[i])


def _model(device: torch.device, variant: str) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    seed_everything(0)
    model = LeNet5(variant).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def examples_loop(images: Tensor, labels: Tensor, device: torch.device, batch_size: int, variant: str) -> Case:
    """(a), the pytorch/examples MNIST loop (per-sample PIL + ToTensor/Normalize, DataLoader), one epoch per call.

    ``images``: ``Tensor[N, 1, 28, 28]`` in [0, 1] on the CPU (``load_mnist(normalize=False)``), ``labels`` ``Tensor[N]``.
    """
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}

    def setup() -> tuple:
        loader = torch.utils.data.DataLoader(
            ExamplesMNIST(images, labels, tf), batch_size=batch_size, shuffle=True, drop_last=True, **kwargs
        )
        model, optimizer = _model(device, variant)
        return loader, model.train(), optimizer

    def run(state: tuple) -> None:
        loader, model, optimizer = state
        for batch_idx, (x, y) in enumerate(loader):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if batch_idx % 10 == 0:  # the examples' log_interval: its print reads the loss
                loss.item()

    return Case(run, setup)


def bare_step(x: Tensor, y: Tensor, device: torch.device, batch_size: int, variant: str) -> Case:
    """(b), ``train_step`` over contiguous slices of ``x``, ``y`` (on ``device``): no bookkeeping, no sync."""
    n = len(x)
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n - batch_size + 1, batch_size)]

    def setup() -> tuple:
        model, optimizer = _model(device, variant)
        return model.train(), optimizer

    def run(state: tuple) -> None:
        model, optimizer = state
        for xb, yb in batches:
            train_step(model, xb, yb, optimizer)

    return Case(run, setup)


def fit_epoch(x: Tensor, y: Tensor, device: torch.device, batch_size: int, variant: str) -> Case:
    """(c), one epoch of ``fit`` over a shuffled DeviceLoader of ``x``, ``y`` (the whole call, setup included)."""
    loader = DeviceLoader(x, y, batch_size, shuffle=True, drop_last=True, seed=0)

    def run(state: tuple) -> None:
        model, optimizer = state
        fit(model, loader, epochs=1, optimizer=optimizer, progress=False)

    return Case(run, lambda: _model(device, variant))


BENCHES = {
    "examples": ("(a) pytorch/examples loop (PIL + ToTensor/Normalize, DataLoader)", examples_loop),
    "bare": ("(b) bare train_step on device tensors (ceiling)", bare_step),
    "fit": ("(c) course_lib fit (DeviceLoader, metrics on device)", fit_epoch),
}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description="images/s of course_lib.fit vs the pytorch/examples loop and a bare step"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads during the benchmark")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved; the median is reported")
    parser.add_argument("--variant", default="classic", choices=["classic", "modern"])
    args = parser.parse_args(argv)
    if args.samples < args.batch_size:
        raise ValueError(f"--samples ({args.samples}) must be at least one batch ({args.batch_size})")
    device = get_device(args.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        n = args.samples // args.batch_size * args.batch_size  # whole batches only: every variant sees the same images
        print(
            f"device: {device}, torch threads: {torch.get_num_threads()}, LeNet-5 ({args.variant}), Adam, "
            f"batch {args.batch_size}, {n:,} MNIST images per run, median of {args.repeats}"
        )
        raw, labels = load_mnist(True, normalize=False)  # (a) starts from the uint8 digits, on the CPU
        raw, labels = raw[:n], labels[:n]
        x, y = ((raw - MNIST_MEAN) / MNIST_STD).to(device), labels.to(device)  # (b), (c): standardized, on the device
        data = {"examples": (raw, labels), "bare": (x, y), "fit": (x, y)}
        # one timed epoch per round, after an untimed one (blocked_autorange's warm-up: allocator, cuDNN, imports)
        runs = measure(
            {key: make(*data[key], device, args.batch_size, args.variant) for key, (_, make) in BENCHES.items()},
            device,
            label=f"LeNet-5 ({args.variant}), one epoch of {n:,} images",
            sub_label=str(device),
            repeats=args.repeats,
        )
    finally:
        torch.set_num_threads(threads)
    ips = {k: n / m.median for k, m in runs.items()}
    print(f"{'':<66}{'img/s':>10}{'/ (a)':>9}{'/ (b)':>9}")
    for key, (label, _) in BENCHES.items():
        print(f"{label:<66}{ips[key]:>10,.0f}{ips[key] / ips['examples']:>8.2f}x{ips[key] / ips['bare']:>8.2f}x")
    out = {**ips, "fit_vs_examples": ips["fit"] / ips["examples"], "fit_vs_bare": ips["fit"] / ips["bare"]}
    print(
        f"fit: {out['fit_vs_examples']:.2f}x the examples loop (speed-up), {out['fit_vs_bare']:.1%} of the bare step "
        f"(target: >= 95%)"
    )
    print(compare_table(runs.values()))
    return out


if __name__ == "__main__":
    main()
