"""Panel aggregation: formulas with hand-computed values, gates, ranking, survey parsing, the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from coord_helpers import coord_key, make_round, sign_sheet, sign_user, survey_rows, with_results, write_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from judgments import demo_judgments

from workbench.core.errors import EvidenceError, RoundError, WorkbenchError
from workbench.core.findings import Finding
from workbench.core.signing import REPORT_TYPE, load_public_key, verify_envelope
from workbench.model.round import load_round
from workbench.model.rubric import load_rubric
from workbench.model.sheet import Judgment
from workbench.publish.aggregate import acknowledge, aggregate_round, user_points
from workbench.publish.report import write_report
from workbench.publish.stats import (
    composite_index,
    gate_decisions,
    icc2k,
    kripp_alpha,
    panel_score,
    rank_teams,
    reviewer_outliers,
    trimmed_mean,
)
from workbench.round.collect import accepted_sheets, collect
from workbench.round.ledger import read_entries
from workbench.round.lifecycle import amend, freeze
from workbench.round.userdata import import_users


def test_trimmed_mean_drops_highest_and_lowest():
    assert trimmed_mean([10, 1, 3, 2]) == 2.5          # drops 1 and 10
    assert trimmed_mean([4, 6]) == 5.0                  # too few to trim
    assert trimmed_mean([1, 2, 3, 4, 100], trim=2) == 3.0
    assert panel_score([1, 2, 9], "mean") == 4.0
    assert panel_score([1, 2, 9], "median") == 2.0


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.integers(0, 3))
def test_trimmed_mean_is_bounded_and_order_free(values, trim):
    m = trimmed_mean(values, trim)
    assert min(values) - 1e-6 <= m <= max(values) + 1e-6
    assert m == pytest.approx(trimmed_mean(list(reversed(values)), trim))


def test_icc2k_shrout_fleiss_example():
    # Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; published ICC(2,4) = 0.62
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    assert icc2k(x) == pytest.approx(0.620, abs=5e-4)


def test_icc2k_and_alpha_by_hand():
    x = np.array([[1, 1], [2, 2], [3, 4]], float)
    # MSR = 19/6, MSC = MSE = 1/6: (19/6 - 1/6) / (19/6) = 18/19
    assert icc2k(x) == pytest.approx(18 / 19)
    # interval alpha: Do = 1/3, De = 82/30 -> 1 - (1/3)/(82/30) = 1 - 10/82
    assert kripp_alpha(x) == pytest.approx(1 - 10 / 82)
    assert icc2k(np.array([[1.0, np.nan], [2.0, 3.0]])) is None   # one complete rater only
    assert kripp_alpha(np.full((3, 2), 4.0)) is None                # no variation: undefined


def test_outliers_use_modified_z():
    t = pd.DataFrame({"reviewer": list("abcde"), "team": ["t"] * 5, "total": [20, 21, 22, 23, 35]})
    out = reviewer_outliers(t, 3.5)
    # median 22, MAD 1: z(35) = 0.6745 * 13 = 8.77
    assert out.loc[out["reviewer"] == "e", "z"].item() == pytest.approx(8.769, abs=1e-3)
    assert out["outlier"].tolist() == [False, False, False, False, True]


def test_gates_need_a_strict_majority():
    v = [("t1", "g", f"r{i}", "fail" if i < 3 else "pass", f"why {i}") for i in range(5)]
    v += [("t2", "g", f"r{i}", "fail" if i < 2 else "concern", "c") for i in range(4)]
    g = gate_decisions(v, {"g": {"fail"}}).set_index("team")
    assert bool(g.loc["t1", "excluded"]) is True and g.loc["t1", "excluding"] == 3
    assert bool(g.loc["t2", "excluded"]) is False     # 2 of 4 is not a majority
    # each justification as data: who, which verdict, and the reviewer's own words (never one English line)
    assert {"reviewer": "r0", "verdict": "fail", "comment": "why 0"} in g.loc["t1", "justifications"]
    assert "decision" not in g.columns  # the report words the decision from the counts


def test_an_approval_gate_needs_more_than_half_and_a_tie_fails():
    """Issue 12: the re-challenge's rule is "only if a majority of the committee approves"; a 5-5 tie let a team through."""
    tie = [("t1", "g", f"r{i}", "approve" if i < 5 else "reject", "") for i in range(10)]
    yes = [("t2", "g", f"r{i}", "approve" if i < 4 else "reject", "") for i in range(7)]
    g = gate_decisions(tie + yes, {"g": {"reject"}}, {"g": "majority_approve"}, ["t1", "t2", "t3"]).set_index("team")
    assert bool(g.loc["t1", "excluded"]) is True and (g.loc["t1", "n"], g.loc["t1", "excluding"]) == (10, 5)
    assert bool(g.loc["t2", "excluded"]) is False and (g.loc["t2", "n"], g.loc["t2", "excluding"]) == (7, 3)
    assert bool(g.loc["t3", "excluded"]) is True and g.loc["t3", "n"] == 0  # nobody approved: not selected
    # the same tie under today's majority-to-exclude rule keeps the team: the two rules differ exactly there
    assert bool(gate_decisions(tie, {"g": {"reject"}}).set_index("team").loc["t1", "excluded"]) is False


