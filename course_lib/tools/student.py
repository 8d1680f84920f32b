"""Write the student edition of the notebooks with nbgrader's own preprocessors: solutions cleared, no output kept.

Exercise cells mark their solution lines the nbgrader way::

    # BEGIN SOLUTION
    c1_params = 6 * (5 * 5 + 1)
    # END SOLUTION

The student edition is what ``nbgrader generate_assignment`` releases from these notebooks:

1. nbgrader cell metadata (:func:`mark_cells`): each cell holding a solution region is a *solution* cell
   (``grade_id`` ``exercise-<k>``), and the code cell right after it, which checks it (it uses a name the exercise
   defines), an *autograder test* cell worth one point (``exercise-<k>-check``), so that ``nbgrader autograde``
   grades the checks;
2. ``ClearSolutions``: each region becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, at its
   indentation;
3. ``ClearOutput``: every output is cleared, nbgrader's default. Clearing only the exercise and check cells would
   not be enough: the answers reappear in outputs computed with the reference implementation (01's LeNet-5 summary
   lists C3's 1,516 parameters, 02's AlexNet summary conv1's 34,944, 05b's sliding windows count 121 windows per
   scene), so an edition that kept any output could give answers away. The executed notebooks are in the book;
4. ``LockCells``, ``ComputeChecksums`` and ``CheckCellMetadata``, as ``generate_assignment`` runs them.

Usage::

    python -m course_lib.tools.student [notebooks/] [student/] [--source DIR]

``--source DIR`` also writes the solution notebooks with that metadata: nbgrader's ``source/<assignment>/``
version, from which ``nbgrader generate_assignment`` releases the same student edition and ``nbgrader autograde``
grades submissions (``tests/test_student_edition.py`` runs both on a small notebook).
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import nbformat

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"  # nbgrader's delimiters: a line that contains one is a marker
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]  # nbgrader's ClearSolutions.code_stub["python"]
SCHEMA_VERSION = 3  # nbgrader's cell metadata format (nbgrader 0.9)


def solution_regions(source: str) -> list[list[str]]:
    """The lines of each ``BEGIN SOLUTION`` ... ``END SOLUTION`` region of ``source`` (markers included), in order.

    Raises:
        ValueError: on an unclosed, unopened or nested marker, naming its line (nbgrader would stop there too).
    """
    regions: list[list[str]] = []
    current: list[str] | None = None
    for i, line in enumerate(source.splitlines(), 1):
        if BEGIN in line:
            if current is not None:
                raise ValueError(f"line {i}: nested '# {BEGIN}': close the first region with '# {END}'")
            current = [line]
        elif END in line:
            if current is None:
                raise ValueError(f"line {i}: '# {END}' without '# {BEGIN}' above it")
            regions.append([*current, line])
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise ValueError(f"'# {BEGIN}' is never closed by '# {END}': add it after the solution's last line")
    return regions


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices (in ``nb.cells``) of the code cells holding a solution region: one exercise each.

    The exercise's check is in the next code cell; the student edition, run top to bottom, must fail there or in
    the exercise cell and nowhere else: one failing cell per exercise (``tests/test_student_edition.py`` runs it)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and BEGIN in c.source]


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds, names it reads), from its code without IPython's ``%`` and ``!`` lines."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:  # not Python: every identifier counts as both
        words = set(re.findall(r"[A-Za-z_]\w*", code))
        return words, words
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read


def check_cell(nb: nbformat.NotebookNode, exercise: int) -> int | None:
    """Index of the cell that checks the exercise at ``exercise``: the next code cell, when it reads a name the
    exercise cell defines (``None`` otherwise: the exercise then checks itself, and nbgrader cannot grade it)."""
    following = next((j for j in range(exercise + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"), None)
    if following is None:
        return None
    defined, _ = _names(nb.cells[exercise].source)
    _, read = _names(nb.cells[following].source)
    return following if defined & read and BEGIN not in nb.cells[following].source else None


def mark_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with nbgrader's cell metadata: solution cells and their checks (see the module docstring).

    Cells that already carry ``nbgrader`` metadata (an instructor's own) keep it.

    Raises:
        ValueError: on unbalanced solution markers, naming the cell and the line.
    """
    nb = nbformat.from_dict(nb)  # deep copy
    exercise = 0
    for i, cell in enumerate(nb.cells):
        try:
            regions = solution_regions(cell.source)
        except ValueError as e:
            raise ValueError(f"cell {i} ({cell.cell_type}): {e}") from None
        if not regions or "nbgrader" in cell.metadata:
            continue
        exercise += 1
        grade_id = f"exercise-{exercise}" if cell.cell_type == "code" else f"answer-{exercise}"
        cell.metadata["nbgrader"] = {
            "grade": False,
            "grade_id": grade_id,
            "locked": False,
            "schema_version": SCHEMA_VERSION,
            "solution": True,
            "task": False,
        }
        j = check_cell(nb, i) if cell.cell_type == "code" else None
        if j is not None and "nbgrader" not in nb.cells[j].metadata:
            nb.cells[j].metadata["nbgrader"] = {
                "grade": True,
                "grade_id": f"{grade_id}-check",
                "locked": True,
                "points": 1,
                "schema_version": SCHEMA_VERSION,
                "solution": False,
                "task": False,
            }
    return nb


