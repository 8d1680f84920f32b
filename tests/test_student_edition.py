"""The student edition (``make student``): nbgrader's preprocessors and metadata, no output that gives an answer
away, solutions that put back give the tested notebook, and an unsolved exercise that fails only its own check."""

import os
import re
from pathlib import Path

import nbformat
import pytest
from notebook_status import NOT_YET_CONVERTED  # tests/ is on sys.path under pytest

from course_lib.tools.execute import execute_notebook
from course_lib.tools.student import (
    STUB,
    exercise_cells,
    restore_solutions,
    solution_regions,
    student_notebook,
    write_student_edition,
)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
GRADING = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task", "checksum", "cell_type"}


def test_solution_regions_keep_their_lines():
    src = "a = 1\nif a:\n    # BEGIN SOLUTION\n    b = 2\n    # END SOLUTION\nprint(a)"
    assert solution_regions(src) == [["    # BEGIN SOLUTION", "    b = 2", "    # END SOLUTION"]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
    student, n = student_notebook(nb)
    assert n == 1
    assert student.cells[0].source == "a = 1\nif a:\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(a)"


@pytest.mark.parametrize(
    ("bad", "msg"),
    [
        ("# BEGIN SOLUTION\nx", "is never closed by '# END SOLUTION'"),
        ("x\n# END SOLUTION", "line 2: '# END SOLUTION' without '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "line 2: nested '# BEGIN SOLUTION'"),
    ],
)
def test_unbalanced_markers_are_refused_with_their_line(bad, msg):
    with pytest.raises(ValueError, match=msg):
        solution_regions(bad)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi"), nbformat.v4.new_code_cell(bad)])
    with pytest.raises(ValueError, match=f"cell 1 \\(code\\): .*{msg}"):
        student_notebook(nb)


def test_student_edition_of_every_notebook(tmp_path):
    """Same cells and code, solutions cleared, every output cleared, nbgrader's metadata on exercises and checks;
    the nbgrader source version (``--source``) is the solution notebook with that metadata."""
    report = write_student_edition(NOTEBOOKS, tmp_path / "student", source_dir=tmp_path / "source")
    assert set(report) == {p.name for p in PATHS}
    assert sum(report.values()) >= 1, "the notebooks should hold at least one exercise"
    for name in report:
        sol = nbformat.read(NOTEBOOKS / name, as_version=4)
        stu = nbformat.read(tmp_path / "student" / name, as_version=4)
        src = nbformat.read(tmp_path / "source" / name, as_version=4)
        nbformat.validate(stu)
        assert len(sol.cells) == len(stu.cells) == len(src.cells)
        exercises = exercise_cells(sol)
        for i, (a, b, c) in enumerate(zip(sol.cells, stu.cells, src.cells)):
            assert b.get("outputs", []) == [] and b.get("execution_count") is None, f"{name} cell {i}: an output"
            assert c.source == a.source and c.get("outputs") == a.get("outputs"), f"{name} cell {i}: source changed"
            meta = b.metadata.get("nbgrader", {})
            assert set(meta) <= GRADING
            if i in exercises:
                assert "BEGIN SOLUTION" not in b.source and "\n".join(STUB) in b.source.replace("    ", "")
                assert meta["solution"] and not meta["grade"] and b.metadata["deletable"] is False
            else:
                assert a.source == b.source, f"{name} cell {i}: only the exercises' code changes"
            if i - 1 in exercises and meta:  # the check right after an exercise: an autograder test
                assert meta["grade"] and meta["points"] == 1 and not meta["solution"] and meta["locked"]
                assert meta["grade_id"] == stu.cells[i - 1].metadata["nbgrader"]["grade_id"] + "-check"
                assert b.metadata["editable"] is False
        checks = [i for i, c in enumerate(stu.cells) if c.metadata.get("nbgrader", {}).get("grade")]
        assert checks == [i + 1 for i in exercises], f"{name}: each exercise checked in the next cell"


# --- no output gives an answer away ---------------------------------------------------------------------------

LEAKED = {  # what the student edition showed before nbgrader's ClearOutput (issue 29)
    "01_history_and_lenet": ["C3 has 1,516 trainable parameters"],
    "02_alexnet_ablations": ["34,944 parameters"],
    "05b_regions_and_alignment": ["121 windows", "289 windows"],
    "07a_recurrent_networks": ["RNN 640 GRU 1920 LSTM 2560"],
}
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def _outputs(cell) -> tuple[list[str], list[str]]:
    """(texts, images) of a cell's outputs: streams, tracebacks, text/* and the base64 of every image."""
    texts, images = [], []
    for out in cell.get("outputs", []):
        texts += [out.get("text", ""), "\n".join(out.get("traceback", []))]
        for kind, value in out.get("data", {}).items():
            value = value if isinstance(value, str) else "".join(value)
            (images if kind.startswith("image/") else texts).append(value)
    return [t for t in texts if t], images


def solution_values(nb: nbformat.NotebookNode) -> tuple[set[str], set[str], set[str]]:
    """What the solutions print or draw, in the tested notebook: the outputs of each exercise cell and of the code
    cell that checks it. Returns (lines with a digit, numbers of three digits or more, images)."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    lines, numbers, images = set(), set(), set()
    for i in exercise_cells(nb):
        for j in [i, *[k for k in code if k > i][:1]]:  # the exercise and its check
            texts, imgs = _outputs(nb.cells[j])
            images |= set(imgs)
            for line in "\n".join(texts).splitlines():
                if re.search(r"\d", line):
                    lines.add(line.strip())
                numbers |= {n for n in NUMBER.findall(line) if len(re.sub(r"\D", "", n)) >= 3}
    return lines, numbers, images


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_no_output_reveals_a_solution(path):
    """Every output of the student edition is scanned for what the solutions print (each line with a digit, each
    number of three or more digits) and draw (each image), in any cell, not only the exercises' own."""
    solutions = nbformat.read(path, as_version=4)
    lines, numbers, images = solution_values(solutions)
    assert all(any(s in line for line in lines) for s in LEAKED.get(path.stem, [])), "the scan misses a known leak"
    student, _ = student_notebook(solutions)
    for i, cell in enumerate(student.cells):
        texts, imgs = _outputs(cell)
        text = "\n".join(texts)
        shown = {line.strip() for line in text.splitlines()} & lines
        shown |= set(NUMBER.findall(text)) & numbers
        assert not shown and not set(imgs) & images, f"{path.stem} cell {i} shows a solution's output: {shown}"
        assert not any(s in text for s in LEAKED.get(path.stem, []))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_solutions_put_back_give_the_tested_notebook(path):
    """Each student notebook with its solutions put back is, cell for cell, the solution notebook that nbval runs
    (so every exercise check passes there); with them removed, the slow test below expects one failure per exercise."""
    solutions = nbformat.read(path, as_version=4)
    student, _ = student_notebook(solutions)
    restored = restore_solutions(student, solutions)
    assert [c.source for c in restored.cells] == [c.source for c in solutions.cells]


def test_restore_solutions_of_a_student_attempt():
    sol = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\n\n"
                "def g():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION"
            )
        ]
    )
    student, n = student_notebook(sol)
    assert n == 2 and student.cells[0].source.count("raise NotImplementedError()") == 2
    assert restore_solutions(student, sol).cells[0].source == sol.cells[0].source
    older = student.cells[0].source.replace("NotImplementedError()", "NotImplementedError")  # an older edition's stub
    older = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(older)])
    assert restore_solutions(older, sol).cells[0].source == sol.cells[0].source
    student.cells[0].source = student.cells[0].source.replace(
        "# YOUR CODE HERE\n    raise NotImplementedError()", "return 0", 1
    )
    with pytest.raises(ValueError, match="1 stub"):
        restore_solutions(student, sol)