def _scores(rows):
    return pd.DataFrame(rows, columns=["team", "total", "expert", "benchmark", "user", "status"])


def test_ranking_tie_break_cut_and_exclusion():
    s = _scores([("a", 90, 30, 40, 20, "ranked"), ("b", 85, 31, 34, 20, "ranked"), ("c", 85, 29, 36, 20, "ranked"),
                 ("d", 95, 30, 45, 20, "excluded"), ("e", 70, 20, 30, 20, "ranked")])
    out = rank_teams(s, cut=2, tie_break=["expert", "benchmark"]).set_index("team")
    assert [out.loc[t, "rank"] for t in "abce"] == [1, 2, 3, 4] and out.loc["d", "rank"] is pd.NA
    assert [out.loc[t, "status"] for t in "abcde"] == ["advances", "advances", "eliminated", "excluded", "eliminated"]


def test_unresolved_tie_at_the_cut_is_reported():
    s = _scores([("a", 90, 30, 40, 20, "ranked"), ("b", 85, 30, 35, 20, "ranked"), ("c", 85, 30, 35, 20, "ranked")])
    out = rank_teams(s, cut=2, tie_break=["expert", "benchmark", "user"]).set_index("team")
    assert out.loc["b", "rank"] == out.loc["c", "rank"] == 2
    assert out.loc["b", "status"] == out.loc["c", "status"] == "tie"  # a code: "tie at the cut line" in words


def test_composite_index():
    assert composite_index({"x": 5, "y": 3}, {"x": 10, "y": 10, "z": 5}, ["x", "y"]) == pytest.approx(40.0)


def _accepted(rd):
    collect(rd, coord_key(rd.parent), "coord")
    return accepted_sheets(load_round(rd))[0]


def test_user_points_come_from_the_users_signed_sheets_with_their_votes(tmp_path):
    rd = make_round(tmp_path, users=("u1", "u2"))
    sign_user(tmp_path, "u1", survey_rows("u1", "ta", 4), votes=["u1,p1,ta,tb,A"])
    sign_user(tmp_path, "u2", survey_rows("u2", "ta", 5, "great"), votes=["u2,p1,ta,tb,tie"])
    u = user_points(load_round(rd), _accepted(rd))
    # levels 4 and 5 -> fractions 0.75 and 1.0 -> mean 0.875 x 5 points
    assert u.points["ta"]["user.usability"] == pytest.approx(4.375)
    assert sum(u.points["tb"].values()) == 0.0 and u.flags == (Finding(code="users_no_answers", params={"team": "tb"}),)
    assert u.source.kind == "sheets" and (u.source.sheets, u.source.users) == (2, 2)
    # ta won 1.5 of 2 votes (a tie is half a win): P = 0.75 = 1/(1+exp(-(s_ta - s_tb))), so
    # s_ta - s_tb = ln 3, and with mean 0 the strengths are +-ln(3)/2
    votes = u.votes_table(["ta", "tb"]).set_index("team")
    assert votes.loc["ta", "bt_strength"] == pytest.approx(np.log(3) / 2, abs=1e-4)
    assert votes.loc["tb", "bt_strength"] == pytest.approx(-np.log(3) / 2, abs=1e-4)
    assert votes["votes"].to_dict() == {"ta": 2, "tb": 2}
    # an unsigned CSV in the round folder changes nothing (issue 12: 25 points rested on one)
    (rd / "users").mkdir(exist_ok=True)
    (rd / "users" / "survey.csv").write_text("user_id,team,item,value,comment\n" + "\n".join(survey_rows("u1", "tb", 3)))
    assert user_points(load_round(rd), _accepted(rd)).points == u.points


