"""The one way the benchmark CLIs time code: ``torch.utils.benchmark`` (``Timer``, ``blocked_autorange``, ``Compare``).

Every benchmark (``bench``, ``bench_rnn``, ``bench_roi``, ``bench_crf``) describes what it times as :class:`Case`
objects, ``run(state)`` with ``state = setup()`` made outside the timing (a fresh model, a graph to differentiate), and
:func:`measure` times them the same way: ``repeats`` interleaved rounds (every case once per round, so that a change
of the machine's load hits all of them alike), each round one ``Timer.blocked_autorange(min_run_time=...)`` (it first
runs the case untimed to choose its block size: the warm-up; ``min_run_time=0`` then times a single call, for calls
of seconds such as a training epoch) or, with ``number``, one ``Timer.timeit(number)`` (a block of exactly ``number``
calls after two untimed ones). The rounds of a case are merged into one ``Measurement``, whose ``median`` is seconds
per call. The clock waits for the benchmark's device (CUDA, MPS) before it is read. :func:`compare_table` prints the
measurements with ``torch.utils.benchmark.Compare``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.benchmark import Compare, Measurement, Timer

from ..engine import synchronize


def _nothing() -> None:
    return None


@dataclass
class Case:
    """What one benchmark times: ``run(state)``, where ``state = setup()`` runs before each timed block, untimed.

    ``description``: the column of :func:`compare_table` (default: the case's name in :func:`measure`).
    """

    run: Callable[[Any], object]
    setup: Callable[[], Any] = field(default=_nothing)
    description: str = ""


def device_clock(device: torch.device) -> Callable[[], float]:
    """``time.perf_counter`` read after the device's queued work is done (:func:`course_lib.engine.synchronize`)."""

    def clock() -> float:
        synchronize(device)
        return time.perf_counter()

    return clock


def measure(
    cases: dict[str, Case],
    device: torch.device,
    *,
    label: str,
    sub_label: str = "",
    repeats: int = 3,
    min_run_time: float = 0.0,
    number: int | None = None,
) -> dict[str, Measurement]:
    """Time every case, interleaved: ``{name: Measurement}`` (``.median``: seconds per call of ``run``).

    Args:
        cases: ``{name: Case}``, timed in this order in each round.
        device: where the cases run (the clock synchronizes it).
        label, sub_label: the title and row of :func:`compare_table`.
        repeats: rounds; in each, every case once.
        min_run_time: seconds of each case's ``Timer.blocked_autorange`` per round (0: one timed call).
        number: time blocks of exactly ``number`` calls instead (``Timer.timeit(number)``).

    Raises:
        ValueError: on ``repeats`` or ``number`` below 1, or a negative ``min_run_time``.
    """
    if repeats < 1 or (number is not None and number < 1) or min_run_time < 0:
        raise ValueError(
            f"need repeats >= 1, number >= 1 and min_run_time >= 0, got {repeats}, {number}, {min_run_time}"
        )
    timers = {
        name: Timer(
            stmt="run(state)",
            setup="state = setup()",
            globals={"run": case.run, "setup": case.setup},
            timer=device_clock(device),
            label=label,
            sub_label=sub_label,
            description=case.description or name,
            num_threads=torch.get_num_threads(),
        )
        for name, case in cases.items()
    }
    rounds: dict[str, list[Measurement]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            if number is None:
                rounds[name].append(timer.blocked_autorange(min_run_time=min_run_time))
            else:
                rounds[name].append(timer.timeit(number))
    return {name: Measurement.merge(runs)[0] for name, runs in rounds.items()}


def compare_table(measurements: Iterable[Measurement]) -> str:
    """``torch.utils.benchmark.Compare``'s table of the measurements (rows: sub-labels, columns: descriptions)."""
    return str(Compare(list(measurements)))
