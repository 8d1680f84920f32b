"""Execute a notebook in a fresh kernel, the one way the course's tools and tests do it.

Used by the claims report (``python -m course_lib.tools.claims``), the full-profile dry-run test
and the student-edition test::

    nb, errors, seconds = execute_notebook("notebooks/03_modules.ipynb", env={"COURSE_SEED": "1"})

The kernel starts in the notebook's folder with the current environment plus ``env``, and by default
``COURSE_PROGRESS=0``, ``MPLBACKEND=Agg``, ``COURSE_NOTEBOOK=<stem>`` and a fresh, temporary
``COURSE_CHECKPOINT_DIR`` (removed afterwards), so that no cached model is reloaded.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellError:
    """An error raised by one code cell: its index in ``nb.cells``, the exception name and message."""

    cell: int
    ename: str
    evalue: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.ename}: {self.evalue}"


class Execution(NamedTuple):
    """What :func:`execute_notebook` returns: the executed notebook, its cell errors, the wall time in seconds."""

    nb: nbformat.NotebookNode
    errors: list[CellError]
    seconds: float


def cell_errors(nb: nbformat.NotebookNode) -> list[CellError]:
    """The error outputs of an executed notebook, in cell order."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                errors.append(CellError(index, out.get("ename", ""), _ANSI.sub("", out.get("evalue", "")), tb))
    return errors


def execute_notebook(
    path: str | Path | nbformat.NotebookNode,
    env: dict[str, str] | None = None,
    *,
    allow_errors: bool = True,
    timeout: int = 900,
    cwd: str | Path | None = None,
    name: str | None = None,
) -> Execution:
    """Run every cell of a notebook, top to bottom, in a fresh kernel.

    Args:
        path: the ``.ipynb`` file, or a notebook already read (then give ``cwd`` and ``name``).
        env: variables set in the kernel on top of the current environment and the defaults above
            (a value of ``None`` removes the variable).
        allow_errors: ``True`` runs every cell whatever fails; ``False`` stops at the first error.
        timeout: seconds allowed per cell; a cell over it is recorded as a ``CellTimeoutError``.
        cwd: the kernel's working directory (default: the notebook's folder).
        name: the notebook's name for ``COURSE_NOTEBOOK`` (default: the file's stem).

    Returns:
        ``(nb, errors, seconds)``: the executed copy (the file is not written), the :class:`CellError` s in
        cell order (a timed-out cell or a dead kernel included, at the cell it happened in), and the wall time.
    """
    if isinstance(path, str | Path):
        path = Path(path)
        nb = nbformat.read(path, as_version=4)
        cwd = path.parent if cwd is None else cwd
        name = path.stem if name is None else name
    else:
        nb = nbformat.from_dict(path)
    cwd = Path.cwd() if cwd is None else Path(cwd)
    current = {"cell": -1}

    with tempfile.TemporaryDirectory(prefix="course-ckpt-") as ckpt:
        kernel_env = dict(os.environ)
        kernel_env.update(COURSE_PROGRESS="0", MPLBACKEND="Agg", COURSE_CHECKPOINT_DIR=ckpt)
        if name:
            kernel_env["COURSE_NOTEBOOK"] = name
        for key, value in (env or {}).items():
            if value is None:
                kernel_env.pop(key, None)
            else:
                kernel_env[key] = str(value)
        client = NotebookClient(
            nb,
            timeout=timeout,
            allow_errors=allow_errors,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
            on_cell_execute=lambda cell, cell_index: current.update(cell=cell_index),
        )
        start = time.perf_counter()
        extra: CellError | None = None
        try:
            client.execute(env=kernel_env, cwd=str(cwd))
        except CellExecutionError:
            pass  # allow_errors=False: the error is in the cell's outputs
        except Exception as err:  # a timed-out cell, a dead kernel (nbclient's cleanup may then fail too)
            cause = next((e for e in (err, err.__context__) if isinstance(e, CellTimeoutError | DeadKernelError)), err)
            message = str(cause).strip().splitlines()
            extra = CellError(current["cell"], type(cause).__name__, message[0] if message else "")
        seconds = time.perf_counter() - start
    errors = cell_errors(nb)
    if extra is not None:  # it replaces the KeyboardInterrupt that a timeout leaves in the cell
        errors = sorted([e for e in errors if e.cell != extra.cell] + [extra], key=lambda e: e.cell)
    return Execution(nb, errors, seconds)
