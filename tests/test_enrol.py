"""A coordinator's path without hand-editing YAML (issue 27, items 1 and 4): a round made, its panel imported
from a spreadsheet with keys, assignments generated, frozen, all through the command line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from coord_helpers import team, write_yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cli.app import main
from workbench.core.errors import WorkbenchError
from workbench.core.signing import generate_keypair, key_id, load_public_key
from workbench.model.round import Roster, Teams, load_round
from workbench.round.assign import generate_assignments
from workbench.round.enrol import read_panel_file

TEAMS = ("team-a", "team-b", "team-c", "team-d", "team-e")


def _new_round(tmp_path: Path, *extra: str) -> Path:
    generate_keypair("coord", tmp_path / "keys")
    rd = tmp_path / "round"
    assert main(["round", "init", str(rd), "--round-id", "s2", "--stage", "2", "--coordinator", "coord",
                 "--pubkey", str(tmp_path / "keys" / "coord.pub"), *extra]) == 0
    write_yaml(rd / "teams.yaml", {"teams": [team(t) for t in TEAMS]})
    return rd


def _panel_csv(path: Path, experts: int = 10, users: int = 49, coi: dict[str, str] | None = None) -> Path:
    coi = coi or {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "role", "name", "coi"])
        for i in range(1, experts + 1):
            w.writerow([f"expert-{i:02d}", "expert", f"전문가 {i}", coi.get(f"expert-{i:02d}", "")])
        for i in range(1, users + 1):
            w.writerow([f"user-{i:02d}", "user", f"User {i}", coi.get(f"user-{i:02d}", "")])
    return path


def test_a_stage_panel_is_imported_assigned_and_frozen_without_editing_yaml(tmp_path, capsys):
    rd = _new_round(tmp_path)
    panel = _panel_csv(tmp_path / "panel.csv", coi={"expert-03": "team-b", "user-07": "team-a; team-c"})
    handed = tmp_path / "handed-out"
    assert main(["roster", "import", str(rd), str(panel), "--generate-keys", str(handed)]) == 0
    out = capsys.readouterr().out
    assert "added 59 people (10 expert, 49 user)" in out and str(handed) in out
    roster = load_round(rd).roster
    assert roster.get("user-07").coi == ["team-a", "team-c"] and roster.get("expert-01").name == "전문가 1"
    assert key_id(roster.get("expert-05").key()) == key_id(load_public_key(handed / "expert-05.pub"))
    assert (handed / "expert-05.key").stat().st_mode & 0o777 == 0o600
    assert main(["assignments", "generate", str(rd), "--users-per-team", "20"]) == 0
    asg = load_round(rd).assignments.assignments
    experts_of = {t: {a.reviewer for a in asg if a.team == t and a.reviewer.startswith("expert")} for t in TEAMS}
    assert experts_of["team-b"] == {f"expert-{i:02d}" for i in range(1, 11)} - {"expert-03"}
    assert all(len(experts_of[t]) == 10 for t in TEAMS if t != "team-b")
    users_of = {t: [a.reviewer for a in asg if a.team == t and a.reviewer.startswith("user")] for t in TEAMS}
    assert all(len(u) == 20 for u in users_of.values())
    load = {}
    for u in (a.reviewer for a in asg if a.reviewer.startswith("user")):
        load[u] = load.get(u, 0) + 1
    assert max(load.values()) - min(load.values()) <= 1 and len(load) == 49  # spread evenly, nobody left out
    assert "user-07" not in users_of["team-a"] + users_of["team-c"]
    assert main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0


def test_an_xlsx_panel_with_public_key_files_people_sent(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    rd = _new_round(tmp_path)
    sent = tmp_path / "sent"
    for i in ("exp-1", "usr-1"):
        generate_keypair(i, sent)
    book = openpyxl.Workbook()
    sh = book.active
    sh.append(["id", "role", "name", "coi", "public_key_file"])
    sh.append(["exp-1", "Expert", "Kim", "team-a", "sent/exp-1.pub"])
    sh.append([None, None, None, None, None])  # an empty row in the middle is skipped
    sh.append(["usr-1", "user", "Lee", None, "sent/usr-1.pub"])
    book.save(tmp_path / "panel.xlsx")
    assert main(["roster", "import", str(rd), str(tmp_path / "panel.xlsx")]) == 0
    r = load_round(rd)
    assert r.roster.get("exp-1").coi == ["team-a"] and r.roster.get("exp-1").role == "expert"
    assert key_id(r.roster.get("usr-1").key()) == key_id(load_public_key(sent / "usr-1.pub"))


def test_every_bad_row_is_named_at_once_and_nothing_is_written(tmp_path, capsys):
    rd = _new_round(tmp_path)
    before = (rd / "roster.yaml").read_bytes()
    bad = tmp_path / "panel.csv"
    bad.write_text("id,role,name,coi\nexpert-01,expert,A,\n,expert,B,\nexpert-02,reviewer,C,\nExpert-01,user,D,\n"
                   "user-01,user,E,team-zzz\n", encoding="utf-8")
    assert main(["roster", "import", str(rd), str(bad), "--generate-keys", str(tmp_path / "k")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: column id" in err and f"{bad}:4: column role" in err and f"{bad}:5: column id" in err
    assert "first on row 2" in err and "Traceback" not in err
    assert (rd / "roster.yaml").read_bytes() == before
    good_but_unknown_team = tmp_path / "p2.csv"
    good_but_unknown_team.write_text("id,role,coi\nuser-01,user,team-zzz\nuser-02,user,\n")
    assert main(["roster", "import", str(rd), str(good_but_unknown_team), "--generate-keys", str(tmp_path / "k")]) == 1
    assert "team-zzz" in capsys.readouterr().err and (rd / "roster.yaml").read_bytes() == before
    unknown_col = tmp_path / "p3.csv"
    unknown_col.write_text("id,role,email\nuser-01,user,x@y\n")
    assert main(["roster", "import", str(rd), str(unknown_col)]) == 1
    assert "unknown email" in capsys.readouterr().err


def test_roster_add_one_person_and_refuse_a_second_with_the_same_id_in_another_case(tmp_path, capsys):
    rd = _new_round(tmp_path)
    generate_keypair("kim", tmp_path / "sent")
    assert main(["roster", "add", str(rd), "kim", "--role", "expert", "--name", "Kim", "--coi", "team-a",
                 "--pubkey", str(tmp_path / "sent" / "kim.pub")]) == 0
    assert "freeze the round" in capsys.readouterr().out
    assert load_round(rd).roster.get("kim").coi == ["team-a"]
    assert main(["roster", "add", str(rd), "KIM", "--role", "user", "--generate-key", str(tmp_path / "k")]) == 1
    assert "in the roster already" in capsys.readouterr().err
    assert main(["roster", "add", str(rd), "lee", "--role", "user", "--pubkey", str(tmp_path / "nope.pub")]) == 1
    assert "nope.pub" in capsys.readouterr().err


def test_round_init_writes_the_title_in_the_round_language(tmp_path):
    rd = _new_round(tmp_path, "--lang", "ko", "--title", "2단계 평가 (독자 AI)")
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    assert rules["lang"] == "ko" and rules["title"] == {"ko": "2단계 평가 (독자 AI)", "en": "Stage 2 evaluation"}
    r = load_round(rd)
    assert r.rules.title_in("ko") == "2단계 평가 (독자 AI)" and r.rules.title_in("en") == "Stage 2 evaluation"
    # a round frozen before titles had languages keeps its signed state: no 'lang' appears in it
    legacy = r.rules.model_copy(update={"lang": None, "title": "Stage 1 evaluation"})
    assert "lang" not in legacy.model_dump(mode="json") and legacy.title_in("ko") == "Stage 1 evaluation"


def test_a_team_that_cannot_get_enough_users_is_named(tmp_path):
    roster = Roster.model_validate({"reviewers": [
        {"id": "c", "role": "coordinator", "public_key": _pem(tmp_path, "c")},
        *({"id": f"u{i}", "role": "user", "public_key": _pem(tmp_path, f"u{i}"), "coi": ["ta"] if i else []}
          for i in range(3))]})
    teams = Teams.model_validate({"teams": [team("ta"), team("tb")]})
    with pytest.raises(WorkbenchError, match="ta can get only 1 user"):
        generate_assignments(roster, teams, users_per_team=2)


def _pem(tmp_path: Path, name: str) -> str:
    if not (tmp_path / "k" / f"{name}.pub").exists():
        generate_keypair(name, tmp_path / "k")
    return (tmp_path / "k" / f"{name}.pub").read_text()


@settings(max_examples=40, deadline=None)
@given(users=st.integers(1, 12), teams=st.integers(1, 6), per=st.integers(1, 12),
       conflicts=st.sets(st.tuples(st.integers(0, 11), st.integers(0, 5)), max_size=10))
def test_users_are_spread_evenly_and_never_against_a_conflict(tmp_path_factory, users, teams, per, conflicts):
    base = tmp_path_factory.getbasetemp() / "spread-keys"
    pem = _pem(base, "shared")
    roster = Roster.model_validate({"reviewers": [
        {"id": "c", "role": "coordinator", "public_key": pem},
        *({"id": f"u{i}", "role": "user", "public_key": pem, "coi": [f"t{t}" for (u, t) in conflicts if u == i]}
          for i in range(users))]})
    ts = Teams.model_validate({"teams": [team(f"t{i}") for i in range(teams)]})
    try:
        asg = generate_assignments(roster, ts, users_per_team=per)
    except WorkbenchError as e:
        assert "can get only" in str(e)
        return
    pairs = [(a.reviewer, a.team) for a in asg.assignments]
    assert len(set(pairs)) == len(pairs) == per * teams
    assert not any(t in roster.get(u).coi for u, t in pairs)
    if not conflicts:
        counts = [sum(1 for u, _ in pairs if u == f"u{i}") for i in range(users)]
        assert max(counts) - min(counts) <= 1


def test_a_damaged_xlsx_is_one_line(tmp_path, capsys):
    rd = _new_round(tmp_path)
    (tmp_path / "p.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["roster", "import", str(rd), str(tmp_path / "p.xlsx")]) == 1
    err = capsys.readouterr().err
    assert "not a readable XLSX workbook" in err and "Traceback" not in err


def test_read_panel_file_keeps_key_paths_relative_to_the_sheet(tmp_path):
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "panel.csv"
    p.write_text("\ufeffid,role,public_key_file\nexp-1,expert,keys/exp-1.pub\n", encoding="utf-8")
    [m] = read_panel_file(p)
    assert m.public_key_file == str(tmp_path / "sub" / "keys" / "exp-1.pub")


def test_an_amendment_after_freeze_reads_in_words(tmp_path, capsys):
    """Issue 27, item 6: 'round amend' printed Python dict reprs (and PEM keys) for changed records."""
    rd = _new_round(tmp_path)
    assert main(["roster", "import", str(rd), str(_panel_csv(tmp_path / "p.csv", experts=3, users=2)),
                 "--generate-keys", str(tmp_path / "k")]) == 0
    assert main(["assignments", "generate", str(rd)]) == 0
    key = str(tmp_path / "keys" / "coord.key")
    assert main(["round", "freeze", str(rd), "--key", key]) == 0
    assert main(["roster", "add", str(rd), "user-09", "--role", "user", "--coi", "team-a",
                 "--generate-key", str(tmp_path / "k")]) == 0
    assert "round amend" in capsys.readouterr().out  # frozen: the change counts once amended
    assert main(["assignments", "generate", str(rd)]) == 0
    capsys.readouterr()
    assert main(["round", "amend", str(rd), "--key", key, "--reason", "a late user evaluator"]) == 0
    out = capsys.readouterr().out
    assert "amended: version 2" in out and "user-09" in out
    assert "{'" not in out and "BEGIN PUBLIC KEY" not in out and "\\n" not in out, out
    assert "key " in out  # a public key is named by its id
