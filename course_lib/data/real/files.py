"""The data files the repository ships in ``data/``, their checksums, and reading them safely.

Every file is checked once per process against the sha256 of its *uncompressed* bytes (the values of
``data/README.md``), so the shipped ``.gz``, torchvision's downloaded ``.gz`` and an uncompressed copy all
pass, and a truncated or corrupted file is caught before it becomes a silent accuracy drop.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from ...config import data_dir

# path under the data root -> sha256 of the uncompressed bytes (data/README.md; ../shared/data/SOURCES.md)
SHIPPED: dict[str, str] = {
    "MNIST/raw/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "MNIST/raw/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "MNIST/raw/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "MNIST/raw/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}

_verified: dict[tuple[str, int, int], bytes] = {}


class MissingDataError(FileNotFoundError):
    """A data file is missing, truncated or corrupted; the message names it and how to restore it."""


def _how_to_restore(name: str, root: Path) -> str:
    return (
        "How to restore it:\n"
        "  * in a clone of the course: `git checkout data/` (the repository ships this file under data/), or\n"
        f"  * point COURSE_DATA_DIR at a folder that has {name} (now: {root})"
        + (
            "\n  * online, for MNIST: load_mnist(download=True) lets torchvision fetch it."
            if name.startswith("MNIST/")
            else ""
        )
    )


def read_shipped(name: str, root: str | Path | None = None) -> bytes:
    """The uncompressed bytes of a shipped file, read from ``<root>/<name>.gz`` or ``<root>/<name>``.

    Args:
        name: a key of :data:`SHIPPED`, e.g. ``"MNIST/raw/t10k-labels-idx1-ubyte"``.
        root: the data root (default ``COURSE_DATA_DIR`` or the repository's ``data/``).

    Raises:
        MissingDataError: the file is absent, or its sha256 is not the expected one (the message gives both).
    """
    if name not in SHIPPED:
        raise ValueError(f"unknown data file {name!r}; shipped files: {sorted(SHIPPED)}")
    root = Path(root) if root is not None else data_dir()
    candidates = [root / f"{name}.gz", root / name]
    path = next((p for p in candidates if p.is_file()), None)
    expected = SHIPPED[name]
    if path is None:
        raise MissingDataError(
            f"data file missing: {candidates[0]} (or {candidates[1].name} uncompressed), sha256 {expected}.\n"
            + _how_to_restore(name, root)
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return _verified[key]
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as err:  # truncated or not a gzip file
        raise MissingDataError(
            f"data file {path} cannot be read ({err}); expected sha256 {expected}.\n" + _how_to_restore(name, root)
        ) from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise MissingDataError(
            f"data file {path} is corrupted: its content has sha256 {digest}, expected {expected}.\n"
            + _how_to_restore(name, root)
        )
    _verified.clear()  # keep one file's bytes at most (MNIST's train images are 47 MB)
    _verified[key] = data
    return data
