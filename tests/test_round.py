"""Round folders: models, freeze, amend, hand edits, status."""

from __future__ import annotations

import pytest
import yaml
from coord_helpers import coord_key, make_round, sign_sheet, team, write_yaml

from workbench.core.diff import json_diff
from workbench.core.errors import RoundError
from workbench.model.round import find_round, load_round
from workbench.round.collect import collect
from workbench.round.ledger import read_entries
from workbench.round.lifecycle import amend, check_frozen, freeze, status


def test_freeze_signs_state_and_refuses_twice(tmp_path):
    rd = make_round(tmp_path)
    r = load_round(rd)
    assert check_frozen(r) == 1
    assert (rd / "frozen" / "v1.dsse.json").is_file()
    [e] = read_entries(rd / "ledger.jsonl")
    assert (e.type, e.actor, e.data["version"]) == ("freeze", "coord", 1)
    with pytest.raises(RoundError, match="frozen already"):
        freeze(rd, coord_key(tmp_path), "coord")


def test_hand_edit_after_freeze_is_detected_but_comments_are_not(tmp_path):
    rd = make_round(tmp_path)
    text = (rd / "rules.yaml").read_text()
    (rd / "rules.yaml").write_text("# a comment only\n" + text)
    assert check_frozen(load_round(rd)) == 1
    (rd / "rules.yaml").write_text(text.replace("cut: 2", "cut: 1"))
    with pytest.raises(RoundError, match="changed after version 1 was frozen: rules"):
        check_frozen(load_round(rd))
    assert "changed after version 1" in status(rd)["problem"]


def test_rubric_edit_after_freeze_is_refused(tmp_path):
    rd = make_round(tmp_path)
    p = rd / "rubrics" / "expert.yaml"
    p.write_text(p.read_text().replace("points: 6", "points: 7", 1).replace("total_points: 35", "total_points: 36"))
    with pytest.raises(RoundError, match="does not match the rules' pin"):
        load_round(rd)


def test_amend_records_changes_and_flags_after_submission(tmp_path):
    rd = make_round(tmp_path)
    key = coord_key(tmp_path)
    with pytest.raises(RoundError, match="nothing changed"):
        amend(rd, key, "coord", "no-op")
    sign_sheet(tmp_path, "e1", "ta")
    collect(rd, key, "coord")
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["cut"] = 1
    write_yaml(rd / "rules.yaml", rules)
    with pytest.raises(RoundError, match="needs a reason"):
        amend(rd, key, "coord", "  ")
    e = amend(rd, key, "coord", "3 teams advance")
    assert e.data["version"] == 2 and e.data["after_first_submission"] is True
    assert e.data["changes"] == [{"path": "rules.cut", "old": 2, "new": 1}]
    assert check_frozen(load_round(rd)) == 2
    [a] = status(rd)["amendments"]
    assert a["reason"] == "3 teams advance" and a["after_first_submission"] is True


def test_late_team_joins_by_amendment(tmp_path):
    rd = make_round(tmp_path)
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    teams["teams"].append({**team("tc"), "joined_by_amendment": True})
    write_yaml(rd / "teams.yaml", teams)
    with pytest.raises(RoundError, match="tc has 0 assigned expert"):
        amend(rd, coord_key(tmp_path), "coord", "re-challenge: tc joins")  # a team nobody can score
    asg = yaml.safe_load((rd / "assignments.yaml").read_text())
    write_yaml(rd / "assignments.yaml", {"assignments": asg["assignments"] + [{"reviewer": e, "team": "tc"} for e in ("e1", "e2")]})
    e = amend(rd, coord_key(tmp_path), "coord", "re-challenge: tc joins")
    assert e.data["after_first_submission"] is False
    paths = {c["path"] for c in e.data["changes"]}
    assert "teams.teams[tc]" in paths and any(p.startswith("assignments.") for p in paths) and all(c["old"] is None for c in e.data["changes"])


def test_conflicted_assignment_is_refused(tmp_path):
    rd = make_round(tmp_path, coi={"e1": ["tb"]}, do_freeze=False)
    asg = yaml.safe_load((rd / "assignments.yaml").read_text())
    asg["assignments"].append({"reviewer": "e1", "team": "tb"})
    write_yaml(rd / "assignments.yaml", asg)
    with pytest.raises(RoundError, match=r"assignments.yaml:\d+: assignments.3: e1 declared a conflict of interest with tb"):
        load_round(rd)


