"""Write the student edition of the notebooks: solutions removed, everything else kept.

Exercise cells mark their solution lines the way nbgrader does::

    # BEGIN SOLUTION
    c1_params = 6 * (5 * 5 + 1)
    # END SOLUTION

In the student edition each marked block becomes, at the same indentation::

    # YOUR CODE HERE
    raise NotImplementedError

and the outputs of the cells that had a solution are cleared. Cells without markers are copied
unchanged (outputs included). Usage::

    python -m course_lib.tools.student [notebooks/] [student/]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
STUB = ["# YOUR CODE HERE", "raise NotImplementedError"]


def strip_solution(source: str) -> tuple[str, int]:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by the stub.

    Returns the new source and the number of blocks replaced.

    Raises:
        ValueError: on an unclosed, unopened or nested marker.
    """
    out: list[str] = []
    blocks = 0
    indent: str | None = None
    for i, line in enumerate(source.splitlines(), 1):
        m = BEGIN.match(line)
        if m:
            if indent is not None:
                raise ValueError(f"line {i}: nested '# BEGIN SOLUTION'")
            indent = m.group(1)
            out += [indent + s for s in STUB]
            blocks += 1
        elif END.match(line):
            if indent is None:
                raise ValueError(f"line {i}: '# END SOLUTION' without '# BEGIN SOLUTION'")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError("'# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    return "\n".join(out), blocks


def solution_blocks(source: str) -> list[list[str]]:
    """The lines of each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block of ``source`` (markers included), in order."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in source.splitlines():
        if BEGIN.match(line):
            current = [line]
        elif current is not None:
            current.append(line)
            if END.match(line):
                blocks.append(current)
                current = None
    return blocks


def restore_solutions(student: nbformat.NotebookNode, solutions: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Put the solution blocks of ``solutions`` back into the stubs of its student edition ``student``.

    The inverse of :func:`student_notebook` on the exercise cells: the result's code equals the solution notebook's,
    whatever the student wrote elsewhere in those cells is replaced too (the cells are matched by position).

    Raises:
        ValueError: when the two notebooks do not have the same cells, or a stub has no solution block.
    """
    if len(student.cells) != len(solutions.cells):
        raise ValueError(f"the student notebook has {len(student.cells)} cells, the solutions {len(solutions.cells)}")
    nb = nbformat.from_dict(student)
    for cell, sol in zip(nb.cells, solutions.cells):
        blocks = solution_blocks(sol.source) if sol.cell_type == "code" else []
        if not blocks:
            continue
        lines, out, k = cell.source.splitlines(), [], 0
        i = 0
        while i < len(lines):
            if lines[i].strip() == STUB[0] and i + 1 < len(lines) and lines[i + 1].strip() == STUB[1]:
                if k == len(blocks):
                    raise ValueError(f"more stubs than solution blocks in cell:\n{cell.source}")
                out += blocks[k]
                k, i = k + 1, i + 2
            else:
                out.append(lines[i])
                i += 1
        if k != len(blocks):
            raise ValueError(f"cell has {k} stub(s) for {len(blocks)} solution block(s):\n{cell.source}")
        cell.source = "\n".join(out)
    return nb


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices (in ``nb.cells``) of the code cells holding a ``# BEGIN SOLUTION`` block: one exercise each.

    The exercise's check is in the same cell or in the next code cell; the student edition, run top to bottom,
    must fail there and nowhere else: one failing cell per exercise (``tests/test_student_edition.py`` runs it)."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and any(BEGIN.match(x) for x in c.source.splitlines())
    ]


def student_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` with solutions stripped from code cells; returns it and the blocks removed."""
    nb = nbformat.from_dict(nb)  # deep copy
    total = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src, n = strip_solution(cell.source)
        if n:
            cell.source = src
            cell.outputs = []
            cell.execution_count = None
            total += n
    return nb, total


def write_student_edition(src_dir: str | Path = "notebooks", dst_dir: str | Path = "student") -> dict[str, int]:
    """Write a student copy of every ``*.ipynb`` of ``src_dir`` into ``dst_dir``.

    Returns ``{notebook name: solution blocks removed}``. Each written notebook is validated
    against the notebook format schema.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    if src_dir.resolve() == dst_dir.resolve():
        raise ValueError("the student edition must go to another folder than the solutions")
    paths = sorted(src_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {src_dir}")
    dst_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for path in paths:
        nb, n = student_notebook(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        nbformat.write(nb, dst_dir / path.name)
        report[path.name] = n
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", nargs="?", default="notebooks", help="folder of solution notebooks")
    parser.add_argument("dst", nargs="?", default="student", help="folder to write the student edition to")
    args = parser.parse_args(argv)
    report = write_student_edition(args.src, args.dst)
    for name, n in report.items():
        print(f"{name}: {n} solution block(s) removed")
    print(f"student edition written to {args.dst}/")


if __name__ == "__main__":
    main()
