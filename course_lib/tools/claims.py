"""The claims report: run the notebooks under several seeds and record which lecture claims hold.

Usage::

    python -m course_lib.tools.claims --seeds 0 1 2 3 4 [--profile fast] [--jobs 1] [notebooks...]

Each notebook runs once per seed in a fresh kernel (:func:`course_lib.tools.execute.execute_notebook`,
every cell even after a failing one) with ``COURSE_SEED``, ``COURSE_PROFILE``, ``COURSE_NOTEBOOK`` and
``COURSE_CLAIMS_LOG`` set; every ``check(...)`` appends its record to that log. The tool aggregates the
records and writes ``reports/claims.json`` (everything, both profiles) and ``reports/claims.md`` (the table):
per claim its statement, source and scale, the seeds on which it held out of those on which it was measured
(and whether it was asserted there), and min / median / max of every measured value; per notebook each run's
wall time, its errors that are not claim failures, and the ``# NBVAL_CHECK_OUTPUT`` cells whose output
differs from the committed one (such cells must not depend on the seed).

Rerunning one profile keeps the other's results; naming notebooks reruns only those and keeps the
other notebooks' rows from the existing ``claims.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

from ..config import PROFILES, find_notebook, repo_root
from .claims_table import COMMAND, merge, notebook_entry, render_markdown, summarize_claims
from .execute import CellError, execute_notebook

__all__ = [
    "changed_checked_cells",
    "main",
    "merge",
    "render_markdown",
    "run_notebook",
    "run_report",
    "summarize_claims",
]

CHECKED = "NBVAL_CHECK_OUTPUT"


# --- one run: a notebook under one seed -------------------------------------------------------------------------


def _output_text(cell: nbformat.NotebookNode) -> str:
    """The text of a cell's outputs as nbval compares them: stdout (however it was chunked), text/plain results,
    errors; stderr (warnings) is left out."""
    stdout, parts = [], []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            stdout.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(stdout) + "\n".join(parts)


def changed_checked_cells(committed: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> list[int]:
    """Indices of the ``# NBVAL_CHECK_OUTPUT`` cells whose executed text output differs from the committed one."""
    changed = []
    for i, (a, b) in enumerate(zip(committed.cells, executed.cells)):
        if a.cell_type == "code" and CHECKED in a.source and _output_text(a) != _output_text(b):
            changed.append(i)
    return changed


def _claim_cell(nb: nbformat.NotebookNode, claim_id: str) -> int | None:
    """The cell whose printed output holds the claim's line (``✓ [id]`` or ``✗ [id]``)."""
    marks = (f"✓ [{claim_id}]", f"✗ [{claim_id}]")
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and any(m in out.get("text", "") for m in marks):
                return i
    return None


def _is_claim_failure(err: CellError, records: list[dict[str, Any]]) -> bool:
    """The AssertionError of ``assert_claims()`` (the notebook's last cell) over asserted claims that failed, or of
    a ``check`` that raised itself (notebooks written before ``check`` stopped raising)."""
    if err.ename != "AssertionError":
        return False
    if re.match(r"\d+ asserted claim\(s\) failed", err.evalue):
        return True
    return any(r["asserted"] and not r["held"] and f"✗ [{r['id']}]" in err.evalue for r in records)