def test_bad_rules_name_file_and_line(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    text = (rd / "rules.yaml").read_text().replace("cut: 2", "cut: -1")
    (rd / "rules.yaml").write_text(text)
    line = text.splitlines().index("cut: -1") + 1
    with pytest.raises(RoundError, match=rf"rules.yaml:{line}: cut: input should be greater than or equal to 0"):
        load_round(rd)


def test_freeze_needs_the_coordinators_key(tmp_path):
    from workbench.core.signing import load_private_key

    rd = make_round(tmp_path, do_freeze=False)
    with pytest.raises(RoundError, match="not a coordinator"):
        freeze(rd, load_private_key(tmp_path / "keys" / "e1.key"), "e1")
    with pytest.raises(RoundError, match="not coord's roster key|is not coord's roster key|the key given"):
        freeze(rd, load_private_key(tmp_path / "keys" / "e1.key"), "coord")


def test_state_diff_keys_records_by_id():
    # an added record is one change holding the whole record, wherever it was inserted
    old = {"teams": {"teams": [{"id": "a", "name": "A"}]}, "rules": {"cut": 4}}
    new = {"teams": {"teams": [{"id": "b", "name": "B"}, {"id": "a", "name": "A"}]}, "rules": {"cut": 4}}
    assert json_diff(old, new) == [{"path": "teams.teams[b]", "old": None, "new": {"id": "b", "name": "B"}}]


def test_cli_refuses_a_hand_edited_round_in_one_line(tmp_path, capsys):
    from workbench.cli.app import main

    rd = make_round(tmp_path)
    key = str(tmp_path / "keys" / "coord.key")
    assert main(["round", "status", str(rd)]) == 0
    (rd / "rules.yaml").write_text((rd / "rules.yaml").read_text().replace("cut: 2", "cut: 1"))
    capsys.readouterr()
    assert main(["collect", str(rd), "--key", key]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "changed after version 1 was frozen: rules" in err
    assert main(["round", "amend", str(rd), "--key", key, "--reason", "two teams"]) == 0
    assert "cut line changed from 2 to 1 teams" in capsys.readouterr().out  # the report's words
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "e1.key")]) == 1
    assert "not a coordinator's key" in capsys.readouterr().err


def test_status_of_a_hand_edited_round_names_its_frozen_version_and_the_drift(tmp_path, capsys):
    from workbench.cli.app import main
    rd = make_round(tmp_path)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["cut"] = 1
    write_yaml(rd / "rules.yaml", rules)
    s = status(rd)
    assert s["frozen_version"] == 1 and "rules" in s["problem"]
    assert main(["round", "status", str(rd)]) == 1  # a problem: the exit code says so
    out = capsys.readouterr().out
    assert "frozen version: 1" in out and "PROBLEM" in out


def test_amendment_output_names_keys_not_their_pem(tmp_path, capsys):
    from workbench.cli.app import main
    from workbench.core.signing import generate_keypair, load_public_key, public_key_pem
    rd = make_round(tmp_path)
    _, pub = generate_keypair("e9", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "e9", "role": "expert", "name": "", "coi": [],
                                "public_key": public_key_pem(load_public_key(pub))})
    write_yaml(rd / "roster.yaml", roster)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["decision_rules"] = [{"id": "d1", "text": "one more team only by a committee majority"}]
    write_yaml(rd / "rules.yaml", rules)
    assert main(["round", "amend", str(rd), "--key", str(tmp_path / "keys" / "coord.key"), "--reason", "add e9"]) == 0
    out = capsys.readouterr().out
    assert "BEGIN PUBLIC KEY" not in out and "roster.reviewers[e9] added: id: e9" in out and "public_key: key " in out
    assert "{'" not in out  # words, not a Python repr
    assert "-> None" not in out


def test_freeze_refuses_rules_that_cannot_work_and_lists_every_problem(tmp_path, capsys):
    from workbench.cli.app import main
    rd = make_round(tmp_path, do_freeze=False, cut=5,
                    aggregation={"expert": "trimmed_mean", "trim": 1, "min_reviewers": 3})
    with pytest.raises(RoundError) as e:
        freeze(rd, coord_key(tmp_path), "coord")
    text = (rd / "rules.yaml").read_text().splitlines()
    line = {k: next(i for i, s in enumerate(text, 1) if s.strip().startswith(k + ":")) for k in ("min_reviewers", "trim", "cut")}
    msg = str(e.value)
    assert "3 problem(s)" in msg
    assert f"rules.yaml:{line['min_reviewers']}: aggregation.min_reviewers: min_reviewers is 3, but ta has 2, tb has 2" in msg
    assert f"rules.yaml:{line['trim']}: aggregation.trim: trim 1 drops 2 of 2 expert(s)" in msg
    assert f"rules.yaml:{line['cut']}: cut: cut 5 is more than the 2 team(s)" in msg
    assert not (rd / "frozen").exists() and not (rd / "ledger.jsonl").exists()
    assert main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 1
    assert "cut 5 is more than" in capsys.readouterr().err
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules.update(cut=2, aggregation={"expert": "mean", "trim": 0, "min_reviewers": 2})
    write_yaml(rd / "rules.yaml", rules)
    assert freeze(rd, coord_key(tmp_path), "coord").data["version"] == 1


# ---------------------------------------------------------------- the benchmark scheme is round data

