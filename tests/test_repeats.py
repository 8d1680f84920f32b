import math
import statistics

import numpy as np
import pytest

from course_lib.metrics import mean_sd


def test_mean_sd_is_the_sample_statistics():
    values = [0.91, 0.88, 0.95, 0.9]
    m, s = mean_sd(values)
    assert m == pytest.approx(np.mean(values)) and s == pytest.approx(np.std(values, ddof=1))
    assert s == statistics.stdev(values)
    m1, s1 = mean_sd(np.array([0.5]))
    assert m1 == 0.5 and math.isnan(s1)
    with pytest.raises(ValueError, match="mean_sd needs at least one value"):
        mean_sd([])
