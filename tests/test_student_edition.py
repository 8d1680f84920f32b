from pathlib import Path

import nbformat
import pytest

from course_lib.tools.student import strip_solution, student_notebook, write_student_edition

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_strip_solution_keeps_indentation_and_other_lines():
    src = "a = 1\nif a:\n    # BEGIN SOLUTION\n    b = 2\n    c = 3\n    # END SOLUTION\nprint(a)"
    out, n = strip_solution(src)
    assert n == 1
    assert out == "a = 1\nif a:\n    # YOUR CODE HERE\n    raise NotImplementedError\nprint(a)"


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx", "x\n# END SOLUTION", "# BEGIN SOLUTION\n# BEGIN SOLUTION\n"])
def test_strip_solution_rejects_unbalanced_markers(bad):
    with pytest.raises(ValueError):
        strip_solution(bad)


def test_student_edition_of_every_notebook(tmp_path):
    report = write_student_edition(NOTEBOOKS, tmp_path)
    assert set(report) == {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert sum(report.values()) >= 1, "the notebooks should hold at least one exercise"
    for name in report:
        sol = nbformat.read(NOTEBOOKS / name, as_version=4)
        stu = nbformat.read(tmp_path / name, as_version=4)
        nbformat.validate(stu)
        assert len(sol.cells) == len(stu.cells)
        for a, b in zip(sol.cells, stu.cells):
            if "BEGIN SOLUTION" in a.source:
                assert "BEGIN SOLUTION" not in b.source and "raise NotImplementedError" in b.source
                assert b.get("outputs", []) == []
            else:
                assert a == b  # every non-solution cell is kept, outputs included


def test_student_notebook_counts_blocks():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION"), nbformat.v4.new_markdown_cell("hi")]
    out, n = student_notebook(nb)
    assert n == 1 and "x = 1" not in out.cells[0].source and nb.cells[0].source.startswith("# BEGIN")
    with pytest.raises(ValueError, match="another folder"):
        write_student_edition(NOTEBOOKS, NOTEBOOKS)
