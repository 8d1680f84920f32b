"""The Jupyter Book builds offline with no warning and reads in a real browser; the slides build from the headings.

The book is built once per test session (``make book``'s own command, into a temporary folder): Sphinx with
warnings as errors, so a broken reference fails here. The browser test opens the built book in headless Chromium
(Debian's ``chromium``, driven by Playwright, as in ``tests/test_browser.py``; skipped without it) and checks a
notebook page's figures, its ``.ipynb`` download and the search page. ``COURSE_SCREENSHOT_DIR`` keeps the
screenshots.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from course_lib.tools.book import BookBuildError, build_book, build_slides, notebooks, slide_types

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ["README", "reports/claims", "course_lib/README", "data/README"]  # the book's pages besides the notebooks


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The course's book, built as ``make book`` builds it: its ``_build/html`` folder."""
    index, _ = build_book(tmp_path_factory.mktemp("book"))
    return index.parent


def _toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_the_toc_has_every_notebook_in_lecture_order():
    """A notebook left out of book/_toc.yml would be left out of the book silently (``only_build_toc_files``)."""
    files = _toc_files(yaml.safe_load((ROOT / "book" / "_toc.yml").read_text()))
    lectures = [f for f in files if f.startswith("notebooks/")]
    assert lectures == [f"notebooks/{p.stem}" for p in notebooks(ROOT)], "book/_toc.yml: every notebook, in order"
    assert [f for f in files if not f.startswith("notebooks/")] == PAGES


def test_the_book_has_every_page_and_each_notebook_to_download(book):
    assert (book / "index.html").exists() and (book / "search.html").exists() and (book / "searchindex.js").exists()
    for name in PAGES:
        assert (book / f"{name}.html").exists(), name
    for path in notebooks(ROOT):
        page = (book / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert f'href="../_sources/notebooks/{path.name}"' in page, f"{path.stem}: no .ipynb download button"
        assert (book / "_sources" / "notebooks" / path.name).exists()
    readme = (book / "README.html").read_text(encoding="utf-8")
    assert 'href="notebooks/01_history_and_lenet.html"' in readme and 'href="reports/claims.html"' in readme


def test_a_broken_reference_fails_the_build(tmp_path):
    """The course's configuration on a two-page book: links to a page, to a heading of another page and to an
    in-page anchor resolve; a link to a missing file and one to a missing anchor are the two warnings, and they
    fail the build."""
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "_config.yml", tmp_path / "book" / "_config.yml")
    toc = {"format": "jb-book", "root": "README", "chapters": [{"file": "other"}]}
    (tmp_path / "book" / "_toc.yml").write_text(yaml.safe_dump(toc))
    (tmp_path / "other.md").write_text("# Other\n\n## A section\n\nBack to [the start](README.md).\n")
    (tmp_path / "README.md").write_text(
        "# Start\n\nSee [other](other.md), [its section](other.md#a-section), [below](#below) and $e^{i\\pi} = -1$.\n\n"
        "## Below\n\nA [broken link](notes/missing.md) and [a missing anchor](#nowhere).\n"
    )
    with pytest.raises(BookBuildError, match=r"2 warning\(s\)") as failure:
        build_book(tmp_path / "out", root=tmp_path)
    assert "'notes/missing.md'" in str(failure.value) and "'nowhere'" in str(failure.value)
    assert "book/_toc.yml" in str(failure.value)  # the message says what to do


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `apt-get install -y chromium` (Debian) enables this test")
def test_the_book_in_a_browser(book, tmp_path):
    """A reader opens the book: the contents list the lectures in order, notebook 01's page shows every figure it
    was committed with, and the search page finds it."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the [dev] extra)")
    shots = Path(os.environ.get("COURSE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(ROOT / "notebooks" / "01_history_and_lenet.ipynb", as_version=4)
    figures = sum(
        any(k.startswith("image/") for k in out.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code"
        for out in c.outputs
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto((book / "index.html").as_uri())
            page.wait_for_url("**/README.html")  # index.html redirects to the home page, the README
            nav = page.locator("nav.bd-docs-nav a.reference.internal")
            hrefs = [h for h in nav.evaluate_all("els => els.map(e => e.getAttribute('href'))") if "notebooks/" in h]
            assert hrefs == [f"notebooks/{p.stem}.html" for p in notebooks(ROOT)], "the sidebar: lectures in order"
            nav.filter(has_text="LeNet").first.click()
            page.wait_for_url("**/notebooks/01_history_and_lenet.html")
            page.wait_for_load_state("load")
            images = page.locator(".cell_output img")
            loaded = images.evaluate_all("els => els.filter(e => e.complete && e.naturalWidth > 0).length")
            assert images.count() == figures and loaded == figures, (images.count(), loaded, figures)
            assert page.locator("a[href$='01_history_and_lenet.ipynb']").count() >= 1, "the .ipynb download"
            page.screenshot(path=str(shots / "book_01_history_and_lenet.png"))
            page.goto((book / "search.html").as_uri() + "?q=LeNet")
            results = page.locator("#search-results ul.search li")
            results.first.wait_for(timeout=30_000)
            titles = results.all_inner_texts()
            page.screenshot(path=str(shots / "book_search.png"))
        finally:
            browser.close()
    assert any(t.startswith("01 ·") for t in titles), titles


def test_slides_follow_the_headings(tmp_path):
    path = min(notebooks(ROOT), key=lambda p: p.stat().st_size)  # the smallest notebook: a quick build
    nb = slide_types(nbformat.read(path, as_version=4))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 1 + sum(c.source.startswith("## ") for c in nb.cells[1:])
    (page,) = build_slides(tmp_path, only=[path.stem])
    text = page.read_text(encoding="utf-8")
    assert "reveal" in text and text.count("<section") >= kinds.count("slide")
