"""The course as a Jupyter Book and as slides, built offline from the committed notebooks.

``make book`` (``python -m course_lib.tools.book book [out/]``) runs Jupyter Book 1.x (Sphinx) on the repository:
``book/_config.yml`` and ``book/_toc.yml`` (the README as home page, the notebooks in lecture order, the claims
report, the concept index and the data notes), the repository root as source folder, so every file stays where it
is and its links work both on GitHub and in the book. Nothing is executed (``execute_notebooks: "off"``: the
committed outputs are the book) and nothing is fetched (no intersphinx inventory); the browser loads MathJax to
render the formulas. Warnings are errors (``-W -n --keep-going``): a link to a page that is not in the book, or a
file left out of the table of contents, fails the build and the log names it. The book lands in
``<out>/_build/html/`` (``index.html``): full-text search, a navigation sidebar, and each notebook's ``.ipynb``
to download from its page.

``make slides`` (``python -m course_lib.tools.book slides [out/]``) writes reveal.js slides of every notebook
with ``nbconvert --to slides``. Lecture mode needs no hand-kept metadata: a ``##`` heading starts a slide, a
``###`` heading a sub-slide, and every other cell continues the current one; a cell whose metadata already
says ``slideshow.slide_type`` keeps it. Cells tagged ``remove-slide`` (or setup cells: the first code cell)
are skipped.
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from ..config import repo_root

BOOK_DIR = "book"  # the folder of _config.yml and _toc.yml, relative to the source folder
STRICT = ["-W", "-n", "--keep-going"]  # every warning (a missing reference, nitpicky included) fails the build
JUPYTER_BOOK = "from jupyter_book.cli.main import main; main()"  # jupyter-book's own command line, this Python's


class BookBuildError(RuntimeError):
    """``jupyter-book build`` failed or warned; the message lists the warnings and the end of the log."""


def notebooks(root: Path) -> list[Path]:
    """The course's notebooks in lecture order (their numbers: 01, 02, ..., 05a, 05b, 06a, ...)."""
    return sorted((root / "notebooks").glob("*.ipynb"))


def build_book(out: str | Path | None = None, root: Path | None = None) -> tuple[Path, str]:
    """Build the Jupyter Book of ``root`` (default: this repository) into ``out/_build/html``, warnings as errors.

    Returns the path of the book's ``index.html`` and the build log.

    Raises:
        ModuleNotFoundError: when Jupyter Book is not installed.
        BookBuildError: when the build fails or warns; the message lists the warnings.
    """
    try:
        import jupyter_book  # noqa: F401  (checked here to say how to install it; the build runs in a subprocess)
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("the book needs Jupyter Book 1.x: pip install -e '.[dev]' (jupyter-book<2)") from e
    root = Path(root or repo_root()).resolve()
    out = Path(out or root).resolve()
    config, toc = root / BOOK_DIR / "_config.yml", root / BOOK_DIR / "_toc.yml"
    missing = [str(p) for p in (config, toc) if not p.exists()]
    if missing:
        raise FileNotFoundError(f"the book's configuration is missing: {', '.join(missing)}")
    cmd = [sys.executable, "-c", JUPYTER_BOOK, "build", str(root), "--config", str(config), "--toc", str(toc)]
    cmd += ["--path-output", str(out), *STRICT]
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)  # without the terminal colours
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    if run.returncode or warnings:
        listing = "\n".join(warnings) or log[-3000:]
        raise BookBuildError(
            f"jupyter-book build failed (exit {run.returncode}, {len(warnings)} warning(s)):\n{listing}\n"
            f"Fix each reference named above, or add the page it points to to {toc.relative_to(root)}."
        )
    return out / "_build" / "html" / "index.html", log


def slide_types(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with lecture-mode slide metadata (see the module docstring); explicit metadata wins."""
    nb = copy.deepcopy(nb)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    for i, cell in enumerate(nb.cells):
        show = cell.metadata.setdefault("slideshow", {})
        if "slide_type" in show:
            continue
        head = cell.source.lstrip() if cell.cell_type == "markdown" else ""
        if i == 0 or head.startswith("## "):
            show["slide_type"] = "slide"
        elif head.startswith("### "):
            show["slide_type"] = "subslide"
        elif i == first_code or "remove-slide" in cell.metadata.get("tags", []):
            show["slide_type"] = "skip"
        else:
            show["slide_type"] = "-"
    return nb


def build_slides(out: str | Path, root: Path | None = None, only: list[str] | None = None) -> list[Path]:
    """Write ``<notebook>.slides.html`` (reveal.js) for every notebook, or those whose stem is in ``only``."""
    from nbconvert import SlidesExporter

    root = root or repo_root()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks(root):
        if only and path.stem not in only:
            continue
        body, _ = SlidesExporter().from_notebook_node(slide_types(nbformat.read(path, as_version=4)))
        page = out / f"{path.stem}.slides.html"
        page.write_text(body, encoding="utf-8")
        written.append(page)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the course's Jupyter Book or its slides (offline).")
    parser.add_argument("what", choices=("book", "slides"))
    parser.add_argument(
        "out",
        nargs="?",
        type=Path,
        default=None,
        help="book: into <out>/_build/html (default: the repository root); slides: into <out> (default: _build/slides)",
    )
    parser.add_argument("--only", nargs="*", default=None, help="slides: these notebook stems only")
    args = parser.parse_args(argv)
    if args.what == "book":
        try:
            index, _ = build_book(args.out)
        except BookBuildError as e:
            raise SystemExit(str(e)) from None
        print(f"built the book; open {index}")
    else:
        out = args.out or repo_root() / "_build" / "slides"
        pages = build_slides(out, only=args.only)
        print(f"wrote {len(pages)} deck(s) to {out}" + (f"; open {pages[0]}" if pages else ""))


if __name__ == "__main__":
    main()