def test_signing_the_same_answers_again_writes_no_new_version(tmp_path):
    rd = make_round(tmp_path, users=("u1",))
    assert [(t, v) for t, v, _ in sign_user(tmp_path, "u1", survey_rows("u1", "ta", 3))] == [("ta", 1)]
    assert [(t, v) for t, v, _ in sign_user(tmp_path, "u1", survey_rows("u1", "ta", 3))] == [("ta", 0)]
    assert [(t, v) for t, v, _ in sign_user(tmp_path, "u1", survey_rows("u1", "ta", 2))] == [("ta", 2)]
    assert sorted(p.name for p in (rd / "sheets" / "u1").iterdir()) == ["ta.v1.dsse.json", "ta.v2.dsse.json"]


@pytest.mark.parametrize("rows,votes,match", [
    (["u1,ta,user.usability,4,"], [], r"survey-u1.csv:2: u1 x ta: .*expected answers for user.korean_quality"),
    (survey_rows("u1", "ta", 5), [], r"survey-u1.csv:2: u1 x ta: .*comment.*expected a comment for every level at an extreme"),
    (survey_rows("u1", "tz", 3), [], r"survey-u1.csv:2: column team: team 'tz' is not in teams.yaml"),
    (survey_rows("u1", "tb", 3), [], r"survey-u1.csv:2: column team: u1 is not assigned to tb"),
    (survey_rows("u1", "ta", 3), ["u1,p1,tb,ta,A"], r"votes-u1.csv:2: column model_a: vote on prompt p1: u1 gave no answers for tb"),
    (survey_rows("u2", "ta", 3), [], r"survey-u1.csv: no answers of u1, expected rows with user_id u1"),
])
def test_a_users_survey_export_is_refused_with_file_line_and_place(tmp_path, rows, votes, match):
    make_round(tmp_path, users=("u1", "u2"), coi={"u1": ["tb"]})
    with pytest.raises(WorkbenchError, match=match):
        sign_user(tmp_path, "u1", rows, votes)
    assert not (tmp_path / "round" / "sheets" / "u1").exists()


def test_a_vote_against_a_conflicted_team_is_rejected_at_collection(tmp_path):
    rd = make_round(tmp_path, users=("u1",), teams=("ta", "tb"))
    sign_user(tmp_path, "u1", survey_rows("u1", "ta", 3), votes=["u1,p1,ta,tb,A"])
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    next(x for x in roster["reviewers"] if x["id"] == "u1")["coi"] = ["tb"]
    write_yaml(rd / "roster.yaml", roster)
    asg = yaml.safe_load((rd / "assignments.yaml").read_text())
    asg["assignments"] = [a for a in asg["assignments"] if (a["reviewer"], a["team"]) != ("u1", "tb")]
    write_yaml(rd / "assignments.yaml", asg)
    amend(rd, coord_key(tmp_path), "coord", "u1 declared a conflict with tb")
    [res] = collect(rd, coord_key(tmp_path), "coord")
    assert res.decision == "rejected" and "vote on prompt p1 against tb: u1 is not assigned to tb" in res.reason and res.check == "sheet.votes"


def _import_round(tmp_path, users=("u1",)):
    return make_round(tmp_path, users=users, aggregation={"expert": "mean", "trim": 0, "min_reviewers": 2,
                                                          "user_source": "import"})


