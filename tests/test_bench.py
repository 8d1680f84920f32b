import pytest

from course_lib.tools import bench


def test_bench_runs_and_reports_a_ratio(capsys):
    """The benchmark script runs end to end (figures are printed, not asserted: speed is not a test)."""
    pytest.importorskip("torchvision")
    out = bench.main(["--samples", "256", "--batch-size", "64", "--device", "cpu"])
    assert set(out) == {"examples", "course_lib", "ratio"}
    assert out["ratio"] > 0
    assert "speed-up" in capsys.readouterr().out
