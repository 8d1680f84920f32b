"""Benchmark: dense-CRF mean-field (:mod:`course_lib.ops.crf`), exact all-pairs path against the bilateral-grid
approximation, by image size.

For each ``--sizes`` side ``S`` (``S x S`` pixels, ``--labels`` labels, a grayscale image of smooth blobs plus
noise, random unaries), the median over ``--repeats`` rounds of ``blocked_autorange``
(:func:`course_lib.tools.timing.measure`, ``torch.utils.benchmark``) of: the setup (kernels, or the grid's splatting weights) and
one mean-field iteration, in ms, for each path; and the approximation's error where the exact path runs: the
relative L2 error of the appearance messages and the mean absolute difference of the marginals after 5 iterations
(and the share of pixels whose argmax differs); and the share of pixels that 5 exact iterations relabel (to show
the CRF does change the labelling). The exact path is skipped above ``--exact-max`` pixels per side
(its ``N x N`` kernels need ``8 N²`` bytes). CPU timings depend on the thread count: compare at
``OMP_NUM_THREADS=1`` (or ``--threads 1``). ``EXACT_MAX_PIXELS`` in :mod:`course_lib.ops.crf` (the ``"auto"``
switch) is set from this table. Usage::

    OMP_NUM_THREADS=1 python -m course_lib.tools.bench_crf [--device cpu] [--sizes 16 32 48 64 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Measurement

from ..config import get_device
from ..ops.crf import EXACT_MAX_PIXELS, crf_messages, dense_crf, mean_field_step, potts
from .timing import Case, compare_table, measure

PARAMS = {"theta_alpha": 5.0, "theta_beta": 0.2, "theta_gamma": 2.0}
WEIGHTS = {"w_appearance": 3.0, "w_smoothness": 1.0}


def problem(size: int, labels: int, device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(unary ``Tensor[1, L, S, S]``, image ``Tensor[1, 1, S, S]`` in [0, 1]): smooth blobs plus noise, and noisy
    unaries of the labels that quantize the blobs' intensity into ``L`` levels (so that the CRF has work to do)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 1, max(2, size // 8), max(2, size // 8), generator=g)
    image = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    image = (image + 0.05 * torch.randn(1, 1, size, size, generator=g)).clamp(0, 1)
    truth = (image * labels).long().clamp(max=labels - 1)[:, 0]
    logits = 2.0 * F.one_hot(truth, labels).permute(0, 3, 1, 2) + 1.5 * torch.randn(1, labels, size, size, generator=g)
    unary = -torch.log_softmax(logits, 1)
    return unary.to(device), image.to(device)


def measure_rows(
    device: torch.device,
    sizes: list[int],
    labels: int = 3,
    repeats: int = 3,
    exact_max: int = 64,
    min_run_time: float = 0.05,
) -> tuple[list[dict], list[Measurement]]:
    """:func:`bench`'s rows, and the measurements they come from (for ``Compare``'s table).

    The setup times building the messages (kernels, or the grid's splatting weights); the iteration times one
    mean-field step on messages built outside the timing. Each is ``repeats`` rounds of ``blocked_autorange``.
    """
    rows, measurements = [], []
    compat = potts(labels, device=device)
    names = {"exact": "exact", "approx": "grid"}
    for size in sizes:
        unary, image = problem(size, labels, device)
        q = torch.softmax(-unary, 1)
        row: dict = {"size": size, "pixels": size * size}
        methods = ["exact", "approx"] if size <= exact_max else ["approx"]
        cases = {}
        for method in methods:
            messages = partial(crf_messages, image, **PARAMS, method=method)
            cases[f"{method}_setup"] = Case(run=lambda _, m=messages: m(), description=f"{names[method]} setup")
            cases[f"{method}_iter"] = Case(
                run=lambda msg, q=q, unary=unary: mean_field_step(q, unary, msg, compat, **WEIGHTS),
                setup=messages,
                description=f"{names[method]} iteration",
            )
        runs = measure(
            cases,
            device,
            label="dense-CRF mean field",
            sub_label=f"{size}x{size}",
            repeats=repeats,
            min_run_time=min_run_time,
        )
        row.update({f"{key}_ms": 1e3 * m.median for key, m in runs.items()})
        measurements += runs.values()
        if "exact" in methods:
            exact = crf_messages(image, **PARAMS, method="exact")(q)[0]
            approx = crf_messages(image, **PARAMS, method="approx")(q)[0]
            row["message_rel_error"] = ((approx - exact).norm() / exact.norm()).item()
            qe, qa = (dense_crf(unary, image, 5, **PARAMS, **WEIGHTS, method=m) for m in ("exact", "approx"))
            row["marginal_mean_abs_diff"] = (qa - qe).abs().mean().item()
            row["argmax_disagreement"] = (qa.argmax(1) != qe.argmax(1)).float().mean().item()
            row["relabelled"] = (qe.argmax(1) != unary.argmin(1)).float().mean().item()
        rows.append(row)
    return rows, measurements


def bench(device: torch.device, sizes: list[int], **options) -> list[dict]:
    """One row per size: setup and per-iteration ms of each path (medians), and the approximation's error.

    ``options`` are :func:`measure_rows`'s (labels, repeats, exact_max, min_run_time)."""
    return measure_rows(device, sizes, **options)[0]


def format_table(rows: list[dict]) -> str:
    """A markdown table of :func:`bench`'s rows (``-`` where the exact path was skipped)."""

    def cell(row: dict, key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    lines = [
        "| side | pixels | exact setup ms | exact ms/iter | grid setup ms | grid ms/iter | message rel. error "
        "| mean abs ΔQ (5 it.) | argmax differs | relabelled by the CRF |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['pixels']} | {cell(r, 'exact_setup_ms', '.2f')} | {cell(r, 'exact_iter_ms', '.2f')} "
            f"| {cell(r, 'approx_setup_ms', '.2f')} | {cell(r, 'approx_iter_ms', '.2f')} "
            f"| {cell(r, 'message_rel_error', '.4f')} | {cell(r, 'marginal_mean_abs_diff', '.4f')} "
            f"| {cell(r, 'argmax_disagreement', '.2%')} | {cell(r, 'relabelled', '.2%')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 24, 32, 48, 64, 128])
    parser.add_argument("--labels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-max", type=int, default=64, help="largest side run by the exact path")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--min-run-time", type=float, default=0.05, help="seconds per case and round (blocked_autorange)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    rows, measurements = measure_rows(device, args.sizes, args.labels, args.repeats, args.exact_max, args.min_run_time)
    print(f"device={device}, threads={torch.get_num_threads()}, labels={args.labels}, {PARAMS}, {WEIGHTS}")
    print(f"'auto' runs the exact path up to {EXACT_MAX_PIXELS} pixels")
    print(format_table(rows))
    print(compare_table(measurements))


if __name__ == "__main__":
    main()
