"""The static site and the slides build offline from the committed notebooks, with no dead internal link."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course_lib.tools.book import build_book, build_slides, notebooks, rewrite_links, slide_types

ROOT = Path(__file__).resolve().parent.parent


def test_links_point_at_pages_or_become_text():
    source = ROOT / "README.md"
    text = '<a href="notebooks/04_transfer.ipynb">04</a> <a href="course_lib/">pkg</a> <a href="https://x.org/a">x</a>'
    out = rewrite_links(text, source, ROOT)
    assert '<a href="04_transfer.html">04</a>' in out and "<span>pkg</span>" in out and 'href="https://x.org/a"' in out


def test_book_has_every_notebook_and_no_dead_link(tmp_path):
    pages = build_book(tmp_path)
    assert pages[0].name == "index.html"
    names = {p.name for p in pages}
    assert {f"{p.stem}.html" for p in notebooks(ROOT)} <= names and {"readme.html", "claims.html"} <= names
    index = (tmp_path / "index.html").read_text()
    order = [m for m in re.findall(r"href='([^']+)'", index) if m[:2].isdigit()]
    assert order == sorted(order) and len(order) == len(notebooks(ROOT)), "contents in lecture order"
    for page in pages:
        for target in re.findall(r"""href=["']([^"'#?]+)""", page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:|^//", target):
                continue  # external
            assert (tmp_path / target).exists(), f"{page.name} links to missing {target}"


def test_slides_follow_the_headings(tmp_path):
    path = min(notebooks(ROOT), key=lambda p: p.stat().st_size)  # the smallest notebook: a quick build
    nb = slide_types(nbformat.read(path, as_version=4))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 1 + sum(c.source.startswith("## ") for c in nb.cells[1:])
    (page,) = build_slides(tmp_path, only=[path.stem])
    text = page.read_text(encoding="utf-8")
    assert "reveal" in text and text.count("<section") >= kinds.count("slide")
