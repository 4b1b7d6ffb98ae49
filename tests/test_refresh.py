"""Evidence fixed after the batch (issue 12 item 4): the stale sheets are found, refused, re-run and recorded."""

from __future__ import annotations

from coord_helpers import FIXTURES, coord_key, make_round

from workbench.cli.app import main
from workbench.model.round import load_round
from workbench.publish.aggregate import aggregate_round
from workbench.round.collect import collect
from workbench.round.ledger import read_entries
from workbench.round.lifecycle import status
from workbench.run.batch import run_batch
from workbench.run.refresh import rerun_changed, stale_sheets


def test_evidence_fixed_after_the_batch_has_one_documented_path(tmp_path, capsys):
    rd = make_round(tmp_path, experts=("e1",), teams=("ta", "tb"))
    for t in ("ta", "tb"):
        (rd / "evidence" / t / "technical-report.md").write_text(f"# {t} v1\n")
    nb = FIXTURES / "review_fixture.ipynb"
    keys = tmp_path / "keys"
    assert {r.state for r in run_batch(rd, notebook=nb, keys_dir=keys, progress=False)} == {"done"}
    collect(rd, coord_key(tmp_path), "coord")
    assert stale_sheets(load_round(rd)) == []

    (rd / "evidence" / "ta" / "technical-report.md").write_text("# ta v2: corrected\n")
    [s] = stale_sheets(load_round(rd))
    assert (s.reviewer, s.team, s.version) == ("e1", "ta", 1) and list(s.changed) == ["evidence/ta/technical-report.md"]
    # the batch alone skips it (done before) ...
    assert {r.state for r in run_batch(rd, notebook=nb, keys_dir=keys, progress=False)} == {"skipped"}
    # ... and the report is not signed on top of it; status names it
    agg = aggregate_round(load_round(rd))
    assert any("e1 x ta: sheet v1 was made from evidence/ta/technical-report.md (changed)" in p.text("en")
               for p in agg.problems)
    capsys.readouterr()
    assert main(["round", "status", str(rd)]) == 0
    assert "STALE: 1 accepted sheet(s)" in capsys.readouterr().out

    stale, results, decisions = rerun_changed(rd, coord_key(tmp_path), "coord", keys_dir=keys, notebook=nb, progress=False)
    assert [(r.reviewer, r.team, r.state) for r in results] == [("e1", "ta", "done")]
    assert [(d.path, d.decision, d.reason) for d in decisions if d.new] == [("sheets/e1/ta.v2.dsse.json", "accepted", "")]
    assert not (rd / "sheets" / "e1" / "tb.v2.dsse.json").exists()  # only the stale one ran
    [entry] = [e for e in read_entries(rd / "ledger.jsonl") if e.type == "rerun"]
    assert entry.data["sheets"] == [{"reviewer": "e1", "team": "ta", "version": 1}]
    assert entry.data["files"]["evidence/ta/technical-report.md"]["new"] == s.changed["evidence/ta/technical-report.md"][1]
    assert stale_sheets(load_round(rd)) == [] and not any(
        p.code == "problem_stale_sheet" for p in aggregate_round(load_round(rd)).problems)
    assert status(rd)["reruns"][0]["files"] == ["evidence/ta/technical-report.md"]
    capsys.readouterr()
    assert main(["rerun", str(rd), "--key", str(keys / "coord.key"), "--keys", str(keys), "--notebook", str(nb)]) == 0
    assert "nothing to re-run" in capsys.readouterr().out


def test_rerun_runs_exactly_the_stale_sheets_not_the_survey_signed_user_tasks(tmp_path, capsys):
    """Issue 22 item 8: with user sheets signed from survey exports (never run as notebooks), a rerun of one
    stale expert sheet queued every user task; it runs exactly the stale one now."""
    from coord_helpers import sign_user, survey_rows

    rd = make_round(tmp_path, experts=("e1",), users=("u1", "u2"), teams=("ta", "tb"))
    for t in ("ta", "tb"):
        (rd / "evidence" / t / "technical-report.md").write_text(f"# {t} v1\n")
    nb = FIXTURES / "review_fixture.ipynb"
    keys = tmp_path / "keys"
    assert {r.state for r in run_batch(rd, notebook=nb, keys_dir=keys, progress=False, roles=("expert",))} == {"done"}
    for u in ("u1", "u2"):
        sign_user(tmp_path, u, survey_rows(u, "ta", 4) + survey_rows(u, "tb", 3))
    collect(rd, coord_key(tmp_path), "coord")
    (rd / "evidence" / "ta" / "technical-report.md").write_text("# ta v2: corrected\n")
    stale = stale_sheets(load_round(rd))
    assert ("e1", "ta") in {(s.reviewer, s.team) for s in stale}
    capsys.readouterr()
    assert main(["rerun", str(rd), "--key", str(keys / "coord.key"), "--keys", str(keys), "--notebook", str(nb)]) == 0
    out = capsys.readouterr().out
    assert "done     e1 x ta" in out and "u1" not in out.split("stale sheet(s)")[-1]
    assert not (rd / "notebooks" / "u1").exists() and not (rd / "notebooks" / "u2").exists()
    [entry] = [e for e in read_entries(rd / "ledger.jsonl") if e.type == "rerun"]
    assert entry.data["results"] == {"e1/ta": "done"}