def student_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """The student edition of ``nb`` (a copy; see the module docstring); returns it and the solution regions cleared.

    Raises:
        ValueError: on unbalanced solution markers, naming the cell and the line.
    """
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, ClearSolutions, ComputeChecksums, LockCells

    nb = mark_cells(nb)
    regions = sum(len(solution_regions(c.source)) for c in nb.cells)
    resources: dict = {}
    for step in (ClearSolutions(), ClearOutput(), LockCells(), ComputeChecksums(), CheckCellMetadata()):
        nb, resources = step.preprocess(nb, resources)
    return nb, regions


def restore_solutions(student: nbformat.NotebookNode, solutions: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Put the solution regions of ``solutions`` back into the stubs of its student edition ``student``.

    The inverse of :func:`student_notebook` on the exercise cells: the result's code equals the solution notebook's,
    whatever the student wrote elsewhere in those cells is replaced too (the cells are matched by position).

    Raises:
        ValueError: when the two notebooks do not have the same cells, or a stub has no solution region.
    """
    if len(student.cells) != len(solutions.cells):
        raise ValueError(f"the student notebook has {len(student.cells)} cells, the solutions {len(solutions.cells)}")
    nb = nbformat.from_dict(student)
    stub_end = {STUB[1], STUB[1].removesuffix("()")}  # older editions raised NotImplementedError without the call
    for cell, sol in zip(nb.cells, solutions.cells):
        regions = solution_regions(sol.source) if sol.cell_type == "code" else []
        if not regions:
            continue
        lines, out, k = cell.source.splitlines(), [], 0
        i = 0
        while i < len(lines):
            if lines[i].strip() == STUB[0] and i + 1 < len(lines) and lines[i + 1].strip() in stub_end:
                if k == len(regions):
                    raise ValueError(f"more stubs than solution regions in cell:\n{cell.source}")
                out += regions[k]
                k, i = k + 1, i + 2
            else:
                out.append(lines[i])
                i += 1
        if k != len(regions):
            raise ValueError(f"cell has {k} stub(s) for {len(regions)} solution region(s):\n{cell.source}")
        cell.source = "\n".join(out)
    return nb


def write_student_edition(
    src_dir: str | Path = "notebooks", dst_dir: str | Path = "student", source_dir: str | Path | None = None
) -> dict[str, int]:
    """Write the student edition of every ``*.ipynb`` of ``src_dir`` into ``dst_dir``.

    With ``source_dir``, also write there the solution notebooks with nbgrader's metadata (nbgrader's source
    version). Returns ``{notebook name: solution regions cleared}``. Each written notebook is validated against
    the notebook format's schema.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    if src_dir.resolve() == dst_dir.resolve():
        raise ValueError("the student edition must go to another folder than the solutions")
    paths = sorted(src_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {src_dir}")
    dst_dir.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        Path(source_dir).mkdir(parents=True, exist_ok=True)
    report = {}
    for path in paths:
        solutions = nbformat.read(path, as_version=4)
        try:
            nb, n = student_notebook(solutions)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        nbformat.validate(nb)
        nbformat.write(nb, dst_dir / path.name)
        if source_dir is not None:
            nbformat.write(mark_cells(solutions), Path(source_dir) / path.name)
        report[path.name] = n
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", nargs="?", default="notebooks", help="folder of solution notebooks")
    parser.add_argument("dst", nargs="?", default="student", help="folder to write the student edition to")
    parser.add_argument("--source", default=None, help="also write the solutions with nbgrader metadata here")
    args = parser.parse_args(argv)
    try:
        report = write_student_edition(args.src, args.dst, args.source)
    except ValueError as e:
        raise SystemExit(f"{e}\nFix the solution markers of that cell, then rerun.") from None
    for name, n in report.items():
        print(f"{name}: {n} solution region(s) cleared")
    print(f"student edition written to {args.dst}/ (every output cleared)")
    if args.source:
        print(f"solutions with nbgrader metadata written to {args.source}/ (nbgrader's source/<assignment>/)")


if __name__ == "__main__":
    main()
