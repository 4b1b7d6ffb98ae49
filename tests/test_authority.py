"""Who may sign what (workbench.round.authority): each attack of issue 22 reproduced through the CLI, then refused
or reported, naming the entry, its signer and the signer's role."""

from __future__ import annotations

import json

import pytest
import yaml
from coord_helpers import coord_key, make_round, sign_sheet, write_yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from workbench.audit.checks import audit_round
from workbench.cli.app import main
from workbench.core.diff import json_diff
from workbench.core.signing import generate_keypair, load_private_key, load_public_key, public_key_pem
from workbench.model.round import load_round, round_state, state_hash
from workbench.publish.aggregate import aggregate_round
from workbench.round import ledger
from workbench.round.authority import replay
from workbench.round.lifecycle import _write_version, amend


def _key(base, name):
    return load_private_key(base / "keys" / f"{name}.key")


def _collected(tmp_path, experts=("e1", "e2", "e3"), teams=("ta", "tb"), **rules):
    """A frozen round whose experts each signed a sheet for every team, collected by the coordinator."""
    rd = make_round(tmp_path, experts=experts, teams=teams, **rules)
    for e in experts:
        for t in teams:
            sign_sheet(tmp_path, e, t)
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    return rd


def _authority_errors(rd):
    res = audit_round(rd)
    return res, [f for f in res.findings if f.check == "ledger.authority"]


def _audit_cli(rd, capsys):
    code = main(["audit", str(rd)])
    out = capsys.readouterr().out
    assert (rd / "audit" / "audit.json").is_file()
    return code, out


# ---------------------------------------------------------------- 1. roster self-promotion

def test_self_promotion_through_an_edited_roster_is_refused_by_amend(tmp_path, capsys):
    rd = make_round(tmp_path)
    mk, mp = generate_keypair("mallory", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "coordinator-2", "role": "coordinator", "public_key": mp.read_text(), "coi": []})
    write_yaml(rd / "roster.yaml", roster)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["cut"] = 1
    write_yaml(rd / "rules.yaml", rules)
    code = main(["round", "amend", str(rd), "--key", str(mk), "--reason", "promote myself"])
    err = capsys.readouterr().err
    assert code == 1 and "coordinator-2" in err and "not in the signed roster of version 1" in err
    assert len(err.strip().splitlines()) == 1
    assert [e.type for e in ledger.read_entries(rd / "ledger.jsonl")] == ["freeze"]


def test_a_hand_appended_self_promotion_counts_for_nothing_and_the_audit_names_it(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    mk, mp = generate_keypair("mallory", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "coordinator-2", "role": "coordinator", "public_key": mp.read_text(), "coi": []})
    write_yaml(rd / "roster.yaml", roster)
    # with folder write access the attacker signs the next version and appends the amend entry by hand
    r = load_round(rd)
    state = round_state(r)
    _write_version(r, 2, state, load_private_key(mk))
    ledger.append(rd / "ledger.jsonl", actor="coordinator-2", key=load_private_key(mk), type="amend",
                  payload_sha256=state_hash(state),
                  data={"version": 2, "reason": "x", "changes": json_diff(replay(rd).state, state),
                        "after_first_submission": True, "file": "frozen/v2.dsse.json"})
    auth = replay(rd)
    assert auth.version == 1 and [f.params["signer"] for f in auth.findings] == ["coordinator-2"]
    # the edited files are not the signed state: nothing downstream runs on them
    assert main(["aggregate", str(rd), "--key", str(mk)]) == 1
    assert "changed after version 1" in capsys.readouterr().err
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "ledger.authority" in out and "coordinator-2" in out and "not in the signed roster" in out


