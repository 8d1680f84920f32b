"""The package layout: the concept index names real files, every module is indexed, one training loop, small files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "course_lib"
INDEX = (PKG / "README.md").read_text()


def _indexed_files() -> set[str]:
    return set(re.findall(r"`([\w/]+\.py)`", INDEX))


def test_every_file_named_by_the_concept_index_exists():
    missing = sorted(f for f in _indexed_files() if not (PKG / f).is_file())
    assert not missing, f"course_lib/README.md names files that do not exist: {missing}"


def test_every_module_appears_in_the_concept_index():
    modules = {
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if p.name != "__init__.py" and not p.name.startswith("_")
    }
    unindexed = sorted(modules - _indexed_files())
    assert not unindexed, f"add these modules to course_lib/README.md's concept index: {unindexed}"


def test_every_notebook_named_by_the_index_exists():
    names = set(re.findall(r"\b(\d\d[a-z]?_[a-z_]+)\b", INDEX))
    existing = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    planned = set(re.findall(r"\((\d\d[a-z]?), planned\)", INDEX))
    assert names, "the index names no notebook"
    assert not (names - existing), f"the index names notebooks that do not exist: {sorted(names - existing)}"
    assert all(not any(e.startswith(p + "_") for e in existing) for p in planned), "a planned notebook now exists"


def test_one_training_loop():
    """Only the engine calls backward() and steps an optimizer (the scalar autograd engine and the benchmark's
    reference loops excepted: the first is the lesson, the second is what the engine is measured against)."""
    allowed = {"engine/loop.py", "autograd.py", "tools/bench.py"}
    offenders = sorted(
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if str(p.relative_to(PKG)) not in allowed
        and re.search(r"\.backward\(|optimizer\.step\(|opt\.step\(", p.read_text())
    )
    assert not offenders, f"training steps outside course_lib/engine/loop.py: {offenders}"


def test_no_module_is_much_over_300_lines():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > 330}
    assert not long, f"split these modules (one idea per file): {long}"


def _notebook_code(path: Path) -> list[str]:
    import json

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_trains_through_the_cache():
    """No notebook calls the engine's ``fit(`` directly: ``fit_or_load`` caches every model, so that
    ``tools.pretrain`` leaves checkpoints for every notebook and a rerun reloads instead of retraining."""
    direct = re.compile(r"(?<![\w.])fit\(")
    for path in NOTEBOOKS:
        code = _notebook_code(path)
        calls = [i for i, src in enumerate(code) if direct.search(src)]
        assert not calls, f"{path.name}: code cells {calls} call fit( directly; use fit_or_load(..., name=...)"
        assert any("fit_or_load(" in src for src in code), f"{path.name} trains nothing through fit_or_load"


def test_the_library_trains_through_the_cache_too():
    """Outside the engine, library code trains through ``fit_or_load`` (methods.transfer, methods.generalization)."""
    direct = re.compile(r"(?<![\w.])fit\(")
    offenders = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if p.parent.name not in ("engine", "tools")
        and direct.search(re.sub(r"(?s)\"\"\".*?\"\"\"|#.*", "", p.read_text()))
    ]
    assert not offenders, f"fit( called directly (use fit_or_load): {offenders}"


def test_every_notebook_ends_with_assert_claims():
    """A failed claim never stops a lecture; the last code cell, ``assert_claims()``, fails the notebook instead."""
    for path in NOTEBOOKS:
        last = _notebook_code(path)[-1]
        assert re.search(r"^assert_claims\(\)$", last, re.M), (
            f"{path.name}: the last code cell must call assert_claims()"
        )
