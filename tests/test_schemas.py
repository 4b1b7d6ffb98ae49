"""Results as versioned data: the shipped JSON Schemas, `workbench schema`, and the result models' round trips.

Real outputs are validated where they are made: a signed report and an audit.json in test_audit.py, a
batch's status files (with a failing notebook's cell, ename and evalue) in test_batch.py.
"""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pydantic
import pytest
from conftest import ROOT

from workbench.audit.checks import AuditFinding as Finding
from workbench.audit.checks import AuditResult
from workbench.cli.app import main
from workbench.core.errors import EvidenceError, Problem
from workbench.model.schemas import SCHEMAS, json_schema, schema_text, shipped_path
from workbench.publish.aggregate import ScoreRow, VoteRow
from workbench.run.batch import Failure, TaskResult


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_shipped_schema_is_current(name):
    for shipped in (shipped_path(name), shipped_path(name, ROOT)):  # the package's, and the checkout's copy
        assert shipped.read_text(encoding="utf-8") == schema_text(name), f"run: workbench schema {name} -o {shipped}"
    jsonschema.Draft202012Validator.check_schema(json_schema(name))


def test_schema_command_prints_the_shipped_file(capsys):
    assert main(["schema", "audit"]) == 0
    assert capsys.readouterr().out == shipped_path("audit", ROOT).read_text(encoding="utf-8")
    assert main(["rubric", "schema"]) == 0  # the older spelling prints the same as `schema rubric`
    assert capsys.readouterr().out == shipped_path("rubric", ROOT).read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["schema", "nonsense"])
    assert e.value.code == 2


def test_result_models_are_versioned_frozen_and_closed():
    for model in (Problem, Failure, TaskResult, AuditResult):
        assert model.model_fields["schema_version"].default == 1
        assert model.model_config["frozen"] and model.model_config["extra"] == "forbid"
    with pytest.raises(pydantic.ValidationError):
        Problem(message="x", schema_version=2)
    with pytest.raises(pydantic.ValidationError):
        Problem.model_validate({"message": "x", "hint": "unknown fields are refused"})


def test_problem_is_the_error_as_data():
    e = EvidenceError("column value: not a number", file="evidence/ta/results.csv", line=2, place="value",
                      expected="a number")
    p = e.problem()
    assert str(p) == str(e) and (p.file, p.line, p.place, p.expected) == ("evidence/ta/results.csv", 2, "value", "a number")
    data = json.loads(json.dumps(p.model_dump(mode="json")))
    jsonschema.validate(data, json_schema("problem"))
    assert Problem.model_validate(data) == p


def test_failure_from_a_notebook_error_and_from_a_workbench_error():
    from papermill.exceptions import PapermillExecutionError

    nb = PapermillExecutionError(cell_index=3, exec_count=2, source="raise ValueError('bad evidence')",
                                 ename="ValueError", evalue="bad evidence", traceback=[])
    f = Failure.from_exception(nb, "notebooks/e1/ta.failed.ipynb")
    assert (f.kind, f.cell, f.exec_count, f.ename, f.evalue) == ("PapermillExecutionError", 3, 2, "ValueError", "bad evidence")
    assert f.file == "notebooks/e1/ta.failed.ipynb" and f.message == "ValueError: bad evidence"
    w = Failure.from_exception(EvidenceError("bad row", file="x.csv", line=4, place="value", expected="a number"), "nb")
    assert (w.kind, w.file, w.line, w.place, w.expected, w.cell) == ("EvidenceError", "x.csv", 4, "value", "a number", None)
    assert str(w) == "x.csv:4: value: bad row, expected a number"
    t = Failure.from_exception(TimeoutError("Cell execution timed out"))
    assert (t.kind, t.message, t.file, t.ename) == ("TimeoutError", "Cell execution timed out", None, None)
    res = TaskResult(reviewer="e1", team="ta", state="failed", attempts=1, error="x", failure=f)
    data = json.loads(json.dumps(res.model_dump(mode="json")))
    jsonschema.validate(data, json_schema("status"))
    jsonschema.validate(data["failure"], json_schema("failure"))
    assert TaskResult.model_validate(data) == res


def test_status_files_of_an_earlier_batch_still_read():
    old = {"reviewer": "e1", "team": "ta", "state": "done", "attempts": 1, "seconds": 2.5, "error": "", "transport": "ipc"}
    assert TaskResult.model_validate(old).schema_version == 1