def _import(tmp_path, text: str, votes: str | None = None):
    f = tmp_path / "export.csv"
    f.write_text("user_id,team,item,value,comment\n" + text)
    v = None
    if votes is not None:
        v = tmp_path / "votes-export.csv"
        v.write_text("user_id,prompt_id,model_a,model_b,winner\n" + votes)
    return import_users(tmp_path / "round", coord_key(tmp_path), "coord", f, v, reason="survey tool export of 2026-01-10")


def test_a_bulk_import_is_a_ledgered_coordinator_act_the_report_names(tmp_path):
    rd = _import_round(tmp_path, users=("u1", "u2"))
    with pytest.raises(RoundError, match="no user survey was imported"):
        user_points(load_round(rd), {})
    sign_user(tmp_path, "u2", survey_rows("u2", "ta", 3))  # a user's own sheet, not used under these rules
    e = _import(tmp_path, "u1,ta,user.usability,4,\nu2,ta,user.usability,5,great\n", "u1,p1,ta,tb,A\nu2,p1,ta,tb,tie\n")
    assert e.type == "users_import" and e.data["reason"] == "survey tool export of 2026-01-10"
    f = e.data["files"]["survey"]
    assert (rd / f["path"]).is_file() and f["sha256"] == e.payload_sha256
    u = user_points(load_round(rd), _accepted(rd))
    assert u.points["ta"]["user.usability"] == pytest.approx(4.375)
    assert u.source.kind == "import" and u.source.ledger_seq == e.seq and u.source.files["survey"] == f["sha256"]
    agg = aggregate_round(load_round(rd))
    assert agg.report_data().users["source"]["kind"] == "import"
    assert [x.path for x in agg.unused if "ledgered import" in x.reason] == ["sheets/u2/ta.v1.dsse.json"]
    # the imported file edited afterwards: refused, not silently recomputed
    (rd / f["path"]).write_text((rd / f["path"]).read_text().replace(",4,", ",1,"))
    with pytest.raises(RoundError, match="imported survey file was replaced since ledger entry"):
        user_points(load_round(rd), {})


def test_an_import_needs_rules_that_say_so_and_a_reason(tmp_path):
    rd = make_round(tmp_path, users=("u1",))
    f = tmp_path / "export.csv"
    f.write_text("user_id,team,item,value,comment\n" + "\n".join(survey_rows("u1", "ta", 3)))
    with pytest.raises(RoundError, match="aggregation.user_source: the rules take user points from the users' signed sheets"):
        import_users(rd, coord_key(tmp_path), "coord", f, reason="why")
    with pytest.raises(RoundError, match="needs a reason"):
        import_users(rd, coord_key(tmp_path), "coord", f, reason=" ")


@pytest.mark.parametrize("row,match", [
    ("u9,ta,user.usability,4,", r"export.csv:2: user_id: user 'u9', expected a user in the roster"),
    ("u1,ta,user.usability,7,", r"export.csv:2: column value: value 7 is not a Likert level"),
    ("u1,tz,user.usability,4,", r"export.csv:2: team: team 'tz', expected a team in teams.yaml"),
    ("u1,ta,expert.strategy.plan,4,", r"export.csv:2: column item: unknown item 'expert.strategy.plan'"),
])
def test_import_errors_name_row_and_field(tmp_path, row, match):
    rd = _import_round(tmp_path)
    with pytest.raises(EvidenceError, match=match):
        _import(tmp_path, row + "\n")
    assert not any(e.type == "users_import" for e in read_entries(rd / "ledger.jsonl"))


@pytest.fixture(scope="module")
def import_round(tmp_path_factory):
    base = tmp_path_factory.mktemp("s")
    _import_round(base)
    return base


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_survey_import_only_raises_evidence_errors(import_round, text):
    try:
        _import(import_round, text)
    except EvidenceError:
        return
    u = user_points(load_round(import_round / "round"), {})
    assert all(0 <= v <= 6 for team in u.points.values() for v in team.values())