def test_student_notebook_counts_regions():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION"),
        nbformat.v4.new_markdown_cell("hi"),
    ]
    out, n = student_notebook(nb)
    assert n == 1 and "x = 1" not in out.cells[0].source and nb.cells[0].source.startswith("# BEGIN")
    assert "nbgrader" not in nb.cells[0].metadata, "the solution notebook itself is left as it was"
    with pytest.raises(ValueError, match="another folder"):
        write_student_edition(NOTEBOOKS, NOTEBOOKS)


# --- nbgrader itself: generate_assignment releases the same edition, autograde grades the checks --------------


def _tiny_course_notebook() -> nbformat.NotebookNode:
    """Two exercises, each checked by the next cell, as the course's notebooks write them."""
    cells = [
        nbformat.v4.new_markdown_cell("# A tiny lecture"),
        nbformat.v4.new_code_cell("import math"),
        nbformat.v4.new_code_cell("def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION"),
        nbformat.v4.new_code_cell("assert double(21) == 42, 'double(21) should be 42'\nprint('correct')"),
        nbformat.v4.new_code_cell("def area(r):\n    # BEGIN SOLUTION\n    return math.pi * r**2\n    # END SOLUTION"),
        nbformat.v4.new_code_cell("assert abs(area(1) - math.pi) < 1e-12\nprint('correct')"),
        nbformat.v4.new_code_cell("print(double(area(1)))"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's gradebook, on SQLAlchemy 2
def test_nbgrader_releases_this_edition_and_autogrades_its_checks(tmp_path):
    """``--source`` writes nbgrader's source version; ``nbgrader generate_assignment`` releases from it exactly our
    student edition (code and metadata), and ``nbgrader autograde`` gives a submission with the solutions put
    back every point, and the untouched student edition none."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    course = tmp_path / "course"
    (tmp_path / "nbs").mkdir()
    nbformat.write(_tiny_course_notebook(), tmp_path / "nbs" / "tiny.ipynb")
    write_student_edition(tmp_path / "nbs", tmp_path / "student", source_dir=course / "source" / "ps1")
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "course"
    config.CourseDirectory.db_assignments = [{"name": "ps1"}]
    config.CourseDirectory.db_students = [{"id": "solved"}, {"id": "unsolved"}]
    api = NbGraderAPI(config=config)
    result = api.generate_assignment("ps1")
    assert result["success"], result["log"]
    released = nbformat.read(course / "release" / "ps1" / "tiny.ipynb", as_version=4)
    ours = nbformat.read(tmp_path / "student" / "tiny.ipynb", as_version=4)
    assert [c.source for c in released.cells] == [c.source for c in ours.cells]
    assert [c.metadata.get("nbgrader") for c in released.cells] == [c.metadata.get("nbgrader") for c in ours.cells]
    solutions = nbformat.read(tmp_path / "nbs" / "tiny.ipynb", as_version=4)
    for student, nb in [("solved", restore_solutions(ours, solutions)), ("unsolved", ours)]:
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / "ps1" / "tiny.ipynb")
        (course / "submitted" / student / "ps1" / "timestamp.txt").write_text("2026-01-01 00:00:00")
        result = api.autograde("ps1", student)
        assert result["success"], result["log"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission("ps1", s).score for s in ("solved", "unsolved")}
        assert gradebook.find_submission("ps1", "solved").max_score == 2
    assert scores == {"solved": 2, "unsolved": 0}


# --- the student edition, executed: an unsolved exercise fails only its own check ------------------------------

SLOW = pytest.mark.skipif(
    os.environ.get("COURSE_SLOW_TESTS", "1").strip().lower() in ("0", "false", "no", "off"),
    reason="executes whole notebooks (minutes each); COURSE_SLOW_TESTS=0 skips them",
)
EXERCISE_NOTEBOOKS = [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if exercise_cells(nbformat.read(p, as_version=4))]


def test_exercise_cells():
    nb = nbformat.v4.new_notebook()
    solution = "if x:\n    # BEGIN SOLUTION\n    y = 2\n    # END SOLUTION\nassert y == 2"
    nb.cells = [
        nbformat.v4.new_markdown_cell("# BEGIN SOLUTION"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(solution),
    ]
    assert exercise_cells(nb) == [2]


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=[p.stem for p in EXERCISE_NOTEBOOKS])
def test_unsolved_exercises_fail_only_their_own_checks(path):
    """The student edition, run top to bottom: each exercise fails in exactly one cell, its own or the check cell
    right after it, and every other cell runs (the rest of the notebook uses the reference).

    Run as a dry run of the fast profile (every training capped at a couple of steps, claims printed, not
    asserted): what is tested is the notebook's dependency on the exercises, not its training, and nbval
    already runs the whole fast profile once."""
    if path.stem in NOT_YET_CONVERTED:
        pytest.skip(f"{path.stem}: {NOT_YET_CONVERTED[path.stem]}; its exercises are not yet in their own cells")
    solutions = nbformat.read(path, as_version=4)
    exercises = exercise_cells(solutions)
    code = [i for i, c in enumerate(solutions.cells) if c.cell_type == "code"]
    own = {i: {i, next((j for j in code if j > i), i)} for i in exercises}  # the exercise cell and the next code cell
    nb, _ = student_notebook(solutions)
    env = {"COURSE_PROFILE": "fast", "COURSE_SEED": "0", "COURSE_DRY_RUN": "1", "COURSE_CLAIMS_LOG": None}
    _, errors, seconds = execute_notebook(nb, env=env, cwd=NOTEBOOKS, name=path.stem)
    failing = sorted({e.cell for e in errors})
    print(
        f"{path.stem} (student edition): {len(failing)} failing cell(s) for {len(exercises)} exercise(s), {seconds:.0f} s"
    )
    ok = all(len(own[i] & set(failing)) == 1 for i in exercises) and set(failing) <= set().union(*own.values())
    listing = "\n".join(
        f"  {e}" + ("" if any(e.cell in o for o in own.values()) else "  <- not an exercise") for e in errors
    )
    assert ok, (
        f"{path.name}: the student edition fails in {len(failing)} cell(s) for {len(exercises)} exercise(s) "
        f"(exercise cells {exercises}); an unsolved exercise must fail only its own check:\n{listing}"
    )
