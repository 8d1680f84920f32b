"""Benchmark: the course's plain-torch ROI ops (:mod:`course_lib.ops.roi`) against torchvision's compiled kernels.

Forward + backward (the gradient of a fixed random weighting of the output, through ``torch.autograd.grad``)
of ``roi_pool``, ``roi_align`` (``sampling_ratio=2``, ``aligned=True``) and ``roi_align`` with adaptive sampling,
on Faster R-CNN-like proposals: ``--boxes`` boxes on a ``--channels`` x ``--size`` x ``--size`` stride-16 map,
``--batch`` images, ``7 x 7`` output. Each is timed ``--repeats`` times, interleaved with torchvision; the median
is reported as ms per call, with the ratio course / torchvision. CPU timings depend on the thread count: compare
at ``OMP_NUM_THREADS=1`` (or ``--threads 1``), and note the machine's load. Usage::

    OMP_NUM_THREADS=1 python -m course_lib.tools.bench_roi [--device cpu] [--boxes 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchvision.ops as tvo
from torch import Tensor

from ..config import get_device
from ..engine import synchronize
from ..ops.roi import roi_align, roi_pool

STRIDE = 16


def proposals(n: int, n_images: int, size: int, generator: torch.Generator) -> Tensor:
    """``Tensor[n, 5]`` boxes in image pixels on ``size * 16``-pixel images: corners uniform, sides 32 to 400 px."""
    image = size * STRIDE
    xy = torch.rand(n, 2, generator=generator) * image
    wh = 32 + torch.rand(n, 2, generator=generator) * 368
    index = torch.randint(0, n_images, (n, 1), generator=generator).float()
    return torch.cat([index, xy, (xy + wh).clamp(max=image)], 1)


def _time(fn: Callable[[], Tensor], x: Tensor, weights: Tensor, device: torch.device) -> tuple[float, float]:
    """(forward ms, backward ms) of one call."""
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    t1 = time.perf_counter()
    torch.autograd.grad(out, x, weights)
    synchronize(device)
    return 1e3 * (t1 - t0), 1e3 * (time.perf_counter() - t1)


def bench(
    device: torch.device,
    boxes: int = 1000,
    channels: int = 64,
    size: int = 50,
    batch: int = 2,
    output: int = 7,
    repeats: int = 5,
) -> dict[str, dict[str, float]]:
    """Median forward + backward ms of each op, course and torchvision, and their ratio."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=g).to(device).requires_grad_()
    rois = proposals(boxes, batch, size, g).to(device)
    weights = torch.randn(boxes, channels, output, output, generator=g).to(device)
    s = 1.0 / STRIDE
    cases = {
        "roi_pool": (lambda: roi_pool(x, rois, output, s), lambda: tvo.roi_pool(x, rois, output, s)),
        "roi_align": (
            lambda: roi_align(x, rois, output, s, 2, True),
            lambda: tvo.roi_align(x, rois, output, s, 2, True),
        ),
        "roi_align_adaptive": (
            lambda: roi_align(x, rois, output, s, -1, True),
            lambda: tvo.roi_align(x, rois, output, s, -1, True),
        ),
    }
    results = {}
    for name, (ours, ref) in cases.items():
        _time(ours, x, weights, device), _time(ref, x, weights, device)  # warm-up
        runs = {"course": [], "torchvision": []}
        for _ in range(repeats):
            runs["course"].append(_time(ours, x, weights, device))
            runs["torchvision"].append(_time(ref, x, weights, device))
        row = {}
        for who, times in runs.items():
            row[f"{who}_fwd_ms"] = statistics.median(f for f, _ in times)
            row[f"{who}_bwd_ms"] = statistics.median(b for _, b in times)
            row[f"{who}_ms"] = statistics.median(f + b for f, b in times)
        row["ratio"] = row["course_ms"] / row["torchvision_ms"]
        results[name] = row
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--boxes", type=int, default=1000)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--size", type=int, default=50)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--output", type=int, default=7)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = get_device(a.device)
    results = bench(device, a.boxes, a.channels, a.size, a.batch, a.output, a.repeats)
    print(
        f"{a.boxes} boxes on ({a.batch}, {a.channels}, {a.size}, {a.size}), output {a.output}x{a.output}, {device}, "
        f"{torch.get_num_threads()} thread(s), median of {a.repeats}; ms per call, forward + backward"
    )
    print(f"{'op':<20} {'course':>18} {'torchvision':>18} {'course/torchvision':>19}")
    for name, r in results.items():
        ours = f"{r['course_fwd_ms']:.1f}+{r['course_bwd_ms']:.1f}"
        ref = f"{r['torchvision_fwd_ms']:.1f}+{r['torchvision_bwd_ms']:.1f}"
        print(f"{name:<20} {ours:>18} {ref:>18} {r['ratio']:>18.2f}x")
    return {name: {k: r[k] for k in ("course_ms", "torchvision_ms", "ratio")} for name, r in results.items()}


if __name__ == "__main__":
    main()
