"""A pytest plugin, registered by ``pyproject.toml`` (entry point ``pytest11``), so that every pytest run gets it.

Under pytest-xdist (``make test`` runs ``pytest -n 2``; so may ``pytest -n 2 notebooks/``) the workers share the
cores: each gets its share of torch threads, for its own torch and for the notebook kernels it starts (they
inherit ``OMP_NUM_THREADS``). Oversubscribed torch threads slow everything down badly on a small CPU. It lives
here rather than in ``tests/conftest.py`` because ``pytest notebooks/`` never reads that file.
"""

from __future__ import annotations

import os


def thread_share(cpus: int | None, workers: int) -> int:
    """Torch threads per worker: the cores divided among the workers, at least one."""
    return max(1, (cpus or 1) // max(1, workers))


def pytest_configure() -> None:
    """Set ``OMP_NUM_THREADS`` (unless the user did) and torch's thread count in each xdist worker."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("OMP_NUM_THREADS"):
        return
    share = thread_share(os.cpu_count(), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    os.environ["OMP_NUM_THREADS"] = str(share)
    import sys

    if "torch" in sys.modules:  # imported before this hook: set its pool too
        sys.modules["torch"].set_num_threads(share)
