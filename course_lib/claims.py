"""A lecture claim as a measured check: ``check(...)`` prints one line, records it, and asserts it at its scale.

A claim is the lecture's statement, its source (lecture and slide, or paper and table), the scale at which it
is asserted, the measured values and the condition they must meet::

    check("wildcat-beats-max", "WILDCAT's top-k regions classify better than global max pooling",
          source="RCP209, Localization / Alignment (Durand et al. 2017)", scale="fast",
          measured={"wildcat": acc_wildcat, "max": acc_max}, condition="wildcat > max + 0.02")

``scale`` says where the claim is asserted: ``"fast"`` (the course-scale run shows it on every seed), ``"full"``
(it needs paper scale: measured and printed in both profiles, asserted in the full one only) or ``"both"``.
Under ``COURSE_DRY_RUN=1`` nothing is asserted (training is capped at a couple of steps).

The condition is either ``holds=`` (a bool the notebook computed) or ``condition=`` (a comparison over the
names of ``measured``, e.g. ``"a > b + 0.02"`` or ``"0.9 <= ratio"``), from which the printed margin is derived:
how far the measured values are from the threshold, positive when the claim holds.

When ``COURSE_CLAIMS_LOG`` names a file, each check appends one JSON record to it (notebook, claim id,
statement, source, scale, profile, seed, measured values, condition, margin, held, asserted); the claims
report (``python -m course_lib.tools.claims``) runs the notebooks under several seeds and aggregates them.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import dry_run, profile_name

SCALES = ("fast", "full", "both")
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCS = {"abs": abs, "min": min, "max": max}


@dataclass
class Claim:
    """One measured claim, as printed and logged."""

    id: str
    statement: str
    source: str
    scale: str
    measured: dict[str, float]
    held: bool
    asserted: bool
    profile: str
    seed: int
    condition: str | None = None
    margin: float | None = None
    dry_run: bool = False
    notebook: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The one readable line ``check`` prints."""
        mark = "✓" if self.held else "✗"
        values = ", ".join(f"{k}={format_value(v)}" for k, v in self.measured.items())
        cond = f"; needs {self.condition}" if self.condition else ""
        margin = f" (margin {self.margin:+.3g})" if self.margin is not None and math.isfinite(self.margin) else ""
        if self.dry_run:
            status = "dry run: not asserted"
        elif self.asserted:
            status = "asserted in both profiles" if self.scale == "both" else f"asserted at {self.scale} scale"
        else:
            status = f"{self.scale}-scale claim: measured here, asserted in the {_other(self.profile)} profile only"
        note = f" — {self.note}" if self.note else ""
        return f"{mark} [{self.id}] {self.statement} — {values}{cond}{margin} [{status}]{note}"


_SESSION: list[Claim] = []


def _other(profile: str) -> str:
    return "full" if profile == "fast" else "fast"