def _edit_scheme(rd, old: str, new: str, *, pin: bool) -> None:
    from workbench.model.scheme import load_benchmark_sets
    f = rd / "rubrics" / "benchmarks.yaml"
    f.write_text(f.read_text().replace(old, new, 1))
    if pin:
        rules = yaml.safe_load((rd / "rules.yaml").read_text())
        rules["benchmarks"]["sha256"] = load_benchmark_sets(f).sha256
        write_yaml(rd / "rules.yaml", rules)


def test_init_copies_the_scheme_into_the_round_and_the_rules_pin_it(tmp_path):
    from workbench.model.scheme import load_benchmark_sets, package_scheme_text
    rd = make_round(tmp_path, do_freeze=False)
    copy = rd / "rubrics" / "benchmarks.yaml"
    assert copy.read_text() == package_scheme_text()[0]  # comments included: a coordinator reads it there
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    assert rules["benchmarks"] == {"file": "rubrics/benchmarks.yaml", "sha256": load_benchmark_sets().sha256}
    r = load_round(rd)
    assert r.scheme == load_benchmark_sets()
    from workbench.model.round import round_state
    assert round_state(r)["benchmarks"]["common"][0]["id"] == "mmlu_pro"


def test_a_scheme_edit_is_refused_unpinned_is_drift_pinned_and_amended_in_the_open(tmp_path):
    rd = make_round(tmp_path)
    # edited without the pin: the round does not load, and the message holds the hash to pin
    _edit_scheme(rd, "task: kobest,", "task: kobest, aliases: [nia_kobest_v2],", pin=False)
    with pytest.raises(RoundError, match=r"rubrics/benchmarks.yaml: benchmarks: benchmark scheme [0-9a-f]{64} does "
                                         r"not match the rules' pin"):
        load_round(rd)
    # pinned but not amended: a hand edit of the frozen state
    _edit_scheme(rd, "nia_kobest_v2", "nia_kobest_v2", pin=True)
    with pytest.raises(RoundError, match="changed after version 1 was frozen: benchmarks, rules"):
        check_frozen(load_round(rd))
    # amended: the ledger lists what changed in the scheme
    e = amend(rd, coord_key(tmp_path), "coord", "NIA's own KoBEST task name")
    paths = {c["path"] for c in e.data["changes"]}
    assert "benchmarks.nia[kobest].aliases[0]" in paths and "rules.benchmarks.sha256" in paths
    assert check_frozen(load_round(rd)) == 2


def test_a_comment_in_the_scheme_is_not_a_change(tmp_path):
    rd = make_round(tmp_path)
    _edit_scheme(rd, "\nnia:\n", "\n# NIA's sets, as announced\nnia:\n", pin=False)
    assert check_frozen(load_round(rd)) == 1


def test_init_takes_another_scheme_and_refuses_an_invalid_one(tmp_path):
    from workbench.core.signing import generate_keypair, load_public_key
    from workbench.model.scheme import package_scheme_text
    from workbench.round.lifecycle import init_round
    _, pub = generate_keypair("c", tmp_path / "keys")
    mine = tmp_path / "mine.yaml"
    mine.write_text(package_scheme_text()[0].replace("id: kornat,", "id: kornat2,"))
    from conftest import RUBRICS
    r = init_round(tmp_path / "r1", round_id="r1", stage=1, rubrics_dir=RUBRICS, coordinator_id="c",
                   coordinator_key=load_public_key(pub), benchmarks=mine)
    assert "kornat2" in r.scheme.by_id()
    mine.write_text("nia: []\ncommon: []\ncatalog: []\n")
    from workbench.core.errors import RubricError
    with pytest.raises(RubricError, match=r"mine.yaml:3: catalog: invalid benchmark scheme: unknown field"):
        init_round(tmp_path / "r2", round_id="r2", stage=1, rubrics_dir=RUBRICS, coordinator_id="c",
                   coordinator_key=load_public_key(pub), benchmarks=mine)


def test_a_notebook_finds_its_round_from_its_own_folder_or_from_inside_the_round(tmp_path):
    """A generated notebook's kernel starts in ``<round>/notebooks/<reviewer>/`` (JupyterLab, nbconvert) or wherever
    papermill runs; ``round_dir`` is the path from the notebook's folder, so a moved round still works."""
    rd = make_round(tmp_path)
    nb_dir = rd / "notebooks" / "e1"
    nb_dir.mkdir(parents=True)
    assert find_round("../..", start=nb_dir) == rd.resolve()
    assert find_round("../..", start=rd) == rd.resolve()  # papermill run from the round: the nearest round above
    assert find_round(".", start=nb_dir) == rd.resolve()
    moved = rd.rename(tmp_path / "elsewhere")
    assert find_round("../..", start=moved / "notebooks" / "e1") == moved.resolve()
    assert find_round(moved) == moved  # an absolute path is taken as it is
    (tmp_path / "outside").mkdir()
    with pytest.raises(RoundError, match=r"^.*outside/\.\.: round_dir: no round folder at '\.\.' from .*outside, nor in "
                                         r"a folder above it, expected the round folder \(with rules.yaml\)"):
        find_round("..", start=tmp_path / "outside")
