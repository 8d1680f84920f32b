"""The course as a static site and as slides, built offline from the committed notebooks.

``make book`` (``python -m course_lib.tools.book book [out/]``) writes one HTML page per notebook, with the
outputs it was committed with (figures embedded), plus the README, the claims report, the package's concept
index and the data notes, and an index page whose table of contents follows the lectures (the notebooks'
numbers). Links between them are rewritten to the pages (``notebooks/04_transfer.ipynb`` ->
``04_transfer.html``); a link to anything else in the repository becomes plain text, so the site has no dead
internal link. Nothing is fetched: only MathJax, loaded by the browser when online, renders the formulas.

``make slides`` (``python -m course_lib.tools.book slides [out/]``) writes reveal.js slides of every notebook
with ``nbconvert --to slides``. Lecture mode needs no hand-kept metadata: a ``##`` heading starts a slide, a
``###`` heading a sub-slide, and every other cell continues the current one; a cell whose metadata already
says ``slideshow.slide_type`` keeps it. Cells tagged ``remove-slide`` (or setup cells: the first code cell)
are skipped.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
from pathlib import Path

import mistune
import nbformat

from ..config import repo_root

PAGES = {  # repository markdown files that become pages: path -> (page, title)
    "README.md": ("readme.html", "About the course"),
    "reports/claims.md": ("claims.html", "Lecture claims: the report"),
    "course_lib/README.md": ("course_lib.html", "course_lib: concept index"),
    "data/README.md": ("data.html", "Data shipped with the course"),
}
LINK = re.compile(r'(href|src)="([^"#?]*)([^"]*)"')
STYLE = """<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;vertical-align:top}
code{background:#f4f4f4;padding:0 .2rem}pre code{display:block;padding:.5rem;overflow-x:auto}
nav{margin-bottom:1rem}</style>"""


def notebooks(root: Path) -> list[Path]:
    """The course's notebooks in lecture order (their numbers: 01, 02, ..., 05a, 05b, 06a, ...)."""
    return sorted((root / "notebooks").glob("*.ipynb"))


def page_of(target: str, source: Path, root: Path) -> str | None:
    """The book page a repository link points to (``None``: not part of the book), from a file at ``source``."""
    if re.match(r"^[a-z]+:|^//", target) or not target:
        return target or None  # external (http:, mailto:) or a pure #anchor
    path = (source.parent / target).resolve()
    try:
        rel = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    if rel in PAGES:
        return PAGES[rel][0]
    if rel.startswith("notebooks/") and rel.endswith(".ipynb"):
        return Path(rel).stem + ".html"
    return None


def rewrite_links(text: str, source: Path, root: Path) -> str:
    """Point links at book pages; unwrap ``<a>`` elements whose target is not in the book (``<img>`` kept as is)."""

    def repl(m: re.Match) -> str:
        attr, target, rest = m.groups()
        if attr == "src" or target.startswith("data:"):
            return m.group(0)
        page = page_of(target, source, root)
        return f'{attr}="{page}{rest}"' if page else 'data-unlinked="1"'

    text = LINK.sub(repl, text)
    return re.sub(r"<a ([^>]*)data-unlinked=\"1\"([^>]*)>(.*?)</a>", r"<span>\3</span>", text, flags=re.S)


def wrap(title: str, body: str, nav: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{STYLE}</head>"
        f"<body><nav>{nav}</nav>{body}</body></html>\n"
    )


def build_book(out: str | Path, root: Path | None = None) -> list[Path]:
    """Write the site into ``out``; returns the pages written (the index first)."""
    from nbconvert import HTMLExporter

    root = root or repo_root()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    nav = "<a href='index.html'>Contents</a>"
    written = []
    exporter = HTMLExporter()  # JupyterLab's look; figures are embedded as data URIs
    toc = []
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(nb)
        body = rewrite_links(body, path, root)
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + f"<nav style='margin:1rem'>{nav}</nav>", body, count=1)
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        written.append(page)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        toc.append(f"<li><a href='{page.name}'>{html.escape(title)}</a></li>")
    extra = []
    for rel, (name, title) in PAGES.items():
        source = root / rel
        if not source.exists():
            continue
        body = rewrite_links(mistune.html(source.read_text(encoding="utf-8")), source, root)
        (out / name).write_text(wrap(title, body, nav), encoding="utf-8")
        written.append(out / name)
        extra.append(f"<li><a href='{name}'>{html.escape(title)}</a></li>")
    index = (
        f"<h1>Deep learning, as runnable and tested notebooks</h1><h2>Notebooks, in lecture order</h2>"
        f"<ol>{''.join(toc)}</ol><h2>About</h2><ul>{''.join(extra)}</ul>"
    )
    (out / "index.html").write_text(wrap("Contents", index, ""), encoding="utf-8")
    return [out / "index.html", *written]


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
    parser = argparse.ArgumentParser(description="Build the course's static site or slides (offline).")
    parser.add_argument("what", choices=("book", "slides"))
    parser.add_argument("out", nargs="?", type=Path, default=None, help="default: _build/book or _build/slides")
    parser.add_argument("--only", nargs="*", default=None, help="slides: these notebook stems only")
    args = parser.parse_args(argv)
    out = args.out or repo_root() / "_build" / args.what
    pages = build_book(out) if args.what == "book" else build_slides(out, only=args.only)
    print(f"wrote {len(pages)} page(s) to {out}; open {pages[0]}")


if __name__ == "__main__":
    main()
