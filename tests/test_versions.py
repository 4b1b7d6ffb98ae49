"""Versioned data (issue 25): one schema convention, and readers for every released version.

A round written by release 793404f (tests/fixtures/release-793404f, made by make_fixture.py there with that
release's own code) audits clean with today's code: its sheets (workbench.scoresheet/3) and its report
(``schema_version: 2``, problems as English lines) are read in today's shape after their signatures are checked
on their original bytes, and the report is compared with today's recomputation in the form it was signed in.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.audit.checks import audit_round
from workbench.cli.app import main
from workbench.core.errors import SheetError, WorkbenchError
from workbench.core.versions import (
    CURRENT,
    report_as_signed,
    schema_name,
    schema_of,
    sheet_as_signed,
    upgrade,
)
from workbench.model.sheet import parse_sheet

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "release-793404f" / "round"


@pytest.fixture
def old_round(tmp_path) -> Path:
    rd = tmp_path / "round"
    shutil.copytree(FIXTURE, rd)
    return rd


def _payload(f: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(f.read_bytes())["payload"]))


def test_the_fixture_is_what_release_793404f_wrote():
    report = _payload(FIXTURE / "report" / "report.dsse.json")
    assert report["schema_version"] == 2 and "exclusions" not in report
    assert any("run with --limit" in p for p in report["problems"])  # the English lines of issue 25
    sheet = _payload(FIXTURE / "sheets" / "e1" / "ta.v1.dsse.json")
    assert sheet["schema"] == "workbench.scoresheet/3"
    assert sum(f.stat().st_size for f in FIXTURE.rglob("*") if f.is_file()) < 1_000_000


def test_a_round_of_release_793404f_audits_clean_with_todays_code(old_round, capsys):
    res = audit_round(old_round)
    assert res.clean, [f"{f.check} {f.file}: {f.message}" for f in res.findings if f.severity == "error"]
    assert res.accepted == 8 and not any(f.check == "report.recompute" for f in res.findings)
    # the command says the same
    assert main(["audit", str(old_round), "--out", str(old_round.parent / "audit")]) == 0
    assert "clean" in capsys.readouterr().out


def test_the_old_report_is_compared_not_waved_through(old_round):
    # tb's results file now has a full run of gsm8k: today's recomputation lacks that --limit problem, and the
    # audit finds the difference with the English line the old report signed
    f = old_round / "evidence" / "tb" / "results.json"
    doc = json.loads(f.read_text())
    doc["n-samples"]["gsm8k"]["effective"] = doc["n-samples"]["gsm8k"]["original"]
    f.write_text(json.dumps(doc))
    errors = [f for f in audit_round(old_round).findings if f.severity == "error"]
    assert any(f.check == "report.mismatch" and f.detail["path"].startswith("problems") for f in errors)


def test_old_sheets_are_read_in_todays_shape_after_their_bytes_are_checked():
    env = json.loads((FIXTURE / "sheets" / "e1" / "tb.v1.dsse.json").read_bytes())
    data = base64.b64decode(env["payload"])
    sheet = parse_sheet(data)
    assert sheet.read_from == 3 and sheet.to_json()["schema"] == schema_name("scoresheet") == "workbench.scoresheet/4"
    old = json.loads(data)
    v1 = {k: v for k, v in old.items() if k not in ("version", "supersedes", "votes")} | {"schema": "workbench.scoresheet/1"}
    assert parse_sheet(v1).model_dump(exclude={"schema_"}) == sheet.model_dump(exclude={"schema_"})
    assert parse_sheet(v1).read_from == 1
    with pytest.raises(SheetError, match="scoresheet/9 is not one this workbench reads"):
        parse_sheet({**old, "schema": "workbench.scoresheet/9"})
    with pytest.raises(SheetError, match="not a scoresheet document"):
        parse_sheet({**old, "schema": "workbench.report/3"})


def test_a_report_upgrade_keeps_what_was_signed_and_says_its_version():
    old = _payload(FIXTURE / "report" / "report.dsse.json")
    assert schema_of(old, "report") == 2
    new = upgrade(old, "report")
    assert new["schema"] == "workbench.report/3" and "schema_version" not in new and new["exclusions"] == []
    assert new["problems"] == old["problems"]  # the signed lines stay text: never parsed back into codes
    assert old["schema_version"] == 2  # the original is not touched
    assert report_as_signed(new, CURRENT["report"]) == new


@given(st.one_of(st.text(max_size=40), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True)))
def test_any_schema_value_is_read_or_refused_with_a_clear_error(value):
    for kind in CURRENT:
        try:
            n = schema_of({"schema": value, "schema_version": value}, kind)
        except WorkbenchError as e:
            assert kind in e.message
        else:
            assert isinstance(n, int) and n >= 1


def test_a_rerun_sheet_is_compared_with_a_3_sheet_in_the_lines_that_sheet_signed():
    noise = {"code": "bench_noise", "params": {"benchmark": "textvqa", "reference": 0.75, "confidence": 0.95,
                                               "low": 0.7204, "high": 0.7596}}
    derived = {"code": "weights_derived", "params": {"component": "vision_encoder", "reference": "Foreign-VL",
                                                     "share": 0.128}}
    limit = {"message": "gsm8k: run with --limit: 100 of 1319 items of gsm8k scored, so the score is not the "
                        "benchmark's", "file": "evidence/ta/r.json", "line": None, "place": "n-samples.gsm8k",
             "expected": "a run over every item (effective = original, no --limit)", "schema_version": 1,
             "code": "bench_limit", "params": {"benchmark": "gsm8k", "task": "gsm8k", "effective": 100, "original": 1319}}
    rerun = {"schema": "workbench.scoresheet/4",
             "evidence": {"benchmark_points": {"bench.individual": {"flags": [noise]}}, "independence_flags": [derived],
                          "notes": [{"code": "note_no_benchmark_results", "params": {}}], "problems": [limit],
                          "point_problems": [{"criteria": ["bench.common"], "problem": limit}]},
             "computed": {"bench.individual": {"points": 9.9, "detail": {"flags": [noise]}}}}
    old = sheet_as_signed(rerun, 3)
    line = "textvqa: misses its reference 0.75 but the 95% interval [0.7204, 0.7596] reaches it: the miss may be noise"
    assert old["computed"]["bench.individual"]["detail"]["flags"] == [line]
    assert old["evidence"]["benchmark_points"]["bench.individual"]["flags"] == [line]
    assert old["evidence"]["independence_flags"] == ["vision_encoder derived from Foreign-VL (12.8% of parameters)"]
    assert old["evidence"]["notes"] == ["no benchmark_results submitted: the computed benchmark criteria score 0"]
    assert "code" not in old["evidence"]["problems"][0] and "params" not in old["evidence"]["point_problems"][0]["problem"]
    assert sheet_as_signed(rerun, 4) == rerun and rerun["evidence"]["problems"][0]["code"] == "bench_limit"