def test_survey_not_utf8(import_round):
    (import_round / "export.csv").write_bytes(b"user_id,team,item,value,comment\nu1,\xff\n")
    with pytest.raises(EvidenceError, match="export.csv:2: not valid UTF-8"):
        import_users(import_round / "round", coord_key(import_round), "coord", import_round / "export.csv", reason="r")


def test_round_aggregate_and_signed_report(tmp_path):
    experts = ("e1", "e2", "e3")
    rd = make_round(tmp_path, experts=experts, teams=("ta", "tb"), users=("u1",), do_freeze=False)
    # ta scores half of every target: ratio 0.5 on each benchmark -> 0.5 x (10 + 20 + 10) = 20 points;
    # tb submitted no results -> 0, and its dossier says why (no problem: nothing submitted)
    with_results(rd, {"ta": 0.5})
    freeze(rd, coord_key(tmp_path), "coord")
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    base = demo_judgments(rubric)
    for i, e in enumerate(experts):
        for t in ("ta", "tb"):
            j = dict(base)
            if t == "tb" and i < 2:
                j["expert.independence.verdict"] = Judgment(verdict="fail", comment="encoder weights copied")
            if e == "e3" and t == "ta":
                j["expert.strategy.plan"] = Judgment(level=1, comment="weak plan")
            sign_sheet(tmp_path, e, t, judgments=j)
    sign_user(tmp_path, "u1", survey_rows("u1", "ta", 3))
    collect(rd, coord_key(tmp_path), "coord")
    r = load_round(rd)
    agg = aggregate_round(r)
    s = agg.scores.set_index("team")
    totals = {e: json.loads(__import__("base64").b64decode(json.loads(
        (rd / "sheets" / e / "ta.v1.dsse.json").read_bytes())["payload"]))["totals"]["total"] for e in experts}
    assert s.loc["ta", "expert"] == pytest.approx(sorted(totals.values())[1], abs=1e-4)   # 3 reviewers: the middle one
    assert s.loc["ta", "benchmark"] == pytest.approx(20) and s.loc["ta", "user"] == pytest.approx(12.5)
    assert s.loc["tb", "benchmark"] == 0 and agg.dossiers["tb"].points == {}
    assert agg.report_data().evidence["ta"]["benchmark_points"]["bench.common"]["points"] == pytest.approx(10)
    assert s.loc["tb", "status"] == "excluded" and s.loc["ta", "status"] == "advances"
    assert s.loc["tb", "status_params"] == {"criterion": "expert.independence.verdict", "n": 3, "k": 2}
    assert set(agg.reliability["criterion"]) == set(rubric.ids("anchored"))
    # tb's benchmark points are 0 because it submitted nothing: never signed without an answer for it
    assert agg.problems == [Finding(code="problem_no_benchmark_results", params={"team": "tb"}),
                            Finding(code="problem_no_user_answers", params={"team": "tb"})] and agg.acknowledged is None
    assert [p.text("en") for p in agg.problems] == ["tb: no benchmark results submitted: benchmark points 0",
                                                    "tb: no user answers: user points 0"]
    with pytest.raises(RoundError, match="not signed: 2 problem"):
        write_report(r, agg, coord_key(tmp_path), "coord")
    assert not (rd / "report").exists()
    ack = acknowledge(r, agg, coord_key(tmp_path), "coord", "tb withdrew its benchmark submission in writing")
    agg = aggregate_round(r)
    assert agg.acknowledged == ack
    paths = write_report(r, agg, coord_key(tmp_path), "coord")
    html = paths["html_en"].read_text()
    assert "tb withdrew its benchmark submission in writing" in html and "tb: no benchmark results submitted" in html
    assert "<script" not in html and "<svg" in html and "encoder weights copied" in html
    assert "Evidence per team" in html and "No benchmark points computed (scored 0)" in html
    ko = paths["html"].read_text()
    assert '<html lang="ko">' in ko and "팀별 증빙" in ko and 'href="index.en.html"' in ko and 'href="index.html"' in html
    assert "<script" not in ko and "tb withdrew its benchmark submission in writing" in ko
    assert "tb: 벤치마크 결과를 제출하지 않아 벤치마크 점수가 0점입니다" in ko and "no benchmark results" not in ko
    payload = json.loads(verify_envelope(paths["signed"].read_bytes(), load_public_key(tmp_path / "keys" / "coord.pub"),
                                         REPORT_TYPE))
    assert payload["scores"][0]["team"] == "ta" and payload["files"]["scores.csv"]
    assert paths["csv"].read_text().splitlines()[0].startswith("rank,team,name,benchmark,expert,user,total")
    # deterministic: aggregating again gives the same summary
    assert aggregate_round(load_round(rd)).report_data() == agg.report_data()


