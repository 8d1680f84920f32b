import json

import numpy as np
import pytest
import torch

from course_lib.claims import Claim, assert_claims, check, claims_table, failed_claims, format_value, session_claims

ARGS = dict(source="RCP209, slide 3", scale="fast")


def run_check(*args, **kwargs) -> Claim:
    """``check``, then the record it appended to the session."""
    assert check(*args, **kwargs) is None
    return session_claims()[-1]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    """Every test starts from the fast profile, seed 0, no dry run and no log."""
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    for name in ("COURSE_DRY_RUN", "COURSE_CLAIMS_LOG", "COURSE_SEED", "COURSE_NOTEBOOK", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)


def test_condition_gives_held_and_margin(capsys):
    c = run_check("a-beats-b", "a beats b", measured={"a": 0.93, "b": 0.9}, condition="a > b + 0.02", **ARGS)
    assert c.held and c.asserted and c.margin == pytest.approx(0.01)
    line = capsys.readouterr().out.strip()
    assert line == c.line()
    assert line.startswith("✓ [a-beats-b] a beats b — a=0.93, b=0.9; needs a > b + 0.02 (margin +0.01)")
    assert line.endswith("[asserted at fast scale]")


def test_chained_condition_margin_is_the_tightest_side():
    c = run_check("ratio", "r is near one", measured={"r": 1.08}, condition="0.9 <= r <= 1.1", **ARGS)
    assert c.held and c.margin == pytest.approx(0.02)
    c = run_check(
        "ratio-max",
        "max and abs are allowed",
        measured={"a": -3.0, "b": 2.0},
        condition="max(abs(a), b) * 2 >= 6",
        **ARGS,
    )
    assert c.held and c.margin == pytest.approx(0.0)


def test_a_failed_asserted_claim_prints_loudly_and_the_lecture_goes_on(capsys):
    c = run_check("a-beats-b", "a beats b", measured={"a": 0.9, "b": 0.91}, condition="a > b + 0.02", **ARGS)
    out = capsys.readouterr().out
    assert out.startswith("✗✗ CLAIM FAILED ✗✗ ✗ [a-beats-b]") and "needs a > b + 0.02 (margin -0.03)" in out
    assert c.failed and c in failed_claims()


def test_assert_claims_names_every_failed_asserted_claim(capsys, monkeypatch):
    ok = run_check("ok", "holds", measured={"x": 1.0}, holds=True, **ARGS)
    bad1 = run_check("bad-1", "fails", measured={"x": 0.0}, condition="x > 1", **ARGS)
    later = run_check("later", "full only", source="s", scale="full", measured={"x": 0.0}, holds=False)
    bad2 = run_check("bad-2", "fails too", measured={"x": 0.0}, holds=False, **ARGS)
    none = run_check("not-here", "not reproduced", source="s", scale="none", measured={"x": 0.0}, holds=False)
    assert not later.failed and not none.failed and not none.asserted
    claims = [ok, bad1, later, bad2, none]
    with pytest.raises(AssertionError, match=r"2 asserted claim\(s\) failed: bad-1, bad-2") as err:
        assert_claims(claims, show=False)
    assert "[bad-1]" in str(err.value) and "[bad-2]" in str(err.value) and "[later]" not in str(err.value)
    assert "5 checks: 1/5 effects held" in capsys.readouterr().out
    assert_claims([ok, later, none], show=False)  # nothing asserted failed: no error
    monkeypatch.setenv("COURSE_ASSERT_CLAIMS", "0")  # under tools.pretrain: shown, reported by rank 0, not raised
    assert_claims(claims, show=False)


def test_scale_none_is_measured_in_every_profile_and_asserted_in_none(monkeypatch):
    for profile in ("fast", "full"):
        monkeypatch.setenv("COURSE_PROFILE", profile)
        c = run_check("n", "a paper's effect", source="s", scale="none", measured={"x": 0.0}, condition="x > 1")
        assert not c.asserted and not c.failed and "[not reproduced at course scale" in c.line()


def test_facts_are_marked_apart_from_effects():
    c = run_check("params", "C1 has 156 parameters", measured={"n": 156}, condition="n >= 156", kind="fact", **ARGS)
    assert c.kind == "fact" and "[fact; asserted at fast scale]" in c.line()
    assert "fast (fact)" in claims_table([c])
    with pytest.raises(ValueError, match="kind must be one of"):
        check("k", "k", measured={"x": 1}, holds=True, kind="law", **ARGS)


def test_holds_bool_has_no_margin():
    c = run_check("flag", "it holds", measured={"n": 3}, holds=np.bool_(True), **ARGS)
    assert c.held is True and c.margin is None and "margin" not in c.line() and "needs" not in c.line()


