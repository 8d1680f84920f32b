import pytest

from course_lib.tools import bench


def test_bench_runs_and_reports_the_three_loops(capsys):
    """The benchmark script runs end to end (figures are printed, not asserted: speed is not a test)."""
    pytest.importorskip("torchvision")
    out = bench.main(["--samples", "256", "--batch-size", "64", "--device", "cpu", "--repeats", "1"])
    assert set(out) == {"examples", "bare", "fit", "fit_vs_examples", "fit_vs_bare"}
    assert all(v > 0 for v in out.values())
    printed = capsys.readouterr().out
    assert "pytorch/examples" in printed and "bare train_step" in printed and "of the bare step" in printed
