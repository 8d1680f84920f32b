"""The package layout: the concept index names real files, every module is indexed, one training loop, small files,
and every import follows the layer order of course_lib/README.md."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------- layers: what may import what


def _layer_levels() -> dict[str, int]:
    """``{layer: level}`` from the layer table of course_lib/README.md (rows ``| 3 | `ops` | ...``)."""
    section = INDEX.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M)
    return {name: int(level) for level, names in rows for name in re.findall(r"`(\w+)`", names)}


LEVELS = _layer_levels()


def _layer_of(parts: list[str]) -> str | None:
    """The layer of module ``course_lib.a.b`` (``"a"``); ``None`` for the package's top, ``course_lib`` itself."""
    return parts[1] if len(parts) > 1 else None


def _imported_modules(node: ast.Import | ast.ImportFrom, package: list[str]) -> list[list[str]]:
    """The ``course_lib`` modules an import statement reads, as dotted parts (relative imports resolved).

    ``from course_lib import engine`` (or ``from .. import engine`` at the top) names the subpackage ``engine``;
    ``from course_lib import fit`` names the top itself (``["course_lib", "fit"]`` is no layer of the table).
    """
    if isinstance(node, ast.Import):
        return [a.name.split(".") for a in node.names if a.name.split(".")[0] == "course_lib"]
    if node.level:
        target = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
    else:
        target = (node.module or "").split(".")
    if target[0] != "course_lib":
        return []
    if len(target) == 1:
        return [[*target, a.name] if a.name in LEVELS else target for a in node.names]
    return [target]


def layer_violations(source: str, path: str) -> list[str]:
    """Every import in ``source`` (module ``course_lib/<path>``) against the layer table: ``file:line: ...`` messages.

    A module may import from its own layer (its subpackage, or itself) and from lower levels only; the package's
    ``__init__.py`` may import anything. Module-level and function-level imports are checked alike.
    """
    parts = ["course_lib", *Path(path).with_suffix("").parts]
    package = parts[:-1]  # the package a relative import starts from (for __init__.py: the package itself)
    own = _layer_of(package if parts[-1] == "__init__" else parts)
    if own is None:
        return []
    if own not in LEVELS:
        return [f"course_lib/{path}: layer {own!r} is not in the layer table of course_lib/README.md"]
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in _imported_modules(node, package):
            layer = _layer_of(target)
            if layer == own:
                continue
            if layer not in LEVELS or LEVELS[layer] >= LEVELS[own]:
                level = LEVELS.get(layer, "the top" if layer is None else "not in the table")
                found.append(
                    f"course_lib/{path}:{node.lineno}: {own} (level {LEVELS[own]}) imports "
                    f"{'.'.join(target)} from layer {layer or 'course_lib'} (level {level})"
                )
    return found


def test_the_layer_table_places_every_subpackage_and_top_level_module():
    top = {p.stem for p in PKG.glob("*.py") if p.name != "__init__.py"} | {
        p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()
    }
    assert top - set(LEVELS) == set(), f"give these a row of course_lib/README.md's layer table: {top - set(LEVELS)}"
    assert set(LEVELS) - top == set(), f"the layer table names what does not exist: {set(LEVELS) - top}"


def test_every_import_follows_the_layers():
    """No module imports from its own level's other members or from above (see course_lib/README.md)."""
    found = [v for p in sorted(PKG.rglob("*.py")) for v in layer_violations(p.read_text(), str(p.relative_to(PKG)))]
    assert not found, "imports against the layer order:\n" + "\n".join(found)


def test_the_layer_check_catches_upward_imports():
    """The checker itself: an upward import fails, wherever it is written; a downward one passes."""
    upward = "from ..engine import fit\n\n\ndef f():\n    from ..metrics.text import corpus_bleu\n"
    found = layer_violations(upward, "ops/fake.py")
    assert len(found) == 2 and "ops/fake.py:1:" in found[0] and "layer engine" in found[0]
    assert "ops/fake.py:5:" in found[1] and "layer metrics" in found[1]
    assert layer_violations("import course_lib.models.vision\n", "data/real/fake.py")  # absolute, from a sub-folder
    assert layer_violations("from course_lib import engine\n", "models/fake.py")
    assert layer_violations("from ... import fit\n", "models/vision/fake.py")  # the top is above every layer
    assert layer_violations("from .autograd import Value\n", "utils.py")  # the same level, another member
    assert not layer_violations("from ..ops.boxes import clip_boxes\nfrom .rpn import RPN\n", "models/vision/fake.py")
    assert not layer_violations("from ..engine import fit\n", "methods/__init__.py")
    assert not layer_violations("from .engine import fit\n", "__init__.py")


_ALONE = """
import importlib, sys, types
from pathlib import Path

# course_lib/__init__.py imports config and the engine first; a stand-in top package makes {name} import on its own
top = types.ModuleType("course_lib")
top.__path__ = [str(Path({pkg!r}))]
sys.modules["course_lib"] = top
importlib.import_module("course_lib.{name}")
for m in [m for m in sys.modules if m == "course_lib" or m.startswith("course_lib.")]:
    del sys.modules[m]
importlib.import_module("course_lib.{name}")  # and as a user does, through the real course_lib/__init__.py
"""


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_every_layer_imports_in_a_fresh_interpreter(name: str):
    """``import course_lib.<name>`` works in a fresh interpreter, with and without the top package's import order."""
    done = subprocess.run(
        [sys.executable, "-c", _ALONE.format(name=name, pkg=str(PKG))], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, f"import course_lib.{name} failed:\n{done.stderr[-3000:]}"


def test_the_moved_helpers_keep_their_old_import_paths():
    """``course_lib.utils`` holds them; the notebooks' import paths (engine, models, config, metrics.text) still work."""
    import course_lib.config
    import course_lib.engine
    import course_lib.engine.hooks
    import course_lib.metrics.text
    import course_lib.models
    import course_lib.ops.losses
    import course_lib.utils

    utils = course_lib.utils
    assert course_lib.engine.eval_mode is course_lib.engine.hooks.eval_mode is utils.eval_mode
    assert course_lib.models.count_parameters is utils.count_parameters
    assert course_lib.config.model_device is utils.model_device
    assert course_lib.metrics.text.sequence_cross_entropy is course_lib.ops.losses.sequence_cross_entropy
