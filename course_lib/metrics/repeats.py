"""Summaries over repeated runs (seeds, subsets, replicates): the mean and the sample standard deviation.

Notebooks 02-04 repeat small experiments whose effect is close to the run-to-run noise and report
``mean ± sd``; the sd is the sample one (``ddof=1``, :func:`statistics.stdev`), undefined (NaN) for one run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    """``(mean, sample standard deviation)`` of ``values``; the sd is NaN for a single value.

    Raises:
        ValueError: for no values at all.
    """
    v = [float(x) for x in values]
    if not v:
        raise ValueError("mean_sd needs at least one value")
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else math.nan)