def format_value(v: Any) -> str:
    """A measured value as the claim lines print it: ints with thousands separators, floats to 4 digits."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _as_number(name: str, v: Any) -> float | int | bool:
    if hasattr(v, "item") and callable(v.item):  # 0-d tensors and numpy scalars
        v = v.item()
    if not isinstance(v, int | float | bool):
        raise TypeError(f"measured value {name!r} must be a number, got {type(v).__name__}")
    return v


def _evaluate(condition: str, values: dict[str, float]) -> tuple[bool, float]:
    """Evaluate ``lhs <op> rhs [<op> rhs2]`` over ``values``; return (held, margin)."""
    try:
        tree = ast.parse(condition, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"condition {condition!r} is not a comparison: {err}") from None
    if not isinstance(tree, ast.Compare):
        raise ValueError(f"condition {condition!r} must be a comparison such as 'a > b + 0.02'")

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ValueError(f"condition {condition!r} names {node.id!r}, not in measured {sorted(values)}")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _ARITH[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            return _FUNCS[node.func.id](*(ev(a) for a in node.args))
        raise ValueError(f"condition {condition!r}: unsupported expression {ast.unparse(node)!r}")

    held, margins = True, []
    left = ev(tree.left)
    for op, comp in zip(tree.ops, tree.comparators):
        if type(op) not in _COMPARE:
            raise ValueError(f"condition {condition!r}: only <, <=, >, >= are allowed")
        right = ev(comp)
        held = held and bool(_COMPARE[type(op)](left, right))
        margins.append(left - right if isinstance(op, ast.Gt | ast.GtE) else right - left)
        left = right
    return held, float(min(margins))


def _notebook_name() -> str | None:
    name = os.environ.get("COURSE_NOTEBOOK") or os.environ.get("JPY_SESSION_NAME")
    return Path(name).stem if name else None


def check(
    id: str,
    statement: str,
    *,
    source: str,
    scale: str,
    measured: dict[str, Any],
    holds: bool | None = None,
    condition: str | None = None,
    note: str | None = None,
) -> None:
    """Measure a lecture claim: print one line, log it, and assert it at its scale.

    Args:
        id: a short stable identifier, unique within the notebook (``"relu-faster-than-tanh"``).
        statement: the lecture's claim, in words.
        source: where it is stated (``"STA211, AlexNet, slide 12"`` or ``"Krizhevsky et al. 2012, Fig. 1"``).
        scale: ``"fast"``, ``"full"`` or ``"both"``: the profiles in which the claim is asserted.
        measured: the measured values, name -> number (tensors of one element are accepted).
        holds: whether the claim holds, computed by the notebook; or give ``condition``.
        condition: a comparison over the names of ``measured`` (``"relu_iters * 1.5 < tanh_iters"``).
        note: optional context printed after the line (e.g. why the course scale differs from the paper).

    Returns:
        Nothing: a check is a statement, like ``assert``, so a notebook cell that ends with one shows no value
        whatever the front end does with a trailing ``;``. The record is :func:`session_claims`'s last item.

    Raises:
        AssertionError: the claim is asserted in this profile and does not hold (the message is the line).
        ValueError: bad arguments (unknown scale, both or neither of ``holds`` and ``condition``...).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if (holds is None) == (condition is None):
        raise ValueError("give exactly one of holds= (a bool) or condition= (a comparison over measured)")
    if not measured:
        raise ValueError("a claim needs at least one measured value")
    values = {k: _as_number(k, v) for k, v in measured.items()}
    margin = None
    if condition is not None:
        held, margin = _evaluate(condition, values)
    else:
        held = bool(holds)
    profile, is_dry = profile_name(), dry_run()
    asserted = not is_dry and scale in (profile, "both")
    claim = Claim(
        id=id, statement=statement, source=source, scale=scale, measured=values, held=held, asserted=asserted,
        profile=profile, seed=int(os.environ.get("COURSE_SEED", "0")), condition=condition, margin=margin,
        dry_run=is_dry, notebook=_notebook_name(), note=note,
    )  # fmt: skip
    _SESSION.append(claim)
    print(claim.line())
    log = os.environ.get("COURSE_CLAIMS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(claim), default=str) + "\n")
    if asserted and not held:
        raise AssertionError(claim.line())


def session_claims() -> list[Claim]:
    """The claims checked so far in this process (a notebook's kernel), in order."""
    return list(_SESSION)


def claims_table(claims: list[Claim] | None = None) -> str:
    """A Markdown table of claims (default: this session's), for a notebook's closing summary."""
    rows = ["| | claim | measured | scale | source |", "| --- | --- | --- | --- | --- |"]
    for c in session_claims() if claims is None else claims:
        values = ", ".join(f"{k} = {format_value(v)}" for k, v in c.measured.items())
        status = "✓" if c.held else ("✗" if c.asserted else "✗ (not asserted here)")
        cells = [status, c.statement, values, c.scale, c.source]
        rows.append("| " + " | ".join(str(x).replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return "\n".join(rows)
