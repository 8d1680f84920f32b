"""Train a notebook's models outside the notebook, on one GPU or several: the checkpoints its ``fit_or_load`` reloads.

An instructor who wants the full profile's numbers for a lecture runs the heavy part once, on whatever machine
has the GPUs::

    torchrun --nproc_per_node=8 -m course_lib.tools.pretrain 02_alexnet_ablations --profile full
    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 --rdzv-endpoint=HOST:29500 \\
        -m course_lib.tools.pretrain 02_alexnet_ablations --profile full   # and node_rank=1 on the second machine

Every rank executes the notebook's code cells top to bottom in an IPython shell (no Jupyter server, plots
off), in the profile ``--profile`` names (default: ``COURSE_PROFILE``, else ``fast`` as everywhere; ``full``
only when asked). Each ``fit`` in them trains with DistributedDataParallel
(:mod:`course_lib.engine.distributed`), and each ``fit_or_load`` saves its checkpoint from rank 0 into
``COURSE_CHECKPOINT_DIR`` (default ``checkpoints/``). Copy that folder to the lecture machine: the same notebook
there, same profile and seed, loads every model instead of training it and only evaluates and plots.

A cell that fails is reported and the run goes on, so that the later models still get trained. Claims are
recorded on every rank but asserted on none (``COURSE_ASSERT_CLAIMS=0``: the notebook's ``assert_claims()``
shows its table and returns); rank 0 prints every asserted claim that did not hold once the cells are done.
The exit status is 1 when any cell failed, any asserted claim failed, or the notebook saved and loaded no
checkpoint at all (it trains nothing through ``fit_or_load``, so there would be nothing to copy); rank 0 says
how many checkpoints were trained and how many loaded. Without ``torchrun`` the tool runs the notebook in one
process, which is also how it is tested.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

from ..config import find_notebook


def run_cells(path: Path, log=print) -> list[tuple[int, str]]:
    """Execute ``path``'s code cells in order in a fresh IPython shell; returns ``(cell index, error)`` of failed cells."""
    from IPython.core.interactiveshell import InteractiveShell

    os.environ.setdefault("MPLBACKEND", "Agg")
    shell = InteractiveShell.instance()
    shell.run_cell("import matplotlib; matplotlib.use('Agg')", silent=True)
    nb = nbformat.read(path, as_version=4)
    failed = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        source = cell.source.replace("%matplotlib inline", "")
        result = shell.run_cell(source, silent=False, store_history=False)
        if not result.success:
            error = result.error_in_exec or result.error_before_exec
            failed.append((index, f"{type(error).__name__}: {error}"))
            log(f"cell {index} failed: {type(error).__name__}: {error}")
    InteractiveShell.clear_instance()
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="path, name or its unique prefix, e.g. 02_alexnet_ablations or 02")
    parser.add_argument(
        "--profile",
        choices=("fast", "full"),
        default=None,
        help="COURSE_PROFILE (default: the environment's, else fast, as everywhere; the lecture scale is --profile full)",
    )
    args = parser.parse_args(argv)
    os.environ["COURSE_PROFILE"] = args.profile or os.environ.get("COURSE_PROFILE") or "fast"
    os.environ["COURSE_ASSERT_CLAIMS"] = "0"  # every rank records its claims; rank 0 reports the failed ones below
    from ..claims import failed_claims, session_claims
    from ..engine import distributed
    from ..engine.checkpoints import cache_log

    path = find_notebook(args.notebook)
    rank = distributed.rank()
    log = print if rank == 0 else (lambda *a, **k: None)
    if rank != 0:
        os.environ["COURSE_PROGRESS"] = "0"
    start = time.perf_counter()
    log(
        f"pretrain {path.stem}: profile={os.environ['COURSE_PROFILE']} ranks={distributed.world_size()} "
        f"checkpoints={os.environ.get('COURSE_CHECKPOINT_DIR', 'checkpoints/')}"
    )
    claims_before, cache_before = len(session_claims()), len(cache_log())  # this run's, in a process that ran others
    failed = run_cells(path, log)
    claims = failed_claims(session_claims()[claims_before:])
    cached = cache_log()[cache_before:]
    trained = sum(entry["action"] == "trained" for entry in cached)
    log(
        f"pretrain {path.stem}: {time.perf_counter() - start:.0f} s, {len(failed)} failed cell(s), "
        f"{len(claims)} failed claim(s), checkpoints: {trained} trained, {len(cached) - trained} loaded"
        + "".join(f"\n  cell {i}: {e}" for i, e in failed)
        + "".join(f"\n  {claim.line()}" for claim in claims)
    )
    if not cached:
        log(
            f"pretrain {path.stem}: no checkpoint was saved or loaded: the notebook trains nothing through "
            f"fit_or_load, so there is nothing to copy to the lecture machine; run it in Jupyter instead"
        )
    problems: list[str] = []  # this rank's reasons for exit status 1
    if failed:
        problems.append(f"{len(failed)} failed cell(s)")
    if claims:
        problems.append(f"{len(claims)} failed claim(s)")
    if not cached:
        problems.append("no checkpoint saved or loaded")
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:  # one exit status on every rank; rank 0 names the other ranks' problems
            every: list[list[str] | None] = [None] * dist.get_world_size()
            dist.all_gather_object(every, problems)
            for r, theirs in enumerate(every[1:], start=1):
                if theirs and theirs != problems:
                    log(f"pretrain {path.stem}: rank {r}: " + ", ".join(theirs))
            problems = problems or [p for theirs in every if theirs for p in theirs]
        dist.destroy_process_group()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