def test_a_threshold_of_coordinators_gathers_signatures_before_an_amendment_lands(tmp_path, capsys):
    rd = make_round(tmp_path, do_freeze=False)
    generate_keypair("coord2", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "coord2", "role": "coordinator",
                                "public_key": public_key_pem(load_public_key(tmp_path / "keys" / "coord2.pub")), "coi": []})
    write_yaml(rd / "roster.yaml", roster)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["coordinator_threshold"] = 2
    write_yaml(rd / "rules.yaml", rules)
    assert main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    freeze = ledger.read_entries(rd / "ledger.jsonl")[0]
    assert [c["id"] for c in freeze.data["coordinators"]] == ["coord", "coord2"]  # the root of trust, pinned
    rules["cut"] = 1
    write_yaml(rd / "rules.yaml", rules)
    args = ["round", "amend", str(rd), "--reason", "one team advances"]
    assert main([*args, "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    assert "signed by 1 of the 2 coordinators" in capsys.readouterr().out
    assert [e.type for e in ledger.read_entries(rd / "ledger.jsonl")] == ["freeze"]
    assert main([*args, "--key", str(tmp_path / "keys" / "coord2.key")]) == 0
    assert "amended: version 2" in capsys.readouterr().out
    e = ledger.read_entries(rd / "ledger.jsonl")[-1]
    assert e.type == "amend" and [c["actor"] for c in e.data["cosignatures"]] == ["coord"]
    auth = replay(rd)
    assert auth.version == 2 and not auth.findings and auth.amendments[0]["signers"] == ["coord", "coord2"]
    # the same amendment signed by one coordinator alone, appended by hand: short of the threshold
    lines = (rd / "ledger.jsonl").read_text().splitlines(keepends=True)
    (rd / "ledger.jsonl").write_text(lines[0])
    ledger.append(rd / "ledger.jsonl", actor="coord2", key=_key(tmp_path, "coord2"), type="amend",
                  payload_sha256=e.payload_sha256, data={k: v for k, v in e.data.items() if k != "cosignatures"})
    auth = replay(rd)
    assert auth.version == 1 and auth.findings[0].code == "authority_threshold"
    assert "1 of the 2 coordinators" in auth.findings[0].params["problem"]


def test_a_revoked_key_signs_nothing_after_its_revocation(tmp_path):
    rd = _collected(tmp_path, teams=("ta",))
    old = _key(tmp_path, "e1")
    generate_keypair("e1-new", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    next(x for x in roster["reviewers"] if x["id"] == "e1")["public_key"] = (tmp_path / "keys" / "e1-new.pub").read_text()
    write_yaml(rd / "roster.yaml", roster)
    amend(rd, coord_key(tmp_path), "coord", "e1's key was stolen")
    ledger.append(rd / "ledger.jsonl", actor="e1", key=old, type="withdraw", payload_sha256="0" * 64,
                  data={"path": "sheets/e1/ta.v1.dsse.json", "reviewer": "e1", "team": "ta", "version": 1})
    f = replay(rd).findings
    assert [x.code for x in f] == ["authority_key"] and "revoked by the amendment in entry" in f[0].params["problem"]


# ---------------------------------------------------------------- 2. any roster member signs coordinator acts

@pytest.mark.parametrize("etype", ["collect", "acknowledge", "amend", "users_import", "exclude", "report"])
def test_coordinator_acts_signed_by_an_expert_are_findings_that_count_for_nothing(tmp_path, capsys, etype):
    rd = _collected(tmp_path, experts=("e1", "e2", "e3"), teams=("ta",))
    sheet = "sheets/e2/ta.v1.dsse.json"
    sha = next(ledger.envelope_sha256(e) for e in ledger.read_entries(rd / "ledger.jsonl") if e.data.get("path") == sheet)
    data = {
        "collect": {"path": sheet, "reviewer": "e2", "team": "ta", "version": 1, "decision": "rejected",
                    "reason": "late"},
        "acknowledge": {"problems": ["x"], "reason": "fine"},
        "amend": {"version": 2, "reason": "r", "changes": [], "after_first_submission": True},
        "users_import": {"files": {"survey": {"path": "users/x.csv", "sha256": "0" * 64}}, "reason": "r"},
        "exclude": {"path": sheet, "reviewer": "e2", "team": "ta", "version": 1, "reason": "I say so"},
        "report": {"file": "report/report.dsse.json"},
    }[etype]
    ledger.append(rd / "ledger.jsonl", actor="e1", key=_key(tmp_path, "e1"), type=etype, payload_sha256=sha, data=data)
    code, out = _audit_cli(rd, capsys)
    assert code == 1
    res, found = _authority_errors(rd)
    assert [(f.detail["signer"], f.detail["role"], f.detail["type"], f.detail["required"]) for f in found] == [
        ("e1", "expert", etype, "a coordinator")]
    assert f"ledger entry {found[0].detail['seq']} ({etype}) signed by e1 (role: expert)" in out
    # the sheet stays accepted: the expert's entry decides nothing
    sheets = aggregate_round(load_round(rd)).criteria
    assert set(sheets["reviewer"]) == {"e1", "e2", "e3"}
    assert main(["round", "status", str(rd)]) == 1
    assert "AUTHORITY: ledger entry" in capsys.readouterr().out


def test_only_the_sheets_own_reviewer_withdraws_it(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    sheet = "sheets/e2/ta.v1.dsse.json"
    code = main(["withdraw", str(rd), sheet, "--reviewer", "e1", "--key", str(tmp_path / "keys" / "e1.key")])
    assert code == 1 and "e1" in capsys.readouterr().err
    assert main(["withdraw", str(rd), sheet, "--reviewer", "e2", "--key", str(tmp_path / "keys" / "e2.key"),
                 "--reason", "I scored the wrong model"]) == 0
    auth = replay(rd)
    assert not auth.findings and [(x.kind, x.actor, x.path) for x in auth.exclusions] == [("withdrawn", "e2", sheet)]
    assert "e2" not in set(aggregate_round(load_round(rd)).criteria["reviewer"])


# ---------------------------------------------------------------- 3. an amendment's change list is recomputed

def test_a_false_change_list_is_an_error_and_the_report_shows_the_real_one(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    assert rules["gates"]
    rules["gates"] = []
    write_yaml(rd / "rules.yaml", rules)
    r = load_round(rd)
    state = round_state(r)
    _write_version(r, 2, state, coord_key(tmp_path))
    lie = [{"path": "rules.title", "old": "Stage 1 evaluation", "new": "Stage 1 evaluation"}]
    ledger.append(rd / "ledger.jsonl", actor="coord", key=coord_key(tmp_path), type="amend",
                  payload_sha256=state_hash(state), data={"version": 2, "reason": "typo", "changes": lie,
                                                          "after_first_submission": True, "file": "frozen/v2.dsse.json"})
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "recorded change list" in out
    res = audit_round(rd)
    wrong = [f for f in res.findings if f.check == "rules.amendment" and f.severity == "error"]
    assert [(f.detail["signer"], f.detail["role"]) for f in wrong] == [("coord", "coordinator")]
    shown = [f for f in res.findings if f.check == "rules.amendment" and f.severity == "warning"][0]
    assert [c["path"] for c in shown.detail["changes"]] == ["rules.gates[0]"]
    agg = aggregate_round(load_round(rd))
    assert [c["path"] for c in agg.amendments[0]["changes"]] == ["rules.gates[0]"]


def test_one_removed_assignment_and_one_added_conflict_read_as_two_changes():
    old = {"assignments": {"assignments": [{"reviewer": f"u{i}", "team": t} for i in range(50) for t in ("ta", "tb")]},
           "roster": {"reviewers": [{"id": "u1", "coi": []}]}}
    new = json.loads(json.dumps(old))
    new["assignments"]["assignments"].remove({"reviewer": "u1", "team": "tb"})
    new["roster"]["reviewers"][0]["coi"] = ["tb"]
    assert json_diff(old, new) == [
        {"path": "assignments.assignments[u1/tb]", "old": {"reviewer": "u1", "team": "tb"}, "new": None},
        {"path": "roster.reviewers[u1].coi[0]", "old": None, "new": "tb"}]


# ---------------------------------------------------------------- 4. accepted sheets stay accepted

def test_a_later_collect_cannot_drop_an_accepted_sheet(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    sheet = "sheets/e2/ta.v1.dsse.json"
    sha = next(ledger.envelope_sha256(e) for e in ledger.read_entries(rd / "ledger.jsonl") if e.data.get("path") == sheet)
    ledger.append(rd / "ledger.jsonl", actor="coord", key=coord_key(tmp_path), type="collect", payload_sha256=sha,
                  data={"path": sheet, "reviewer": "e2", "team": "ta", "version": 1, "decision": "rejected",
                        "reason": "submitted after the deadline"})
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "cannot reverse it" in out
    assert "e2" in set(aggregate_round(load_round(rd)).criteria["reviewer"])
    # the open way: an exclusion with a reason, shown at the top of the report and listed by the audit
    assert main(["exclude", str(rd), sheet, "--reason", "the reviewer saw the team's answers",
                 "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    agg = aggregate_round(load_round(rd))
    assert "e2" not in set(agg.criteria["reviewer"])
    assert [(x.actor, x.reason) for x in agg.exclusions] == [("coord", "the reviewer saw the team's answers")]
    unused = {u.path: u.reason for u in agg.unused}
    assert "excluded by coordinator coord" in unused[sheet]
    import dataclasses

    from workbench.publish.report import render_html

    # (this small round's missing benchmark results are problems; the page is shown here without them)
    html = render_html(dataclasses.replace(agg, problems=[]), load_round(rd).rubrics, "en")
    assert html.index('id="exclusions"') < html.index('id="ranking"') if 'id="ranking"' in html else 'id="exclusions"' in html
    assert "excluded by coordinator coord" in html and "saw the team" in html
    res = audit_round(rd)
    assert [(f.file, f.detail["actor"]) for f in res.findings if f.check == "sheet.excluded"] == [(sheet, "coord")]


# ---------------------------------------------------------------- 7. malformed entries are findings

def test_a_collect_entry_without_a_path_stops_nothing(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    ledger.append(rd / "ledger.jsonl", actor="e1", key=_key(tmp_path, "e1"), type="collect", payload_sha256="0" * 64,
                  data={"decision": "rejected"})
    (rd / "audit").mkdir()
    (rd / "audit" / "audit.json").write_text("old")
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    assert "malformed collect entry" in capsys.readouterr().err
    assert main(["round", "status", str(rd)]) == 1
    assert "malformed collect entry: data.path" in capsys.readouterr().out
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "malformed collect entry" in out and "signed by e1 (role: expert)" in out
    assert json.loads((rd / "audit" / "audit.json").read_text())["clean"] is False
    assert aggregate_round(load_round(rd)).scores.shape[0] == 1


# ---------------------------------------------------------------- any entry shape: a finding, never a crash

_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 2**40), st.text(max_size=10),
                                 st.sampled_from(["sheets/e1/ta.v1.dsse.json", "accepted", "rejected", "e1", "ta"])),
                       lambda inner: st.one_of(st.lists(inner, max_size=3),
                                               st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=12)
_fields = st.sampled_from(["path", "reviewer", "team", "version", "decision", "reason", "problems", "files", "changes",
                           "after_first_submission", "file", "cosignatures", "sheets", "round_id", "coordinators"])


@pytest.fixture(scope="module")
def shaped_round(tmp_path_factory):
    base = tmp_path_factory.mktemp("shapes")
    rd = _collected(base, experts=("e1", "e2"), teams=("ta",))
    return base, rd, (rd / "ledger.jsonl").read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink], derandomize=True)
@given(etype=st.sampled_from(ledger.ENTRY_TYPES), signer=st.sampled_from(["coord", "e1"]),
       data=st.dictionaries(_fields, _values, max_size=6))
def test_any_entry_shape_is_a_finding_or_an_entry_never_a_crash(shaped_round, etype, signer, data):
    from workbench.round.collect import accepted_sheets
    from workbench.round.lifecycle import status

    base, rd, original = shaped_round
    (rd / "ledger.jsonl").write_bytes(original)
    e = ledger.append(rd / "ledger.jsonl", actor=signer, key=_key(base, signer), type=etype, payload_sha256="1" * 64,
                      data=data)
    auth = replay(rd)  # any exception fails the test
    mine = [f for f in auth.findings if f.params["seq"] == e.seq]
    assert (e in auth.valid) != bool(mine)
    assert all(f.params["signer"] == signer and f.params["required"] for f in mine)
    assert isinstance(status(rd)["authority"], list)
    accepted_sheets(load_round(rd))
    assert aggregate_round(load_round(rd)).scores.shape[0] == 1
    res = audit_round(rd)
    assert bool(mine) == any(f.severity == "error" and f.detail.get("seq") == e.seq for f in res.findings)
    assert main(["collect", str(rd), "--key", str(base / "keys" / "coord.key")]) == 0


# ---------------------------------------------------------------- 9. text, ids, hub names

@pytest.mark.parametrize("char", ["\x00", "\u202e", "\u2066", "\x1b", "\x7f", "\u0085"])
def test_a_comment_with_control_or_bidi_characters_is_refused_at_signing_and_at_collection(tmp_path, capsys, char):
    from judgments import demo_judgments

    from workbench.core.errors import SheetError
    from workbench.core.signing import SHEET_TYPE, envelope_bytes, sign_payload
    from workbench.model.rubric import load_rubric
    from workbench.model.sheet import COI, Reviewer, build_sheet, sheet_bytes, validate_sheet

    rd = make_round(tmp_path, teams=("ta",))
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    js = demo_judgments(rubric)
    cid = next(k for k, j in js.items() if j.comment)
    bad = {**js, cid: js[cid].model_copy(update={"comment": f"fine{char}gpj.exe"})}
    who = Reviewer(id="e1", role="expert", key_id="")
    with pytest.raises(SheetError, match=f"U\\+{ord(char):04X}"):  # the sheet a person would sign is never made
        build_sheet(rubric, round_id="test-1", team_id="ta", reviewer=who, judgments=bad, coi=COI(has_conflict=False))
    # a sheet signed around the check (its payload edited before signing) is rejected at collection
    sheet = build_sheet(rubric, round_id="test-1", team_id="ta", reviewer=who, judgments=js, coi=COI(has_conflict=False))
    sheet = sheet.model_copy(update={"judgments": bad})
    with pytest.raises(SheetError, match=f"U\\+{ord(char):04X}"):
        validate_sheet(sheet, rubric)  # what submit runs before it signs
    (rd / "sheets" / "e1").mkdir(parents=True)
    (rd / "sheets" / "e1" / "ta.v1.dsse.json").write_bytes(
        envelope_bytes(sign_payload(sheet_bytes(sheet), SHEET_TYPE, _key(tmp_path, "e1"))))
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    out = capsys.readouterr().out
    assert "rejected sheets/e1/ta.v1.dsse.json" in out and f"U+{ord(char):04X}" in out
    # and a reason in the ledger too
    assert main(["exclude", str(rd), "sheets/e1/ta.v1.dsse.json", "--reason", f"x{char}y",
                 "--key", str(tmp_path / "keys" / "coord.key")]) == 1
    assert f"U+{ord(char):04X}" in capsys.readouterr().err


def test_tabs_and_line_breaks_stay_allowed():
    from workbench.core.base import unsafe_chars

    assert unsafe_chars("line one\n\tline two\r\n한국어 ok") == []
    assert unsafe_chars("a\u202eb\u202ec\x00") == ["U+202E", "U+0000"]


@pytest.mark.parametrize("which", ["teams", "roster"])
def test_ids_differing_only_in_letter_case_are_refused(tmp_path, capsys, which):
    rd = make_round(tmp_path, teams=("team-aurora", "tb"), do_freeze=False)
    if which == "teams":
        teams = yaml.safe_load((rd / "teams.yaml").read_text())
        teams["teams"][1]["id"] = "Team-Aurora"
        write_yaml(rd / "teams.yaml", teams)
    else:
        roster = yaml.safe_load((rd / "roster.yaml").read_text())
        roster["reviewers"][2]["id"] = "E1"
        write_yaml(rd / "roster.yaml", roster)
    assert main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 1
    err = capsys.readouterr().err
    assert "letter case does not make an id unique" in err and ("Team-Aurora" in err or "E1" in err)


def test_a_roster_id_named_like_a_hub_group_is_refused_by_hub_plan(tmp_path, capsys):
    rd = make_round(tmp_path, experts=("e1", "e2"), teams=("ta",), do_freeze=False)
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"][2]["id"] = "test-1-coord"  # the round's coordinators' group (round id test-1)
    write_yaml(rd / "roster.yaml", roster)
    asg = yaml.safe_load((rd / "assignments.yaml").read_text())
    for a in asg["assignments"]:
        a["reviewer"] = "test-1-coord" if a["reviewer"] == "e2" else a["reviewer"]
    write_yaml(rd / "assignments.yaml", asg)
    (rd / "answers" / "e2").rename(rd / "answers" / "test-1-coord")
    assert main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    assert main(["hub", "plan", str(rd)]) == 1
    err = capsys.readouterr().err
    assert "account 'test-1-coord'" in err and "the coordinators' group" in err and len(err.strip().splitlines()) == 1
    # the prefix goes before accounts and groups alike: it does not separate them
    assert main(["hub", "plan", str(rd), "--prefix", "p-"]) == 1
    assert "account 'p-test-1-coord'" in capsys.readouterr().err


# ---------------------------------------------------------------- every attack at once

def test_the_audit_of_a_round_with_every_attack_reports_each_with_signer_and_role(tmp_path, capsys):
    rd = _collected(tmp_path, teams=("ta",))
    log = rd / "ledger.jsonl"
    coord, e1 = coord_key(tmp_path), _key(tmp_path, "e1")
    sheet = "sheets/e2/ta.v1.dsse.json"
    sha = next(ledger.envelope_sha256(e) for e in ledger.read_entries(log) if e.data.get("path") == sheet)
    facts = {"path": sheet, "reviewer": "e2", "team": "ta", "version": 1}
    # 3: a coordinator's amendment that removes the gates but records a title "change"
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["gates"] = []
    write_yaml(rd / "rules.yaml", rules)
    r = load_round(rd)
    v2 = round_state(r)
    _write_version(r, 2, v2, coord)
    ledger.append(log, actor="coord", key=coord, type="amend", payload_sha256=state_hash(v2),
                  data={"version": 2, "reason": "typo", "after_first_submission": True, "file": "frozen/v2.dsse.json",
                        "changes": [{"path": "rules.title", "old": "Stage 1 evaluation", "new": "Stage 1 evaluation"}]})
    # 2: an expert signs coordinator acts
    ledger.append(log, actor="e1", key=e1, type="collect", payload_sha256=sha,
                  data={**facts, "decision": "rejected", "reason": "late"})
    ledger.append(log, actor="e1", key=e1, type="acknowledge", payload_sha256="2" * 64,
                  data={"problems": ["x"], "reason": "fine"})
    # 4: the coordinator reverses an accepted sheet
    ledger.append(log, actor="coord", key=coord, type="collect", payload_sha256=sha,
                  data={**facts, "decision": "rejected", "reason": "submitted after the deadline"})
    # 7: a malformed entry
    ledger.append(log, actor="e1", key=e1, type="collect", payload_sha256="3" * 64, data={"decision": "rejected"})
    # 1: self-promotion, appended by hand with the attacker's own key
    mk, mp = generate_keypair("mallory", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "coordinator-2", "role": "coordinator", "public_key": mp.read_text(), "coi": []})
    write_yaml(rd / "roster.yaml", roster)
    r = load_round(rd)
    v3 = round_state(r)
    _write_version(r, 3, v3, load_private_key(mk))
    ledger.append(log, actor="coordinator-2", key=load_private_key(mk), type="amend", payload_sha256=state_hash(v3),
                  data={"version": 3, "reason": "x", "changes": json_diff(v2, v3), "after_first_submission": True,
                        "file": "frozen/v3.dsse.json"})
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "Traceback" not in out
    res = audit_round(rd)
    found = {(f.detail.get("type"), f.detail.get("signer"), f.detail.get("role"), f.detail.get("code"))
             for f in res.findings if f.severity == "error" and "code" in f.detail}
    assert found == {("amend", "coord", "coordinator", "authority_changes"),
                     ("collect", "e1", "expert", "authority_role"),
                     ("acknowledge", "e1", "expert", "authority_role"),
                     ("collect", "coord", "coordinator", "authority_reversal"),
                     ("collect", "e1", "expert", "authority_malformed"),
                     ("amend", "coordinator-2", "none", "authority_role")}
    for f in res.findings:
        if "code" in f.detail:
            assert f"ledger entry {f.detail['seq']} ({f.detail['type']}) signed by {f.detail['signer']}" in out
    # the roster file is the attacker's edit, not the signed state: flagged too
    assert any(f.check == "rules.frozen" and f.file == "roster.yaml" for f in res.findings)


@pytest.mark.parametrize("line", [b"not json at all", b'{"seq": 99}', b'{"seq": 1, "type": "bogus"}', b"[1, 2]"])
def test_an_unreadable_ledger_line_is_an_audit_finding_and_a_one_line_error_elsewhere(tmp_path, capsys, line):
    rd = _collected(tmp_path, teams=("ta",))
    with (rd / "ledger.jsonl").open("ab") as f:
        f.write(line + b"\n")
    code, out = _audit_cli(rd, capsys)
    assert code == 1 and "ledger.chain" in out
    assert json.loads((rd / "audit" / "audit.json").read_text())["clean"] is False
    for argv in (["round", "status", str(rd)], ["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "ledger" in err and len(err.strip().splitlines()) == 1


def test_a_folder_re_signed_from_its_first_entry_fails_against_the_published_key(tmp_path, capsys):
    from workbench.core.signing import key_id

    rd = _collected(tmp_path, teams=("ta",))
    real = key_id(load_public_key(tmp_path / "keys" / "coord.pub"))
    assert replay(rd).root == {"coord": real}
    assert main(["audit", str(rd), "--coordinator-key", real[:16]]) == 0
    capsys.readouterr()
    other = "ab" * 8
    assert main(["audit", str(rd), "--coordinator-key", other]) == 1
    assert f"not the published {other}" in capsys.readouterr().out
    assert main(["audit", str(rd), "--coordinator-key", "abc"]) == 1
    assert "not a key id" in capsys.readouterr().err