@pytest.mark.parametrize(
    ("profile", "scale", "asserted", "status"),
    [
        ("fast", "fast", True, "asserted at fast scale"),
        ("fast", "full", False, "full-scale claim: measured here, asserted in the full profile only"),
        ("fast", "both", True, "asserted in both profiles"),
        ("full", "fast", False, "fast-scale claim: measured here, asserted in the fast profile only"),
        ("full", "full", True, "asserted at full scale"),
        ("full", "both", True, "asserted in both profiles"),
    ],
)
def test_scale_and_profile_decide_where_a_claim_is_asserted(monkeypatch, profile, scale, asserted, status):
    monkeypatch.setenv("COURSE_PROFILE", profile)
    args = dict(source="s", scale=scale, measured={"x": 0.0}, condition="x > 1")
    c = run_check("c", "x exceeds one", **args)
    assert not c.held and c.asserted == asserted == c.failed and c.profile == profile and f"[{status}]" in c.line()


def test_dry_run_asserts_nothing(monkeypatch):
    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    monkeypatch.setenv("COURSE_PROFILE", "full")
    c = run_check("c", "x exceeds one", source="s", scale="both", measured={"x": 0.0}, condition="x > 1")
    assert c.dry_run and not c.asserted and not c.held and "[dry run: not asserted]" in c.line()


def test_log_record(monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("COURSE_CLAIMS_LOG", str(log))
    monkeypatch.setenv("COURSE_SEED", "3")
    monkeypatch.setenv("COURSE_NOTEBOOK", "notebooks/02_alexnet_ablations.ipynb")
    check("a", "first", measured={"acc": torch.tensor(0.5), "n": 10}, condition="acc < 0.6", note="small run", **ARGS)
    check("b", "second", source="s", scale="full", measured={"x": 1.0}, holds=False)
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2
    a, b = records
    assert set(a) == {
        "id",
        "statement",
        "source",
        "scale",
        "measured",
        "held",
        "asserted",
        "profile",
        "seed",
        "condition",
        "margin",
        "dry_run",
        "notebook",
        "note",
        "kind",
        "extra",
    }
    assert a["measured"] == {"acc": 0.5, "n": 10} and a["margin"] == pytest.approx(0.1) and a["note"] == "small run"
    assert (a["seed"], a["profile"], a["notebook"], a["held"], a["asserted"]) == (
        3,
        "fast",
        "02_alexnet_ablations",
        True,
        True,
    )
    assert (b["scale"], b["held"], b["asserted"], b["condition"], b["margin"]) == ("full", False, False, None, None)
    assert (
        Claim(**a).line()
        == run_check(
            "a", "first", measured={"acc": 0.5, "n": 10}, condition="acc < 0.6", note="small run", **ARGS
        ).line()
    )


def test_formatting_of_values_and_note():
    assert [format_value(v) for v in (60000, 0.123456, float("nan"), True, 3e-5)] == [
        "60,000",
        "0.1235",
        "nan",
        "True",
        "3e-05",
    ]
    c = run_check(
        "f", "params", measured={"params": 60000, "acc": 0.987654}, holds=True, note="quoted from the paper", **ARGS
    )
    assert "params=60,000, acc=0.9877" in c.line() and c.line().endswith(" — quoted from the paper")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(scale="medium", holds=True), ValueError, "scale must be one of"),
        (dict(holds=True, condition="x > 0"), ValueError, "exactly one"),
        (dict(), ValueError, "exactly one"),
        (dict(measured={}, holds=True), ValueError, "at least one measured"),
        (dict(condition="y > 0"), ValueError, "names 'y'"),
        (dict(condition="x + 1"), ValueError, "must be a comparison"),
        (dict(condition="x == 1"), ValueError, "only <, <=, >, >="),
        (dict(condition="x >"), ValueError, "not a comparison"),
        (dict(condition="x.real > 0"), ValueError, "unsupported expression"),
        (dict(measured={"x": "high"}, holds=True), TypeError, "must be a number"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(source="s", scale="fast", measured={"x": 1.0}) | kwargs
    with pytest.raises(error, match=match):
        check("bad", "bad arguments", **args)


def test_session_claims_and_table():
    c = run_check("table-row", "a | b in a table", measured={"x": 1.0}, holds=True, **ARGS)
    assert session_claims()[-1] is c
    table = claims_table([c])
    assert table.splitlines()[0].startswith("| | claim | measured |")
    assert "| ✓ | a \\| b in a table | x = 1 | fast | RCP209, slide 3 |" in table
