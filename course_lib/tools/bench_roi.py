"""Benchmark: the course's plain-torch ROI ops (:mod:`course_lib.ops.roi`) against torchvision's compiled kernels.

Forward + backward (the gradient of a fixed random weighting of the output, through ``torch.autograd.grad``)
of ``roi_pool``, ``roi_align`` (``sampling_ratio=2``, ``aligned=True``) and ``roi_align`` with adaptive sampling,
on Faster R-CNN-like proposals: ``--boxes`` boxes on a ``--channels`` x ``--size`` x ``--size`` stride-16 map,
``--batch`` images, ``7 x 7`` output. Each pass is timed by :func:`course_lib.tools.timing.measure`
(``torch.utils.benchmark``: ``--repeats`` rounds of ``blocked_autorange``, interleaved with torchvision); the median
is reported as ms per call, with the ratio course / torchvision, then ``Compare``'s table. CPU timings depend on the
thread count: compare at ``OMP_NUM_THREADS=1`` (or ``--threads 1``), and note the machine's load. Usage::

    OMP_NUM_THREADS=1 python -m course_lib.tools.bench_roi [--device cpu] [--boxes 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
import torchvision.ops as tvo
from torch import Tensor
from torch.utils.benchmark import Measurement

from ..config import get_device
from ..ops.roi import roi_align, roi_pool
from .timing import Case, compare_table, measure

STRIDE = 16


def proposals(n: int, n_images: int, size: int, generator: torch.Generator) -> Tensor:
    """``Tensor[n, 5]`` boxes in image pixels on ``size * 16``-pixel images: corners uniform, sides 32 to 400 px."""
    image = size * STRIDE
    xy = torch.rand(n, 2, generator=generator) * image
    wh = 32 + torch.rand(n, 2, generator=generator) * 368
    index = torch.randint(0, n_images, (n, 1), generator=generator).float()
    return torch.cat([index, xy, (xy + wh).clamp(max=image)], 1)


def measure_ops(
    device: torch.device,
    boxes: int = 1000,
    channels: int = 64,
    size: int = 50,
    batch: int = 2,
    output: int = 7,
    repeats: int = 5,
    min_run_time: float = 0.05,
) -> dict[str, dict[str, Measurement]]:
    """``{op: {"course_fwd", "course_bwd", "torchvision_fwd", "torchvision_bwd": Measurement}}``, seconds per call.

    The backward pass differentiates an output made outside the timing (``retain_graph=True``, so that a block may
    run it many times); each round is one ``Timer.blocked_autorange(min_run_time=...)`` per case, interleaved.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=g).to(device).requires_grad_()
    rois = proposals(boxes, batch, size, g).to(device)
    weights = torch.randn(boxes, channels, output, output, generator=g).to(device)
    s = 1.0 / STRIDE
    ops = {
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
    backward = lambda out: torch.autograd.grad(out, x, weights, retain_graph=True)
    results = {}
    for name, (ours, ref) in ops.items():
        cases = {}
        for who, fn in (("course", ours), ("torchvision", ref)):
            cases[f"{who}_fwd"] = Case(run=lambda _, fn=fn: fn(), description=f"{who} forward")
            cases[f"{who}_bwd"] = Case(run=backward, setup=fn, description=f"{who} backward")
        results[name] = measure(
            cases, device, label="ROI ops", sub_label=name, repeats=repeats, min_run_time=min_run_time
        )
    return results


def bench(device: torch.device, **options) -> dict[str, dict[str, float]]:
    """Median forward and backward ms of each op, course and torchvision, and their ratio (forward + backward).

    ``options`` are :func:`measure_ops`'s (boxes, channels, size, batch, output, repeats, min_run_time)."""
    return ms_table(measure_ops(device, **options))


def ms_table(runs: dict[str, dict[str, Measurement]]) -> dict[str, dict[str, float]]:
    """:func:`measure_ops`'s measurements as medians in ms: ``{who}_fwd_ms``, ``{who}_bwd_ms``, their sum ``{who}_ms``
    and ``ratio`` (course / torchvision)."""
    results = {}
    for name, cases in runs.items():
        row = {f"{key}_ms": 1e3 * m.median for key, m in cases.items()}
        for who in ("course", "torchvision"):
            row[f"{who}_ms"] = row[f"{who}_fwd_ms"] + row[f"{who}_bwd_ms"]
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
    p.add_argument("--min-run-time", type=float, default=0.05, help="seconds per case and round (blocked_autorange)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = get_device(a.device)
    runs = measure_ops(device, a.boxes, a.channels, a.size, a.batch, a.output, a.repeats, a.min_run_time)
    results = ms_table(runs)
    print(
        f"{a.boxes} boxes on ({a.batch}, {a.channels}, {a.size}, {a.size}), output {a.output}x{a.output}, {device}, "
        f"{torch.get_num_threads()} thread(s), median of {a.repeats}; ms per call, forward + backward"
    )
    print(f"{'op':<20} {'course':>18} {'torchvision':>18} {'course/torchvision':>19}")
    for name, r in results.items():
        ours = f"{r['course_fwd_ms']:.1f}+{r['course_bwd_ms']:.1f}"
        ref = f"{r['torchvision_fwd_ms']:.1f}+{r['torchvision_bwd_ms']:.1f}"
        print(f"{name:<20} {ours:>18} {ref:>18} {r['ratio']:>18.2f}x")
    print(compare_table(m for cases in runs.values() for m in cases.values()))
    return {name: {k: r[k] for k in ("course_ms", "torchvision_ms", "ratio")} for name, r in results.items()}


if __name__ == "__main__":
    main()
