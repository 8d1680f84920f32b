"""course_lib.tools.timing: the benchmarks' one timer (torch.utils.benchmark), its untimed setup and its table."""

from __future__ import annotations

import time

import pytest
import torch

from course_lib.tools.timing import Case, compare_table, measure


def test_measure_times_run_not_setup_and_merges_the_rounds():
    calls = []

    def run(state):
        calls.append(state)
        time.sleep(0.002)

    def slow_setup():
        time.sleep(0.05)  # untimed: it must not show in the median
        return "state"

    cpu = torch.device("cpu")
    runs = measure({"a": Case(run, slow_setup), "b": Case(run)}, cpu, label="toy", repeats=3, number=2)
    assert set(runs) == {"a", "b"}
    assert 0.0015 < runs["a"].median < 0.03 and 0.0015 < runs["b"].median < 0.03
    assert len(runs["a"].times) == 3  # one block per round, merged into seconds per call
    assert calls.count("state") == 3 * (2 + 2) and calls.count(None) == 3 * (2 + 2)  # Timer.timeit: 2 warm-up calls
    once = []
    single = measure({"epoch": Case(once.append, slow_setup)}, cpu, label="toy", repeats=2)  # min_run_time=0
    assert len(once) == 2 * 2 and len(single["epoch"].times) == 2  # per round: the untimed estimate, one timed call
    table = compare_table(runs.values())
    assert "toy" in table and " a " in table and " b " in table


def test_measure_with_blocked_autorange_and_bad_arguments():
    runs = measure(
        {"x": Case(lambda _: torch.ones(64).sum())}, torch.device("cpu"), label="t", repeats=2, min_run_time=0.01
    )
    assert runs["x"].median > 0 and len(runs["x"].times) >= 2  # at least one block per round
    with pytest.raises(ValueError, match="repeats >= 1"):
        measure({}, torch.device("cpu"), label="t", repeats=0)
    with pytest.raises(ValueError, match="min_run_time >= 0"):
        measure({}, torch.device("cpu"), label="t", min_run_time=-1.0)
