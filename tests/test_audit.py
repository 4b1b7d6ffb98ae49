"""The audit: a clean demo round, every tamper case of issue 8 detected and named, reproducibility after a move.

The demo round is built once per session (~15 s); each tamper test works on its own copy.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from workbench.audit.checks import answers_yaml, audit_round, compare_sheets
from workbench.audit.render import findings_chart, findings_table
from workbench.cli.app import main
from workbench.core.diff import RECORD_KEYS, json_diff
from workbench.core.files import canonical_json
from workbench.core.signing import (
    REPORT_TYPE,
    SHEET_TYPE,
    envelope_bytes,
    generate_keypair,
    load_private_key,
    sign_payload,
)
from workbench.demo.run import run_demo
from workbench.model.sheet import Judgment, parse_sheet
from workbench.round.lifecycle import amend

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "fixtures" / "coord" / "review_fixture.ipynb"
SHEET = "sheets/expert-01/team-aurora.v1.dsse.json"

# one worker runs this module: its demo round (a session fixture) and real-notebook round are made once
pytestmark = pytest.mark.xdist_group("audit")


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    run_demo(out, echo=lambda _: None, notebook=NOTEBOOK)
    return out


@pytest.fixture
def rd(demo, tmp_path) -> Path:
    dst = tmp_path / "round"
    shutil.copytree(demo / "round", dst)
    return dst


@pytest.fixture(scope="session")
def coord_key(demo):
    return load_private_key(demo / "keys" / "coordinator.key")


def errors(res, check=None):
    return [f for f in res.findings if f.severity == "error" and (check is None or f.check == check)]


def payload_of(path: Path) -> dict:
    env = json.loads(path.read_bytes())
    return json.loads(base64.b64decode(env["payload"]))


def rewrite_payload(path: Path, payload: dict) -> None:
    """Replace the payload of an envelope without re-signing it."""
    env = json.loads(path.read_bytes())
    env["payload"] = base64.b64encode(canonical_json(payload)).decode()
    path.write_bytes(envelope_bytes(env))


# ---------------------------------------------------------------- the clean round

def test_demo_round_is_clean_and_lists_the_amendment(rd):
    res = audit_round(rd)
    assert res.clean and res.sheets == 270 and res.accepted == 270  # 25 expert sheets, 245 user sheets
    warn = [f for f in res.findings if f.severity == "warning"]
    # no witnessed checkpoint was given: the audit says that truncation cannot be detected
    assert [(f.check, f.file) for f in warn] == [("ledger.witness", ""), ("rules.amendment", "frozen/v2.dsse.json")]
    warn = warn[1:]
    assert warn[0].detail["after_first_submission"] is True and warn[0].detail["version"] == 2
    assert {c["path"] for c in warn[0].detail["changes"]} >= {"rules.cut"}
    table = findings_table(res)
    assert list(table.columns) == ["severity", "check", "file", "message"] and len(table) == len(res.findings)
    assert findings_chart(res).to_dict()["mark"]["type"] == "bar"


def test_published_files_are_versioned_data_that_validate_against_the_shipped_schemas(rd):
    import jsonschema
    import pydantic

    from workbench.audit.checks import AuditResult
    from workbench.audit.render import write_audit
    from workbench.model.schemas import json_schema
    from workbench.publish.aggregate import SignedReport

    env = json.loads((rd / "report" / "report.dsse.json").read_bytes())
    signed = base64.b64decode(env["payload"])
    payload = json.loads(signed)
    jsonschema.validate(payload, json_schema("report"))
    # signed exactly as the model serializes
    assert payload["schema"] == "workbench.report/3"
    assert canonical_json(SignedReport.model_validate(payload).model_dump(mode="json")) == signed
    jsonschema.validate(payload_of(rd / SHEET), json_schema("sheet"))
    res = audit_round(rd)
    saved = json.loads(write_audit(res, rd)["json"].read_text(encoding="utf-8"))
    jsonschema.validate(saved, json_schema("audit"))
    assert saved["schema_version"] == 1 and AuditResult.model_validate(saved).model_dump(mode="json") == saved
    with pytest.raises(pydantic.ValidationError):
        AuditResult.model_validate({**saved, "clean": not saved["clean"]})


# ---------------------------------------------------------------- tamper cases

def test_score_edited_inside_a_signed_sheet(rd):
    p = payload_of(rd / SHEET)
    crit = next(k for k, j in p["judgments"].items() if j.get("level") is not None)
    p["judgments"][crit]["level"] = 1
    rewrite_payload(rd / SHEET, p)
    res = audit_round(rd)
    assert not res.clean
    sig = errors(res, "sheet.signature")
    assert [f.file for f in sig] == [SHEET] and "modified" in sig[0].message
    assert [f.file for f in errors(res, "sheet.ledger")] == [SHEET]  # and it is not the collected file


def test_signature_by_a_key_not_in_the_roster(rd, tmp_path):
    generate_keypair("intruder", tmp_path / "k")
    p = payload_of(rd / SHEET)
    rd.joinpath(SHEET).write_bytes(envelope_bytes(sign_payload(canonical_json(p), SHEET_TYPE,
                                                               load_private_key(tmp_path / "k" / "intruder.key"))))
    res = audit_round(rd)
    sig = errors(res, "sheet.signature")
    assert [f.file for f in sig] == [SHEET] and "wrong key" in sig[0].message


def test_sheet_for_team_a_replayed_as_team_b(rd):
    target = "sheets/expert-01/team-baekdu.v1.dsse.json"
    shutil.copyfile(rd / SHEET, rd / target)
    res = audit_round(rd)
    ident = errors(res, "sheet.identity")
    assert [f.file for f in ident] == [target] and "team-aurora" in ident[0].message
    assert [f.file for f in errors(res, "sheet.ledger")] == [target]


def test_rubric_edited_after_freeze(rd):
    f = rd / "rubrics" / "expert.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("Expert evaluation (2026 stage 1)", "Expert evaluation (edited)"),
                 encoding="utf-8")
    res = audit_round(rd)
    assert [(x.check, x.file) for x in errors(res)] == [("rubric.frozen", "rubrics/expert.yaml")]


def test_rubric_and_its_pin_edited_after_freeze(rd):
    from workbench.model.rubric import load_rubric

    f = rd / "rubrics" / "expert.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("Expert evaluation (2026 stage 1)", "Expert evaluation (edited)"),
                 encoding="utf-8")
    rules = yaml.safe_load((rd / "rules.yaml").read_text(encoding="utf-8"))
    rules["rubrics"]["expert"]["sha256"] = load_rubric(f).sha256
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    res = audit_round(rd)
    assert "rubrics/expert.yaml" in [x.file for x in errors(res, "rubric.frozen")]
    assert "rules.yaml" in [x.file for x in errors(res, "rules.frozen")]
    assert len(errors(res, "sheet.rubric")) == 25  # every expert sheet was made with the frozen rubric


def test_one_finding_does_not_hide_the_others(rd, capsys):
    # issue 12 item 6: a sheet edited, a ledger line deleted and a rubric changed at once; the changed rubric
    # stops the round's files from loading, yet every other check still runs and every finding is printed
    p = payload_of(rd / SHEET)
    crit = next(k for k, j in p["judgments"].items() if j.get("level") is not None)
    p["judgments"][crit]["level"] = 1
    rewrite_payload(rd / SHEET, p)
    other = "sheets/expert-02/team-baekdu.v1.dsse.json"
    lines = (rd / "ledger.jsonl").read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if json.loads(line)["type"] == "submit"
             and json.loads(line)["data"].get("path") == other)
    del lines[i]
    (rd / "ledger.jsonl").write_text("".join(lines))
    f = rd / "rubrics" / "expert.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("Expert evaluation (2026 stage 1)", "Expert evaluation (edited)"),
                 encoding="utf-8")
    assert main(["audit", str(rd)]) == 1
    out = capsys.readouterr().out
    res = audit_round(rd)
    found = {(x.check, x.file) for x in errors(res)}
    assert {("rubric.frozen", "rubrics/expert.yaml"), ("ledger.chain", "ledger.jsonl"), ("sheet.signature", SHEET),
            ("sheet.ledger", other)} <= found
    # the report is still checked: it was signed under the ledger before the deletion, and the broken chain
    # is why it cannot be recomputed
    assert errors(res, "report.ledger") and "cannot be recomputed" in errors(res, "report.recompute")[0].message
    assert res.round_id == "demo-2026-stage1" and res.sheets == 270 and res.accepted == 269
    assert "demo-2026-stage1" in (rd / "audit" / "index.html").read_text(encoding="utf-8")
    assert "270 sheet file(s), 269 accepted" in out
    chain = errors(res, "ledger.chain")[0]
    assert f"ledger.jsonl:{chain.detail['line']}:" in out
    for x in res.findings:  # the command line says what audit.json says: file, line, place, expected
        assert x.message in out and str(x.detail.get("expected", "")) in out
        if "line" in x.detail:
            assert f"{x.file}:{x.detail['line']}:" in out


def test_a_roster_that_does_not_load_falls_back_to_the_key_inside_the_signed_version(rd):
    (rd / "roster.yaml").write_text("reviewers: [\n", encoding="utf-8")
    p = payload_of(rd / SHEET)
    p["judgments"][next(iter(p["judgments"]))]["comment"] = "edited"
    rewrite_payload(rd / SHEET, p)
    res = audit_round(rd)
    assert res.round_id == "demo-2026-stage1" and res.sheets == 270 and res.accepted == 269
    assert [f.file for f in errors(res, "round.load")] == ["roster.yaml"]
    assert [f.file for f in errors(res, "sheet.signature")] == [SHEET]  # verified with the signed roster's key
    warn = [f for f in res.findings if f.check == "rules.signature"]
    assert [(f.severity, f.file) for f in warn] == [("warning", "frozen/v2.dsse.json")]
    assert warn[0].detail["coordinator_keys"]


def test_without_the_frozen_rubric_content_sheets_are_checked_for_signatures_only(rd, tmp_path, monkeypatch):
    import workbench.audit.checks

    monkeypatch.setattr(workbench.audit.checks, "shipped_path", lambda name: tmp_path / "none")  # no copy anywhere
    f = rd / "rubrics" / "user.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("en: User evaluation (2026 stage 1)", "en: User evaluation (edited)"),
                 encoding="utf-8")
    res = audit_round(rd)
    assert [(x.check, x.file) for x in errors(res)] == [("rubric.frozen", "rubrics/user.yaml")]
    skipped = {x.check for x in res.findings if x.severity == "info" and "not at hand" in x.message}
    assert skipped == {"sheet.rubric", "report.recompute"} and res.accepted == 270


def test_evidence_file_replaced_after_signing(rd):
    f = sorted((rd / "evidence" / "team-aurora").iterdir())[0]
    ev = f.relative_to(rd).as_posix()
    f.write_bytes(f.read_bytes() + b"\n")  # any change of content; a trailing newline keeps it readable
    res = audit_round(rd, rerun=True, only=["expert-01/team-aurora"], notebook=NOTEBOOK, jobs=1)
    inputs = errors(res, "sheet.input")
    assert {f.file for f in inputs} == {ev} and len(inputs) == 5  # each expert's sheet on team-aurora used it
    assert all("replaced" in f.message for f in inputs)
    sheet = "sheets/expert-01/team-aurora.v1.dsse.json"
    mism = {(f.file, f.detail["path"]): (f.detail["signed"], f.detail["recomputed"]) for f in errors(res, "rerun.mismatch")}
    assert set(mism) == {(sheet, f"inputs[{ev}].sha256"), (sheet, f"inputs[{ev}].bytes"), (sheet, "evidence.bytes")}
    signed, again = mism[(sheet, "evidence.bytes")]
    assert again == signed + 1


@pytest.mark.parametrize("how", ["deleted", "reordered", "edited"])
def test_ledger_entry_deleted_reordered_or_edited(rd, how):
    lines = (rd / "ledger.jsonl").read_text().splitlines(keepends=True)
    if how == "deleted":
        del lines[4]
    elif how == "reordered":
        lines[4], lines[5] = lines[5], lines[4]
    else:
        e = json.loads(lines[4])
        e["data"]["decision"] = "rejected"
        lines[4] = canonical_json(e).decode() + "\n"
    (rd / "ledger.jsonl").write_text("".join(lines))
    res = audit_round(rd)
    chain = errors(res, "ledger.chain")
    assert [f.file for f in chain] == ["ledger.jsonl"]
    assert chain[0].detail["line"] == (6 if how == "edited" else 5)  # an edit breaks the next line's link


def test_report_total_edited_in_the_csv(rd, capsys):
    import csv
    import io

    scores = rd / "report" / "scores.csv"
    text = scores.read_text()
    total = next(r for r in csv.DictReader(io.StringIO(text)) if r["team"] == "team-aurora")["total"]
    assert text.count(f",{total},") == 1
    scores.write_text(text.replace(f",{total},", f",{float(total) + 6:.4f},"))
    assert main(["audit", str(rd)]) == 1
    out = capsys.readouterr().out
    assert "report.files" in out and "report/scores.csv" in out and "NOT CLEAN" in out
    saved = json.loads((rd / "audit" / "audit.json").read_text())
    assert saved["clean"] is False
    assert [(f["check"], f["file"]) for f in saved["findings"] if f["severity"] == "error"] == [
        ("report.files", "report/scores.csv")]
    assert "report.files" in (rd / "audit" / "index.html").read_text()


def test_report_total_edited_and_resigned_by_the_coordinator(rd, coord_key):
    f = rd / "report" / "report.dsse.json"
    p = payload_of(f)
    row = next(s for s in p["scores"] if s["team"] == "team-eoullim")
    signed_total = row["total"]
    row["total"] = 99.0
    f.write_bytes(envelope_bytes(sign_payload(canonical_json(p), REPORT_TYPE, coord_key)))
    res = audit_round(rd)
    assert [x.file for x in errors(res, "report.ledger")] == ["report/report.dsse.json"]
    mism = errors(res, "report.mismatch")
    assert [(x.detail["path"], x.detail["signed"]) for x in mism] == [("scores[team-eoullim].total", 99.0)]
    assert mism[0].detail["recomputed"] == pytest.approx(signed_total, abs=1e-6)


def test_amendment_inserted_after_submissions(rd, coord_key):
    rules = yaml.safe_load((rd / "rules.yaml").read_text(encoding="utf-8"))
    rules["cut"] = 2
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    amend(rd, coord_key, "coordinator", "late change")
    res = audit_round(rd)
    late = [f for f in res.findings if f.check == "rules.amendment" and f.file == "frozen/v3.dsse.json"]
    assert [f.severity for f in late] == ["warning"] and late[0].detail["after_first_submission"] is True
    assert late[0].detail["changes"] == [{"path": "rules.cut", "old": 3, "new": 2}]
    # the published report was made under version 2: a recomputation under version 3 differs
    paths = {f.detail["path"] for f in errors(res, "report.mismatch")}
    assert {"frozen_version", "rules.cut", "scores[team-daehan].status"} <= paths


def test_notebook_template_changed_so_computed_values_change(rd, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if '"bytes": sum(i.bytes for i in inputs)' in c.source)
    cell.source = cell.source.replace('"bytes": sum(i.bytes for i in inputs)', '"bytes": sum(i.bytes for i in inputs) * 2')
    changed = tmp_path / "review.ipynb"
    nbformat.write(nb, changed)
    res = audit_round(rd, rerun=True, only=["expert-02/team-baekdu"], notebook=changed, jobs=1)
    sheet = "sheets/expert-02/team-baekdu.v1.dsse.json"
    mism = errors(res, "rerun.mismatch")
    assert [(f.file, f.detail["path"]) for f in mism] == [(sheet, "evidence.bytes")]
    assert mism[0].detail["recomputed"] == 2 * mism[0].detail["signed"] > 0
    assert [f.file for f in res.findings if f.check == "rerun.template"] == [sheet]
    assert res.rerun_sheets == 1


# ---------------------------------------------------------------- the real review notebook
# The tests above use the stand-in notebook for speed; these run notebooks/review.ipynb itself, as
# `workbench demo` and an auditor do (about 30 s a notebook on 2 busy cores), on one sheet of the demo's team.

REAL_NOTEBOOK = ROOT / "notebooks" / "review.ipynb"
AURORA = "sheets/expert-01/team-aurora.v1.dsse.json"


@pytest.fixture(scope="module")
def real_round(tmp_path_factory) -> Path:
    """expert-01's sheet on team-aurora (the demo's evidence), made by the real notebook, collected."""
    from roundkit import make_round as make_review_round

    from workbench.core.files import sha256_file
    from workbench.round.collect import collect
    from workbench.round.lifecycle import freeze
    from workbench.run.batch import run_batch

    base = tmp_path_factory.mktemp("real-notebook")
    kit = make_review_round(base, demo_evidence=True)
    (kit.round_dir / "assignments.yaml").write_text(yaml.safe_dump(
        {"assignments": [{"reviewer": "expert-01", "team": "team-aurora"}]}))
    key = load_private_key(kit.keys / "coordinator.key")
    freeze(kit.round_dir, key, "coordinator")
    [res] = run_batch(kit.round_dir, notebook=REAL_NOTEBOOK, keys_dir=kit.keys, jobs=1, progress=False, lang="en")
    assert res.state == "done", res.error
    assert [d.decision for d in collect(kit.round_dir, key, "coordinator")] == ["accepted"]
    # made by the real notebook, not the stand-in
    assert payload_of(kit.round_dir / AURORA)["parameters"]["notebook_sha256"] == sha256_file(REAL_NOTEBOOK)
    return kit.round_dir


@pytest.fixture
def real_rd(real_round, tmp_path) -> Path:
    dst = tmp_path / "round"
    shutil.copytree(real_round, dst)
    return dst


@pytest.mark.slow
def test_rerun_with_the_real_notebook_reproduces_the_signed_sheet(real_rd):
    assert audit_round(real_rd).clean
    res = audit_round(real_rd, rerun=True, notebook=REAL_NOTEBOOK, jobs=1)
    assert res.rerun_sheets == 1
    assert [(f.severity, f.check, f.file) for f in res.findings if f.check.startswith("rerun.")] == []
    assert res.clean, [f.model_dump() for f in errors(res)]


@pytest.mark.slow
def test_benchmark_score_edited_after_signing_is_caught_by_the_real_notebook_rerun(real_rd):
    f = real_rd / "evidence" / "team-aurora" / "results.json"
    data = json.loads(f.read_text())
    assert data["results"]["haerae"]["acc_norm,none"] == 0.3779  # signed: 0.3779 against its target 0.3897
    data["results"]["haerae"]["acc_norm,none"] = 0.2  # further under the target: the NIA points drop
    f.write_text(json.dumps(data, indent=1))
    res = audit_round(real_rd, rerun=True, notebook=REAL_NOTEBOOK, jobs=1)
    assert not res.clean and res.rerun_sheets == 1
    inputs = errors(res, "sheet.input")
    assert [x.file for x in inputs] == ["evidence/team-aurora/results.json"] and "replaced" in inputs[0].message
    # (a finding's detail leaves out a side that is absent)
    mism = {x.detail["path"]: (x.detail.get("signed"), x.detail.get("recomputed"))
            for x in errors(res, "rerun.mismatch") if x.file == AURORA}
    assert {"inputs[evidence/team-aurora/results.json].sha256"} <= set(mism)
    nia = [p for p in mism if "bench.nia" in p and p.endswith(".points")]
    assert nia, sorted(mism.items())
    signed, again = mism[nia[0]]
    # haerae's ratio falls from 0.3779 / 0.3897 to 0.2 / 0.3897: one fifth of 10 points times the difference
    assert signed - again == pytest.approx(10 / 5 * (0.3779 - 0.2) / 0.3897, abs=1e-3)


# ---------------------------------------------------------------- reproducibility

def test_audit_is_clean_after_moving_the_folder_under_another_locale_and_time_zone(demo, tmp_path):
    moved = tmp_path / "elsewhere" / "copied round"
    shutil.copytree(demo / "round", moved)
    env = {**os.environ, "TZ": "Asia/Seoul", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "workbench", "audit", str(moved), "--rerun", "--notebook", str(NOTEBOOK),
                           "--only", "expert-03/team-cheonma", "--only", "expert-04/team-daehan"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (moved / "audit" / "audit.json").read_text(encoding="utf-8")
    saved = json.loads(text)
    assert saved["clean"] and saved["rerun_sheets"] == 2 and saved["counts"]["error"] == 0
    assert str(tmp_path) not in text and str(demo) not in text
    # the same findings as an audit in place, in this process's locale and time zone
    here = audit_round(demo / "round")
    assert [f.model_dump() for f in here.findings] == saved["findings"]


# ---------------------------------------------------------------- pure functions

def test_json_diff_matches_records_by_key_and_reports_both_values():
    a = {"inputs": [{"path": "x", "sha256": "1"}, {"path": "y", "sha256": "2"}], "n": 1, "flag": True, "gone": 3}
    b = {"inputs": [{"path": "y", "sha256": "2"}, {"path": "x", "sha256": "9"}], "n": 1.0, "flag": 1, "new": [1, 2]}
    assert json_diff(a, b) == [
        {"path": "flag", "old": True, "new": 1},
        {"path": "gone", "old": 3, "new": None},
        {"path": "inputs[x].sha256", "old": "1", "new": "9"},
        {"path": "new", "old": None, "new": [1, 2]},
    ]
    assert json_diff([1, 2, 3], [1, 5]) == [{"path": "[1]", "old": 2, "new": 5}, {"path": "[2]", "old": 3, "new": None}]


def test_compare_sheets_ignores_clock_paths_key_and_template_only():
    signed = {"created_at": "2026-01-01T00:00:00Z", "workbench_version": "0.1.0",
              "reviewer": {"id": "e1", "role": "expert", "key_id": "ab"},
              "parameters": {"answers_file": "answers/e1/t.yaml", "round_dir": ".", "lang": "ko", "notebook_sha256": "1"},
              "totals": {"total": 30.2}}
    rerun = {"created_at": "2027-05-05T00:00:00Z", "workbench_version": "0.2.0",
             "reviewer": {"id": "e1", "role": "expert", "key_id": ""},
             "parameters": {"answers_file": "/tmp/x/answers/e1/t.yaml", "round_dir": ".", "lang": "en", "notebook_sha256": "2"},
             "totals": {"total": 30.4}}
    assert compare_sheets(signed, rerun) == [
        {"path": "parameters.lang", "signed": "ko", "recomputed": "en"},
        {"path": "totals.total", "signed": 30.2, "recomputed": 30.4},
    ]


def test_answers_yaml_carries_the_human_inputs(demo):
    sheet = parse_sheet(payload_of(demo / "round" / SHEET))
    data = yaml.safe_load(answers_yaml(sheet))
    assert {k: Judgment(**v) for k, v in data["judgments"].items()} == sheet.judgments
    assert data["coi"] == sheet.coi.model_dump(mode="json")


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=8))
keys = st.text(max_size=6).filter(lambda k: k not in RECORD_KEYS)  # records matched by key may be reordered
plain_json = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(keys, inner, max_size=4)),
                          max_leaves=20)


@given(plain_json, plain_json)
def test_json_diff_is_empty_exactly_when_the_canonical_json_is_equal(a, b):
    assert json_diff(a, a) == []
    assert (json_diff(a, b) == []) == (canonical_json(a) == canonical_json(b))


def test_audit_notebook_runs_on_a_round_and_writes_the_audit(rd, tmp_path, monkeypatch):
    import papermill as pm

    src = ROOT / "notebooks" / "audit.ipynb"
    assert all(not c.get("outputs") for c in nbformat.read(src, as_version=4).cells if c.cell_type == "code")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pm.execute_notebook(str(src), str(tmp_path / "out.ipynb"), parameters={"ROUND": str(rd)}, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    saved = json.loads((rd / "audit" / "audit.json").read_text())
    # warnings: the amendment, no witness; info: the reviewers' receipts verified
    assert saved["clean"] and saved["counts"] == {"error": 0, "warning": 2, "info": 1}


def test_amendment_whose_recorded_timing_contradicts_the_ledger(rd, coord_key):
    from workbench.round import ledger

    ledger.append(rd / "ledger.jsonl", actor="coordinator", key=coord_key, type="amend", payload_sha256="0" * 64,
                  data={"version": 3, "reason": "back-dated", "changes": [], "after_first_submission": False,
                        "file": "frozen/v3.dsse.json"})
    res = audit_round(rd)
    wrong = errors(res, "rules.amendment")
    assert [f.file for f in wrong] == ["frozen/v3.dsse.json"] and "after_first_submission=False" in wrong[0].message
    assert [f.file for f in errors(res, "rules.signature")] == ["frozen/v3.dsse.json"]  # and no signed v3 exists


def test_rerun_of_an_unknown_sheet_is_refused(rd):
    from workbench.core.errors import RoundError

    with pytest.raises(RoundError, match="no accepted sheet for expert-09/team-x"):
        audit_round(rd, rerun=True, only=["expert-09/team-x"], notebook=NOTEBOOK)


def test_a_forged_ledger_entry_with_odd_data_is_a_finding_not_a_traceback(rd):
    lines = (rd / "ledger.jsonl").read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if json.loads(line)["type"] == "amend")
    e = json.loads(lines[i])
    e["data"].update(changes="x", file=7, version={"a": 1})
    lines[i] = canonical_json(e).decode() + "\n"
    (rd / "ledger.jsonl").write_text("".join(lines))
    res = audit_round(rd)
    assert [f.detail["line"] for f in errors(res, "ledger.chain")] == [i + 2]  # the next line's link breaks
    # the entry's data has no amendment's shape: an authority finding naming it, signer and role
    [bad] = [f for f in errors(res, "ledger.authority") if f.detail["seq"] == i + 1]
    assert bad.file == "ledger.jsonl" and "malformed amend entry" in bad.message
    assert (bad.detail["signer"], bad.detail["role"]) == ("coordinator", "coordinator")


def test_the_report_carries_the_ledger_checkpoint_it_was_made_under(rd, coord_key):
    from workbench.round.ledger import entry_hash, locked, read_entries
    entries = read_entries(rd / "ledger.jsonl")
    report_entry = [e for e in entries if e.type == "report"][-1]
    signed = payload_of(rd / "report" / "report.dsse.json")
    assert signed["ledger_size"] == report_entry.seq - 1
    assert signed["ledger_head"] == entry_hash(entries[report_entry.seq - 2])
    assert not errors(audit_round(rd), "report.ledger")
    # the coordinator rewrites the history before the report (re-signing every entry): the report's
    # checkpoint no longer matches, even though the chain verifies
    led = rd / "ledger.jsonl"
    lines = led.read_bytes().splitlines(keepends=True)
    led.write_bytes(b"".join(lines[:2]))
    with locked(led) as book:  # every later entry re-signed, in one write (an append each would re-read the ledger)
        book.append(*({"type": e.type, "payload_sha256": e.payload_sha256,
                       "data": {**e.data, "reason": "rewritten"} if e.type == "amend" else e.data}
                      for e in entries[2:]), actor="coordinator", key=coord_key)
    found = errors(audit_round(rd), "report.ledger")
    assert found and "signed under a ledger of" in found[0].message