def test_icc_is_undefined_without_variance_between_targets():
    # every team got the same total from each reviewer (reviewers differ): nothing to agree about
    same = np.array([[5.0, 4.0, 3.0], [5.0, 4.0, 3.0], [5.0, 4.0, 3.0]])
    assert icc2k(same) is None
    # the same with float noise of the kind sums of fractions leave (issue 12: 1.087 was published)
    noisy = same + np.array([[0, 1e-15, 0], [2e-15, 0, 0], [0, 0, -1e-15]])
    assert icc2k(noisy) is None
    assert 0 < icc2k(np.array([[5.0, 4.0], [3.0, 3.5], [1.0, 1.5]])) <= 1


def test_an_unreadable_results_file_is_never_signed_as_zero(tmp_path, capsys):
    """Issue 12: a results CSV with an unquoted ``acc,none`` passed, and a report was signed with benchmark 0.0."""
    from workbench.cli.app import main

    experts = ("e1", "e2", "e3")
    rd = make_round(tmp_path, experts=experts, teams=("ta", "tb"), users=("u1",), do_freeze=False)
    with_results(rd, {"ta": 0.5, "tb": 0.9})
    broken = rd / "evidence" / "tb" / "results.csv"
    broken.write_text(broken.read_text().replace('"acc,none"', "acc,none"))
    freeze(rd, coord_key(tmp_path), "coord")
    for e in experts:
        for t in ("ta", "tb"):
            sign_sheet(tmp_path, e, t)
    for t in ("ta", "tb"):
        sign_user(tmp_path, "u1", survey_rows("u1", t, 3))
    collect(rd, coord_key(tmp_path), "coord")
    key = str(tmp_path / "keys" / "coord.key")
    capsys.readouterr()
    assert main(["aggregate", str(rd), "--key", key]) == 1
    err = capsys.readouterr().err
    assert "not signed" in err and "tb: bench." in err and "evidence/tb/results.csv:" in err
    assert not (rd / "report").exists()
    assert main(["aggregate", str(rd), "--key", key, "--acknowledge", "tb's file is unreadable; the committee decided to publish"]) == 0
    signed = json.loads(__import__("base64").b64decode(json.loads((rd / "report" / "report.dsse.json").read_bytes())["payload"]))
    assert signed["acknowledged"]["reason"].startswith("tb's file is unreadable") and signed["problems"]
    assert [e.type for e in read_entries(rd / "ledger.jsonl")][-2:] == ["acknowledge", "report"]