def run_notebook(path: str | Path, seed: int, profile: str, timeout: int = 900) -> dict[str, Any]:
    """Execute one notebook under one seed and profile; return its run record.

    The record holds ``seed``, ``seconds``, ``claims`` (the logged check records, each with the ``cell``
    that printed it), ``claim_failures`` (the ids whose assertion failed), ``errors`` (the other cell errors)
    and ``checked_cells_changed``.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="course-claims-") as tmp:
        log = Path(tmp) / "claims.jsonl"
        env = {
            "COURSE_SEED": str(seed),
            "COURSE_PROFILE": profile,
            "COURSE_CLAIMS_LOG": str(log),
            "COURSE_DRY_RUN": None,
        }
        nb, errors, seconds = execute_notebook(path, env=env, allow_errors=True, timeout=timeout)
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    for r in records:
        r["cell"] = _claim_cell(nb, r["id"])
    failures = [e for e in errors if _is_claim_failure(e, records)]
    return {
        "seed": seed,
        "seconds": round(seconds, 1),
        "claims": records,
        "claim_failures": [r["id"] for r in records if r["asserted"] and not r["held"]],
        "errors": [{"cell": e.cell, "ename": e.ename, "evalue": e.evalue} for e in errors if e not in failures],
        "checked_cells_changed": changed_checked_cells(nbformat.read(path, as_version=4), nb),
    }


def machine() -> dict[str, Any]:
    """The machine the report ran on: CPU count, torch threads, torch version, the device the notebooks pick."""
    import torch

    from ..config import get_device

    device = get_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    threads = int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads())  # what the kernels start with
    return {
        "cpus": os.cpu_count(),
        "threads": threads,
        "torch": torch.__version__,
        "device": str(device),
        "device_name": name,
    }


# --- the command ------------------------------------------------------------------------------------------------


def run_report(
    notebooks: Sequence[str | Path],
    seeds: Sequence[int],
    profile: str,
    out_dir: str | Path,
    jobs: int = 1,
    timeout: int = 900,
    replace_all: bool = False,
    command: str | None = None,
) -> dict[str, Any]:
    """Run ``notebooks`` under ``seeds`` and profile; write ``claims.json`` and ``claims.md`` in ``out_dir``.

    Returns the report data (what ``claims.json`` holds).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    paths = [Path(p) for p in notebooks]
    tasks = [(path, seed) for path in paths for seed in seeds]
    results: dict[Path, list[dict[str, Any]]] = {path: [] for path in paths}

    def done(path: Path, run: dict[str, Any]) -> None:
        results[path].append(run)
        held = sum(r["held"] for r in run["claims"])
        print(
            f"[{profile}] {path.stem} seed {run['seed']}: {run['seconds']:.0f} s, {held}/{len(run['claims'])} claims "
            f"held, {len(run['errors'])} other error(s)",
            flush=True,
        )

    if jobs > 1:
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_notebook, path, seed, profile, timeout): path for path, seed in tasks}
            for fut, path in futures.items():
                done(path, fut.result())
    else:
        for path, seed in tasks:
            done(path, run_notebook(path, seed, profile, timeout))

    generated = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": command or f"{COMMAND} --profile {profile} --seeds {' '.join(map(str, seeds))}",
        "profile": profile,
    }
    entries = {path.stem: notebook_entry(path, runs, generated) for path, runs in results.items()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "claims.json"
    existing = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else None
    data = merge(existing, profile, entries, replace_all)
    tmp = json_path.with_suffix(f".{os.getpid()}.tmp")  # atomic: an interrupted run never leaves half a report
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    (out_dir / "claims.md").write_text(render_markdown(data), encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        help="notebooks to (re)run (paths, names or unique prefixes); default: all of --notebooks-dir",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds to run each notebook with")
    parser.add_argument("--profile", choices=PROFILES, default="fast", help="COURSE_PROFILE of the runs")
    parser.add_argument("--jobs", type=int, default=1, help="notebook runs in parallel (each uses every core)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    parser.add_argument("--notebooks-dir", type=Path, default=repo_root() / "notebooks")
    parser.add_argument("--out", type=Path, default=repo_root() / "reports", help="where claims.md and claims.json go")
    parser.add_argument(
        "--render", action="store_true", help="run nothing: write claims.md again from the runs in claims.json"
    )
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads((args.out / "claims.json").read_text(encoding="utf-8"))
        (args.out / "claims.md").write_text(render_markdown(data), encoding="utf-8")
        print(f"wrote {args.out / 'claims.md'} from {args.out / 'claims.json'}")
        return
    paths = (
        [find_notebook(n, args.notebooks_dir) for n in args.notebooks]
        if args.notebooks
        else sorted(args.notebooks_dir.glob("*.ipynb"))
    )
    if not paths:
        parser.error(f"no notebooks in {args.notebooks_dir}")
    run_report(
        paths,
        args.seeds,
        args.profile,
        args.out,
        jobs=args.jobs,
        timeout=args.timeout,
        replace_all=not args.notebooks,
        command=shlex.join([*COMMAND.split(), *argv]),
    )
    print(f"wrote {args.out / 'claims.md'} and {args.out / 'claims.json'}")


if __name__ == "__main__":
    main()
