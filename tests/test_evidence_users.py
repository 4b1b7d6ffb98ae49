"""User evidence: survey points with intervals, agreement, pairwise votes and Bradley-Terry."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import require_module
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.charts import to_svg
from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json
from workbench.core.findings import Finding
from workbench.evidence.users import (
    USER_ITEMS,
    bradley_terry,
    fit_strengths,
    read_survey,
    read_votes,
    strengths_chart,
    survey_chart,
    survey_points,
    validate_survey,
    validate_votes,
)

FIX = Path(__file__).parent / "fixtures" / "users"
POINTS = dict.fromkeys(USER_ITEMS, 5.0)
LINEAR = {lv: (lv - 1) / 4 for lv in range(1, 6)}


def write(tmp_path, text, name="f.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- survey

def test_survey_points_by_hand():
    sp = survey_points(read_survey(FIX / "survey.csv"), POINTS, LINEAR, seed=3)
    a, b = sp.team("team-a"), sp.team("team-b")
    items_a = {r.item: r for r in a.items}
    # usability 5,4,3 -> fractions 1, .75, .5 -> mean .75 -> 3.75 points of 5; mean level 4
    assert items_a["user.usability"].points == pytest.approx(3.75)
    assert items_a["user.usability"].mean_level == pytest.approx(4.0)
    # korean_quality 4, (blank), 2 -> .75, .25 -> 2.5 points; the blank is counted, not averaged
    assert items_a["user.korean_quality"].points == pytest.approx(2.5)
    assert items_a["user.korean_quality"].not_answered == 1 and items_a["user.korean_quality"].answers == 2
    assert a.points == pytest.approx(6.25) and a.max_points == 25
    assert b.points == pytest.approx(5 * (0.25 + 0 + 0.25) / 3 + 5 * (0.5 + 0.5 + 0) / 3)
    assert Finding(code="users_item_blank", params={"item": "user.korean_quality", "n": 1}) in a.flags
    assert Finding(code="users_item_blank", params={"item": "user.korean_quality", "n": 1}).text("en") == \
        "user.korean_quality: 1 user(s) left it blank (not answered, left out of the mean)"
    assert Finding(code="users_item_unanswered", params={"item": "user.reliability"}) in a.flags
    assert a.ci_low <= a.points <= a.ci_high
    lo, hi = items_a["user.usability"].mean_low, items_a["user.usability"].mean_high
    assert 3.0 <= lo <= 4.0 <= hi <= 5.0  # a mean of resampled 3..5 answers


def test_fraction_mapping_is_a_parameter():
    steep = {1: 0.0, 2: 0.0, 3: 0.5, 4: 1.0, 5: 1.0}
    sp = survey_points(read_survey(FIX / "survey.csv"), POINTS, steep)
    items_a = {r.item: r for r in sp.team("team-a").items}
    assert items_a["user.usability"].points == pytest.approx(5 * (1 + 1 + 0.5) / 3)
    per_item = {i: (steep if i == "user.korean_quality" else LINEAR) for i in USER_ITEMS}
    items_a = {r.item: r for r in survey_points(read_survey(FIX / "survey.csv"), POINTS, per_item).team("team-a").items}
    assert items_a["user.usability"].points == pytest.approx(3.75)  # linear
    assert items_a["user.korean_quality"].points == pytest.approx(5 * (1 + 0) / 2)  # steep: 4 -> 1, 2 -> 0
    with pytest.raises(EvidenceError, match="does not cover levels"):
        survey_points(read_survey(FIX / "survey.csv"), POINTS, {1: 0.0, 2: 1.0})


def test_survey_summary_is_deterministic_and_json_canonical():
    s1 = survey_points(read_survey(FIX / "survey.csv"), POINTS, LINEAR, seed=5).to_summary("team-a")
    s2 = survey_points(read_survey(FIX / "survey.csv"), POINTS, LINEAR, seed=5).to_summary("team-a")
    assert s1 == s2 and [t["team"] for t in s1["teams"]] == ["team-a"]
    json.dumps(s1, allow_nan=False)
    canonical_json(s1)
    with pytest.raises(EvidenceError, match="no survey answers for team team-z"):
        survey_points(read_survey(FIX / "survey.csv"), POINTS, LINEAR).team("team-z")


def test_item_without_rubric_points_is_refused():
    with pytest.raises(EvidenceError, match="survey items without rubric points: user.usability"):
        survey_points(read_survey(FIX / "survey.csv"), {"user.korean_quality": 5}, LINEAR)


def _survey(rows, items=USER_ITEMS):
    text = "user_id,team,item,value\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return validate_survey(frame.assign(line=np.arange(2, len(frame) + 2)), items=items)


def test_krippendorff_alpha_perfect_agreement_and_systematic_disagreement():
    agree = _survey([(u, t, "user.usability", v) for u in ("u1", "u2", "u3") for t, v in (("a", 5), ("b", 2), ("c", 3))])
    sp = survey_points(agree, POINTS, LINEAR)
    alpha = {a.item: a for a in sp.agreement}
    assert alpha["user.usability"].alpha == pytest.approx(1.0)
    assert alpha["user.usability"].users == 3 and alpha["user.usability"].teams == 3
    assert alpha["user.reliability"].alpha is None and alpha["user.reliability"].note.code == "alpha_undefined_sparse"
    # two users ranking three teams in opposite order: agreement below chance
    opposed = _survey([("u1", "a", "user.usability", 1), ("u1", "b", "user.usability", 3), ("u1", "c", "user.usability", 5),
                       ("u2", "a", "user.usability", 5), ("u2", "b", "user.usability", 3), ("u2", "c", "user.usability", 1)])
    assert {a.item: a for a in survey_points(opposed, POINTS, LINEAR).agreement}["user.usability"].alpha < 0


@pytest.mark.parametrize("body, message", [
    ("u1,a,user.usability,5\nu1,a,user.usability,4\n", "user u1 answered user.usability for team a twice \\(lines 2, 3\\)"),
    ("u1,a,user.speed,5\n", "3?2: column item: unknown item 'user.speed'"),
    ("u1,a,user.usability,NaN\n", "'NaN' is not a finite number"),
    ("u1,a,user.usability,4.5\n", "value 4.5 is not a Likert level"),
    ("u1,a,user.usability,6\n", "value 6 is not a Likert level"),
    ("u1,a,user.usability,좋음\n", "'좋음' is not a finite number"),
    (",a,user.usability,3\n", "column user_id: empty cell"),
    ("u1,a,user.usability\n", "row has 3 fields"),
])
def test_survey_errors(tmp_path, body, message):
    p = write(tmp_path, "user_id,team,item,value\n" + body)
    with pytest.raises(EvidenceError, match=message):
        read_survey(p)


def test_survey_missing_column_and_unknown_column(tmp_path):
    with pytest.raises(EvidenceError, match=r"missing column\(s\) value \(found: user_id, team, item\)"):
        read_survey(write(tmp_path, "user_id,team,item\nu1,a,user.usability\n"))
    with pytest.raises(EvidenceError, match=r"unknown column\(s\) score"):
        read_survey(write(tmp_path, "user_id,team,item,value,score\nu1,a,user.usability,3,1\n"))


def test_multiline_comment_keeps_line_numbers(tmp_path):
    p = write(tmp_path, 'user_id,team,item,value,comment\nu1,a,user.usability,3,"two\nlines"\nu2,a,user.usability,x,\n')
    with pytest.raises(EvidenceError, match=r"f.csv:4: column value"):
        read_survey(p)


# ---------------------------------------------------------------- votes

def test_votes_fixture_counts_and_score_equations():
    bt = bradley_terry(read_votes(FIX / "votes.csv"), resamples=200, seed=0)
    rows = {s.model: s for s in bt.strengths}
    assert (rows["hanbit"].wins, rows["hanbit"].losses, rows["hanbit"].ties) == (4, 2, 1)
    assert (rows["saebyeok"].wins, rows["saebyeok"].losses, rows["saebyeok"].ties) == (2, 3, 2)
    assert (rows["areum"].wins, rows["areum"].losses, rows["areum"].ties) == (1, 2, 1)
    assert bt.votes == 9
    # the MLE solves the score equations: expected wins = observed wins (ties as halves) for every model
    models = ["areum", "hanbit", "saebyeok"]
    wins = np.array([[0, 1, 0.5], [1, 0, 3.5], [1.5, 1.5, 0]])
    s = np.array([rows[m].strength for m in models])
    p = 1 / (1 + np.exp(-(s[:, None] - s[None, :])))
    n = wins + wins.T
    assert np.allclose((n * p).sum(1) - np.diag(n * p), wins.sum(1), atol=1e-8)
    assert sum(s) == pytest.approx(0, abs=1e-12)
    assert [x.model for x in bt.strengths] == sorted(models, key=lambda m: -rows[m].strength)


def test_two_models_closed_form_with_ties():
    # A beats B 3 times, B beats A once, one tie: wins 3.5 vs 1.5, so s_A - s_B = ln(3.5 / 1.5)
    votes = pd.DataFrame({"user_id": list("uvwxy"), "prompt_id": "p", "model_a": "A", "model_b": "B",
                          "winner": ["A", "A", "A", "B", "tie"]})
    bt = bradley_terry(votes, resamples=100, anchor="B")
    rows = {s.model: s for s in bt.strengths}
    assert rows["A"].strength == pytest.approx(math.log(3.5 / 1.5), abs=1e-10)
    assert rows["B"].strength == 0 and rows["B"].ci_low == 0 and rows["B"].ci_high == 0
    assert "anchor B" in bt.method


def test_bootstrap_interval_matches_the_asymptotic_standard_error():
    # two models, n votes, p = 0.6: se(s_A - s_B) = 1 / sqrt(n p (1 - p))
    n = 2000
    votes = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "prompt_id": "p", "model_a": "A", "model_b": "B",
                          "winner": ["A"] * 1200 + ["B"] * 800})
    bt = bradley_terry(votes, resamples=2000, anchor="B", seed=11)
    a = {s.model: s for s in bt.strengths}["A"]
    assert (a.ci_high - a.ci_low) / (2 * 1.959964) == pytest.approx(1 / math.sqrt(n * 0.6 * 0.4), rel=0.06)


def test_matches_the_logistic_regression_baseline():
    sklearn = require_module("sklearn.linear_model")
    rng = np.random.default_rng(4)
    k, n = 6, 6000
    true = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    u = rng.random(n)
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    winner = np.where(u < 0.9 * p, "A", np.where(u < 0.9, "B", "tie"))
    votes = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "prompt_id": "p",
                          "model_a": [f"m{i}" for i in a], "model_b": [f"m{i}" for i in b], "winner": winner})
    bt = bradley_terry(votes, resamples=100)
    # Chatbot Arena's approach: each vote twice, +1/-1 design, a tie = one A row and one B row
    x = np.zeros((2 * n, k))
    x[np.arange(2 * n), np.tile(a, 2)] = 1
    x[np.arange(2 * n), np.tile(b, 2)] = -1
    y = np.tile((winner == "A").astype(float), 2)
    y[:n][winner == "tie"] = 1.0
    lr = sklearn.LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=1000).fit(x, y)
    coef = lr.coef_[0] - lr.coef_[0].mean()
    mine = {s.model: s.strength for s in bt.strengths}
    assert np.max(np.abs(np.array([mine[f"m{i}"] for i in range(k)]) - coef)) < 1e-5


def test_unbounded_strengths_are_refused_with_the_groups():
    votes = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "prompt_id": "p", "model_a": ["A", "A", "B"],
                          "model_b": ["B", "C", "C"], "winner": ["A", "A", "tie"]})
    with pytest.raises(EvidenceError, match="strengths are unbounded") as e:
        bradley_terry(votes)
    assert "A |" in str(e.value) or "| A" in str(e.value)
    with pytest.raises(ValueError):
        fit_strengths(np.array([[0, 2.0], [0, 0]]))


def test_failed_resamples_are_counted_not_hidden():
    # a single loss for B makes some resamples all-A: those are reported
    votes = pd.DataFrame({"user_id": [f"u{i}" for i in range(6)], "prompt_id": "p", "model_a": "A", "model_b": "B",
                          "winner": ["A"] * 5 + ["B"]})
    bt = bradley_terry(votes, resamples=200, seed=1)
    assert 0 < bt.failed_resamples < 200
    assert bt.flags[0] == Finding(code="bt_unbounded", params={"failed": bt.failed_resamples, "resamples": 200})
    assert bt.flags[0].text("en").startswith(f"{bt.failed_resamples} of 200 bootstrap resamples")
    json.dumps(bt.to_summary(), allow_nan=False)


@pytest.mark.parametrize("body, message", [
    ("u1,p1,A,B,A\nu1,p1,B,A,B\n", "user u1 voted twice on A vs B for prompt p1 \\(lines 2, 3\\)"),
    ("u1,p1,A,B,C\n", "2: column winner: winner 'C', expected A, B or tie"),
    ("u1,p1,A,A,A\n", "model A is compared with itself"),
    ("u1,,A,B,A\n", "column prompt_id: empty cell"),
])
def test_vote_errors(tmp_path, body, message):
    with pytest.raises(EvidenceError, match=message):
        read_votes(write(tmp_path, "user_id,prompt_id,model_a,model_b,winner\n" + body))


def test_same_pair_on_another_prompt_is_not_a_duplicate():
    votes = validate_votes(pd.DataFrame({"user_id": ["u1", "u1"], "prompt_id": ["p1", "p2"], "model_a": "A",
                                         "model_b": "B", "winner": ["a", "TIE"]}))
    assert list(votes.frame["winner"]) == ["A", "TIE"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["가", "b", "c,d", "e\"f"]), st.sampled_from(["가", "b", "c,d", "e\"f"]),
                          st.sampled_from(["A", "B", "tie"])).filter(lambda r: r[0] != r[1]), min_size=1, max_size=40))
def test_vote_parser_roundtrips_generated_votes(tmp_path_factory, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["user_id", "prompt_id", "model_a", "model_b", "winner"])
    for i, (a, b, win) in enumerate(rows):
        w.writerow([f"u{i}", "p", a, b, win])
    p = tmp_path_factory.mktemp("v") / "votes.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    frame = read_votes(p).frame
    assert list(zip(frame["model_a"], frame["model_b"], frame["winner"], strict=True)) == [
        (a, b, w.upper()) for a, b, w in rows]
    assert list(frame["line"]) == list(range(2, len(rows) + 2))


# ---------------------------------------------------------------- charts

def test_user_charts_export_with_hangul():
    bt = bradley_terry(read_votes(FIX / "votes.csv"), resamples=100)
    svg = to_svg(strengths_chart(bt, lang="ko"))
    assert "쌍대 비교 선호 강도와 신뢰구간" in svg and "hanbit" in svg
    sp = survey_points(read_survey(FIX / "survey.csv"), POINTS, LINEAR)
    svg = to_svg(survey_chart(sp, lang="ko", labels={"user.usability": "사용성", "user.korean_quality": "한국어 품질"}))
    assert "사용성" in svg and "한국어 품질" in svg


def test_the_batched_fit_agrees_with_one_fit_per_resample_and_names_those_without_an_mle():
    from workbench.evidence.users import fit_strengths_batch

    rng = np.random.default_rng(7)
    k = 12
    true = rng.normal(size=k)
    p = 1 / (1 + np.exp(-(true[:, None] - true[None, :])))
    mats = []
    for r in range(40):
        n = np.triu(rng.integers(0, 30, size=(k, k)), 1)
        wins = rng.binomial(n, p).astype(float)
        w = wins + (n - wins).T + 0.5 * (r % 3 == 0)  # some with half-wins, as ties give
        if r % 8 == 0:
            w[5, :] = 0.0  # model 5 never wins: no MLE (Ford's condition)
        mats.append(w)
    fitted, ok = fit_strengths_batch(np.array(mats))
    for w, row, has in zip(mats, fitted, ok, strict=True):
        try:
            one = fit_strengths(w)
        except ValueError:
            assert not has and np.isnan(row).all()
            continue
        assert has and np.max(np.abs(one - row)) < 1e-9
    assert (~ok).sum() == 5


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 9).flatmap(lambda k: st.lists(
    st.lists(st.integers(0, 3).map(lambda v: max(0, v - 1)), min_size=k, max_size=k), min_size=k, max_size=k)))
def test_batched_connectivity_is_fords_condition(rows: list[list[int]]) -> None:
    """The bootstrap's batched strong-connectivity check agrees with scipy's graph search on any win matrix."""
    from workbench.evidence.users import _connected, _connected_batch

    wins = np.array(rows, dtype=float)
    np.fill_diagonal(wins, 0)
    assert _connected_batch(wins[None])[0] == _connected(wins)