def test_audit_json_carries_clean_and_counts_and_they_must_agree():
    res = AuditResult(round_id="r", findings=[Finding(severity="error", check="report.files", message="edited"),
                                              Finding(severity="info", check="report.missing", message="none")])
    data = json.loads(json.dumps(res.model_dump(mode="json")))
    assert data["clean"] is False and data["counts"] == {"error": 1, "warning": 0, "info": 1}
    jsonschema.validate(data, json_schema("audit"))
    assert AuditResult.model_validate(data) == res
    with pytest.raises(pydantic.ValidationError, match="clean is True but the findings give False"):
        AuditResult.model_validate({**data, "clean": True})
    with pytest.raises(pydantic.ValidationError, match="counts"):
        AuditResult.model_validate({**data, "counts": {"error": 0, "warning": 0, "info": 1}})


def test_report_rows_take_pandas_values_as_json_data():
    votes = pd.DataFrame({"team": ["ta", "tb"], "votes": np.array([3, 0], dtype="int64"),
                          "bt_strength": [0.123456789012345, np.nan], "bt_low": [0.1, None], "bt_high": [0.2, None]})
    rows = VoteRow.rows(votes)
    assert rows[0].votes == 3 and type(rows[0].votes) is int and rows[1].bt_strength is None
    assert rows[0].bt_strength == 0.123456789012345  # full precision: nothing rounded on the way
    scores = pd.DataFrame([{"team": "ta", "name": "A", "benchmark": 1.0, "expert": 2.0, "user": 3.0, "total": 6.0,
                            "n_expert_sheets": np.int64(3), "frontier_index": 10.0, "diffusion_index": 20.0,
                            "joined_by_amendment": np.bool_(False), "status": "advances", "votes": 0,
                            "bt_strength": None, "bt_low": None, "bt_high": None}])
    scores["rank"] = pd.Series([pd.NA], dtype="Int64")
    assert ScoreRow.rows(scores)[0].rank is None
    scores["rank"] = pd.Series([1], dtype="Int64")
    assert ScoreRow.rows(scores)[0].model_dump(mode="json")["rank"] == 1
    with pytest.raises(pydantic.ValidationError):
        VoteRow.rows(votes.assign(bt_low=[float("inf"), None]))


def test_what_a_round_writes_and_prints_is_valid_against_the_new_schemas(tmp_path, capsys):
    """Issue 26: round status --json, the rules, every ledger line, a checkpoint (as `tlog show` prints it), a
    receipt, verify-receipt --json, the proofs and the report's keys.json validate against their shipped schema."""
    import yaml
    from coord_helpers import make_round, sign_sheet

    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta")
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0

    def check(name: str, doc) -> None:
        jsonschema.Draft202012Validator(json_schema(name)).validate(doc)

    capsys.readouterr()
    main(["round", "status", str(rd), "--json"])
    check("round-status", json.loads(capsys.readouterr().out))
    check("rules", yaml.safe_load((rd / "rules.yaml").read_text()))
    for line in (rd / "ledger.jsonl").read_text().splitlines():
        check("ledger-entry", json.loads(line))
    cp = next((rd / "checkpoints").glob("*.txt"))
    assert main(["tlog", "show", str(cp)]) == 0
    check("checkpoint", json.loads(capsys.readouterr().out))
    receipt = rd / "receipts" / "e1" / "ta.v1.json"
    check("receipt", json.loads(receipt.read_text()))
    assert main(["verify-receipt", str(receipt), "--key", str(tmp_path / "keys" / "coord.pub"), "--json"]) == 0
    check("receipt-check", json.loads(capsys.readouterr().out))
    assert main(["tlog", "prove-inclusion", str(rd / "ledger.jsonl"), "--entry", "2"]) == 0
    check("inclusion-proof", json.loads(capsys.readouterr().out))
    assert main(["tlog", "prove-consistency", str(rd / "ledger.jsonl"), "--old-size", "1"]) == 0
    check("consistency-proof", json.loads(capsys.readouterr().out))
    from workbench.model.round import load_round
    from workbench.publish.verifypage import keys_json

    check("keys", json.loads(keys_json(load_round(rd))))
    # and a schema refuses what the model refuses: a ledger entry with an unknown field
    with pytest.raises(jsonschema.ValidationError):
        check("ledger-entry", {**json.loads((rd / "ledger.jsonl").read_text().splitlines()[0]), "extra": 1})
