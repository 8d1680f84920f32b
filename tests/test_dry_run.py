"""The full profile, dry: every notebook runs top to bottom with its paper-scale sizes and branches on a CPU.

``COURSE_PROFILE=full COURSE_DRY_RUN=1``: every training stops after ``DRY_RUN_STEPS`` optimizer steps and
no claim is asserted (``check`` prints "dry run: not asserted"), so what this catches is code that breaks
only at full scale: a shape, a branch, a size that the fast profile never reaches. Each notebook runs in a
fresh kernel with an empty checkpoint folder; its wall time is printed (``pytest -s``, or ``--durations``).
Marked ``slow``: part of ``make test``; ``COURSE_SLOW_TESTS=0`` skips it (about a minute or more per notebook).
Notebooks not yet converted to ``check(...)`` (``notebook_status.NOT_YET_CONVERTED``) are skipped: their plain
asserts would fail on a two-step training.
"""

import os
from pathlib import Path

import pytest
from notebook_status import NOT_YET_CONVERTED

from course_lib.tools.execute import execute_notebook

SLOW = pytest.mark.skipif(
    os.environ.get("COURSE_SLOW_TESTS", "1").strip().lower() in ("0", "false", "no", "off"),
    reason="executes whole notebooks (minutes each); COURSE_SLOW_TESTS=0 skips them",
)
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_full_profile_dry_run(path, record_property):
    if path.stem in NOT_YET_CONVERTED:
        pytest.skip(f"{path.stem}: {NOT_YET_CONVERTED[path.stem]}; its checks are plain asserts")
    env = {"COURSE_PROFILE": "full", "COURSE_DRY_RUN": "1", "COURSE_SEED": "0", "COURSE_CLAIMS_LOG": None}
    nb, errors, seconds = execute_notebook(path, env=env, allow_errors=False, timeout=900)
    record_property("seconds", round(seconds, 1))
    print(f"{path.stem}: full-profile dry run, {seconds:.0f} s" + (f", stopped at {errors[0]}" if errors else ""))
    if errors:
        e = errors[0]
        source = nb.cells[e.cell].source if 0 <= e.cell < len(nb.cells) else ""
        tail = "\n".join(e.traceback.splitlines()[-15:])
        pytest.fail(
            f"{path.name}, full profile, dry run: cell {e.cell} failed: {e.ename}: {e.evalue}\n"
            f"--- cell {e.cell} ---\n{source}\n--- traceback ---\n{tail}",
            pytrace=False,
        )