def test_aggregate_prints_the_ranking_as_the_report_shows_it(tmp_path, capsys):
    """Issue 27, item 6: the terminal showed a pandas table in team order, at 4 decimals, with NaN."""
    from workbench.cli.app import main

    experts = ("e1", "e2", "e3")
    rd = make_round(tmp_path, experts=experts, teams=("ta", "tb", "tc"), users=("u1",), do_freeze=False, cut=1)
    with_results(rd, {"ta": 0.5, "tb": 0.9, "tc": 0.7})
    freeze(rd, coord_key(tmp_path), "coord")
    for e in experts:
        for t in ("ta", "tb", "tc"):
            sign_sheet(tmp_path, e, t)
    for t in ("ta", "tb", "tc"):
        sign_user(tmp_path, "u1", survey_rows("u1", t, 3))
    collect(rd, coord_key(tmp_path), "coord")
    capsys.readouterr()
    assert main(["aggregate", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    out = capsys.readouterr().out
    table = out.split("report:")[0].strip().splitlines()
    assert table[0].split()[:6] == ["rank", "team", "benchmark", "expert", "user", "total"]
    teams = [line.split()[1] for line in table[1:]]
    assert teams == ["tb", "tc", "ta"], out  # rank order: the best benchmark results first, all else equal
    assert "NaN" not in out and "nan" not in out
    import re

    figures = re.findall(r"\b\d+\.\d+\b", "\n".join(table[1:]))
    assert figures and all(len(f.split(".")[1]) == 1 for f in figures), figures
    csv = (rd / "report" / "scores.csv").read_text()
    assert [row.split(",")[1] for row in csv.splitlines()[1:]] == teams  # scores.csv in rank order too
    from workbench.publish.report import scores_csv

    legacy = scores_csv(aggregate_round(load_round(rd)), team_order=True)  # as reports before 2026-12-04
    assert [row.split(",")[1] for row in legacy.splitlines()[1:]] == ["ta", "tb", "tc"]
    for line in table[1:]:
        total = line.split()[5]
        assert f",{total}," in csv  # the terminal and the published file show the same figure


def test_only_a_coordinators_import_counts(tmp_path, capsys):
    """Issue 22: the latest users_import entry was read whoever signed it; a user's own import is a finding."""
    from workbench.cli.app import main
    from workbench.core.files import sha256_file
    from workbench.core.signing import load_private_key
    from workbench.round import ledger

    rd = _import_round(tmp_path, users=("u1", "u2"))
    e = _import(tmp_path, "u1,ta,user.usability,4,\nu2,ta,user.usability,5,great\n")
    forged = rd / "users" / "imports" / "forged.survey.csv"
    forged.write_text("user_id,team,item,value,comment\nu1,ta,user.usability,1,\nu2,ta,user.usability,1,\n")
    ledger.append(rd / "ledger.jsonl", actor="u1", key=load_private_key(tmp_path / "keys" / "u1.key"),
                  type="users_import", payload_sha256=sha256_file(forged),
                  data={"files": {"survey": {"path": "users/imports/forged.survey.csv", "sha256": sha256_file(forged)}},
                        "reason": "mine"})
    u = user_points(load_round(rd), _accepted(rd))
    assert u.source.ledger_seq == e.seq and u.points["ta"]["user.usability"] == pytest.approx(4.375)
    assert main(["audit", str(rd)]) == 1
    out = capsys.readouterr().out
    assert "(users_import) signed by u1 (role: user)" in out and "required: a coordinator" in out


def test_one_percent_scale_value_costs_its_benchmark_only(tmp_path):
    """Issue 27, item 3: 'kmmlu: 48.3' (0-1 expected) rejected the whole results file: all three benchmark criteria
    scored 0 and the file's other problems stayed hidden. Now kmmlu is scored 0 with its problem; the rest count."""
    from workbench.evidence.dossier import build_dossier

    rd = make_round(tmp_path, experts=("e1",), teams=("ta",), do_freeze=False)
    with_results(rd, {"ta": 0.9})
    good = build_dossier(load_round(rd), "ta")
    f = rd / "evidence" / "ta" / "results.csv"
    import re

    f.write_text(re.sub(r',kmmlu,"([^"]+)",[0-9.]+,', r',kmmlu,"\1",48.3,', f.read_text()))
    assert ",48.3," in f.read_text()
    d = build_dossier(load_round(rd), "ta")
    crits = {c for c, p in good.points.items() if any(r.benchmark == "kmmlu" for r in p.per_benchmark)}
    assert crits and set(d.points) == set(good.points)  # every criterion still has points
    for cid, p in d.points.items():
        if cid in crits:
            assert 0 < p.points < good.points[cid].points
        else:
            assert p.points == pytest.approx(good.points[cid].points)
    lines = [str(p) for p in d.problems]
    assert any("kmmlu" in x and "outside the range" in x and "results.csv:" in x for x in lines), lines
    assert all("kmmlu" in x for x in lines), lines
