"""A lecture claim as a measured check: ``check(...)`` prints one line and records it; ``assert_claims()`` fails.

A claim is the lecture's statement, its source (lecture and slide, or paper and table), the scale at which it
is asserted, the measured values and the condition they must meet::

    check("wildcat-beats-max", "WILDCAT's top-k regions classify better than global max pooling",
          source="RCP209, Localization / Alignment (Durand et al. 2017)", scale="fast",
          measured={"wildcat": acc_wildcat, "max": acc_max}, condition="wildcat > max + 0.02")

``scale`` says where the claim is asserted: ``"fast"`` (the course-scale run shows it on every seed), ``"full"``
(it needs the larger scale: measured and printed in both profiles, asserted in the full one only), ``"both"``, or
``"none"`` (a lecture claim the course does not reproduce at either scale: measured and reported in every profile,
asserted in none; the claims report lists it under "not reproduced at course scale", with the ``note`` saying why).
Under ``COURSE_DRY_RUN=1`` nothing is asserted (training is capped at a couple of steps).

``kind`` separates the two things a check can be: an ``"effect"`` (default) is a result an experiment reproduces;
a ``"fact"`` is arithmetic or construction (a parameter count, an identity that holds by algebra, a shape). The
report counts them apart, so that "lecture effects reproduced" counts experiments only.

A check never stops a lecture: a failure where the claim is asserted prints a loud ✗ line and the notebook goes
on. The notebook's last code cell calls :func:`assert_claims`, which shows the session's table and raises
``AssertionError`` naming every asserted claim that failed, so nbval and the claims report still fail.

The condition is either ``holds=`` (a bool the notebook computed) or ``condition=`` (a comparison over the
names of ``measured``, e.g. ``"a > b + 0.02"`` or ``"0.9 <= ratio"``), from which the printed margin is derived:
how far the measured values are from the threshold, positive when the claim holds.

When ``COURSE_CLAIMS_LOG`` names a file, each check appends one JSON record to it (notebook, claim id,
statement, source, scale, kind, profile, seed, measured values, condition, margin, held, asserted); the claims
report (``python -m course_lib.tools.claims``) runs the notebooks under several seeds and aggregates them.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import dry_run, notebook_name, profile_name

SCALES = ("fast", "full", "both", "none")
KINDS = ("effect", "fact")
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
    kind: str = "effect"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Asserted in this profile and did not hold: :func:`assert_claims` fails on it."""
        return self.asserted and not self.held

    def line(self) -> str:
        """The one readable line ``check`` prints."""
        mark = "✓" if self.held else "✗"
        values = ", ".join(f"{k}={format_value(v)}" for k, v in self.measured.items())
        cond = f"; needs {self.condition}" if self.condition else ""
        margin = f" (margin {self.margin:+.3g})" if self.margin is not None and math.isfinite(self.margin) else ""
        if self.dry_run:
            status = "dry run: not asserted"
        elif self.scale == "none":
            status = "not reproduced at course scale: measured, asserted in no profile"
        elif self.asserted:
            status = "asserted in both profiles" if self.scale == "both" else f"asserted at {self.scale} scale"
        else:
            status = f"{self.scale}-scale claim: measured here, asserted in the {_other(self.profile)} profile only"
        if self.kind == "fact":
            status = "fact; " + status
        note = f" — {self.note}" if self.note else ""
        line = f"{mark} [{self.id}] {self.statement} — {values}{cond}{margin} [{status}]{note}"
        return f"✗✗ CLAIM FAILED ✗✗ {line}" if self.failed else line


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
    """The running notebook's name: ``COURSE_NOTEBOOK`` (set by the tools), else Jupyter's ``JPY_SESSION_NAME``."""
    name = os.environ.get("COURSE_NOTEBOOK") or os.environ.get("JPY_SESSION_NAME")
    return notebook_name(name) if name else None


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
    kind: str = "effect",
) -> None:
    """Measure a lecture claim: print one line and record it (asserted at the end by :func:`assert_claims`).

    Args:
        id: a short stable identifier, unique within the notebook (``"relu-faster-than-tanh"``).
        statement: the lecture's claim, in words.
        source: where it is stated (``"STA211, AlexNet, slide 12"`` or ``"Krizhevsky et al. 2012, Fig. 1"``).
        scale: ``"fast"``, ``"full"``, ``"both"``: the profiles in which the claim is asserted; ``"none"``: a
            lecture claim not reproduced at course scale (measured and reported, never asserted; say why in ``note``).
        measured: the measured values, name -> number (tensors of one element are accepted).
        holds: whether the claim holds, computed by the notebook; or give ``condition``.
        condition: a comparison over the names of ``measured`` (``"relu_iters * 1.5 < tanh_iters"``).
        note: optional context printed after the line (e.g. why the course scale differs from the paper).
        kind: ``"effect"`` (an experiment's result) or ``"fact"`` (arithmetic or construction).

    Returns:
        Nothing: a check is a statement, like ``assert``, so a notebook cell that ends with one shows no value.
        The record is :func:`session_claims`'s last item. A failure where the claim is asserted does not raise
        here: the line is printed loudly and :func:`assert_claims`, the notebook's last cell, fails.

    Raises:
        ValueError: bad arguments (unknown scale or kind, both or neither of ``holds`` and ``condition``...).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
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
    asserted = not is_dry and scale in (profile, "both")  # "none": never
    claim = Claim(
        id=id,
        statement=statement,
        source=source,
        scale=scale,
        measured=values,
        held=held,
        asserted=asserted,
        profile=profile,
        seed=int(os.environ.get("COURSE_SEED", "0")),
        condition=condition,
        margin=margin,
        dry_run=is_dry,
        notebook=_notebook_name(),
        note=note,
        kind=kind,
    )
    _SESSION.append(claim)
    print(claim.line(), flush=True)
    log = os.environ.get("COURSE_CLAIMS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(claim), default=str) + "\n")


def session_claims() -> list[Claim]:
    """The claims checked so far in this process (a notebook's kernel), in order."""
    return list(_SESSION)


def failed_claims(claims: list[Claim] | None = None) -> list[Claim]:
    """The asserted claims that did not hold (default: this session's)."""
    return [c for c in (session_claims() if claims is None else claims) if c.failed]


def assert_claims(claims: list[Claim] | None = None, *, show: bool = True) -> None:
    """A notebook's last cell: show the session's claims table, then fail if any asserted claim failed.

    ``COURSE_ASSERT_CLAIMS=0`` shows the table and returns (``course_lib.tools.pretrain`` sets it: rank 0 reports
    the failures once, rather than every rank raising alone).

    Raises:
        AssertionError: naming every asserted claim that did not hold, with its line.
    """
    claims = session_claims() if claims is None else claims
    if show:
        try:
            from IPython.display import Markdown, display

            display(Markdown(claims_table(claims)))
        except ImportError:  # pragma: no cover - IPython ships with the course
            print(claims_table(claims))
    failed = failed_claims(claims)
    effects = [c for c in claims if c.kind == "effect"]
    print(
        f"{len(claims)} checks: {sum(c.held for c in effects)}/{len(effects)} effects held, "
        f"{sum(c.held for c in claims if c.kind == 'fact')}/{len(claims) - len(effects)} facts held; "
        f"{sum(c.asserted for c in claims)} asserted here, {len(failed)} failed",
        flush=True,
    )
    if failed and os.environ.get("COURSE_ASSERT_CLAIMS", "1").strip().lower() not in ("0", "false", "no", "off"):
        raise AssertionError(
            f"{len(failed)} asserted claim(s) failed: "
            + ", ".join(c.id for c in failed)
            + "\n"
            + "\n".join(c.line() for c in failed)
        )


def claims_table(claims: list[Claim] | None = None) -> str:
    """A Markdown table of claims (default: this session's), for a notebook's closing summary."""
    rows = ["| | claim | measured | scale | source |", "| --- | --- | --- | --- | --- |"]
    for c in session_claims() if claims is None else claims:
        values = ", ".join(f"{k} = {format_value(v)}" for k, v in c.measured.items())
        status = "✓" if c.held else ("✗" if c.asserted else "✗ (not asserted here)")
        scale = f"{c.scale} (fact)" if c.kind == "fact" else c.scale
        cells = [status, c.statement, values, scale, c.source]
        rows.append("| " + " | ".join(str(x).replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return "\n".join(rows)
