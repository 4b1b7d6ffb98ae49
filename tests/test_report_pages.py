"""The published report as people read it (issue 14): one rounding for every figure, Korean and English
pages from one message table, criterion titles and words instead of ids, and the files the verify page
needs, signed and audited like the rest."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from html import unescape

import pytest
import yaml
from coord_helpers import coord_key, make_round, sign_sheet, sign_user, survey_rows, with_results
from judgments import demo_judgments

from workbench.audit.checks import audit_round
from workbench.core.base import shown
from workbench.core.messages import MESSAGES
from workbench.model.round import load_round
from workbench.model.rubric import load_rubric
from workbench.model.sheet import Judgment
from workbench.publish.aggregate import aggregate_round
from workbench.publish.report import PUBLISHED, write_report
from workbench.publish.wording import Wording
from workbench.round.collect import collect
from workbench.round.lifecycle import amend, freeze

RAW_IDS = ("bench.common", "bench.nia", "expert.diffusion.applicability", "expert.independence.verdict", "no_evidence",
           "bt_strength", "majority_approve", "frontier_index", "user.applicability")


@pytest.mark.parametrize(("x", "digits", "want"), [
    (30.8667, 1, "30.9"), (30.85, 1, "30.9"), (0.25, 1, "0.3"), (2.675, 2, "2.68"), (-0.04, 1, "0.0"),
    (-1.25, 1, "-1.3"), (97, 1, "97.0"), (None, 1, ""), (90.2, 1, "90.2")])
def test_published_figures_round_half_up_once(x, digits, want):
    # Python's round(30.85, 1) is 30.8 and round(0.25, 1) is 0.2: the ministry's tables round half up
    assert shown(x, digits) == want


def test_every_message_has_korean_and_english():
    assert all(set(v) == {"ko", "en"} and all(v.values()) for v in MESSAGES.values())


def published_round(base, model_cards: bool = False, witnesses: dict | None = None):
    """A round with two teams (tb excluded by the independence gate) and the cut changed from 2 to 1 after the
    first sheets were submitted; its report written. Returns the round folder and write_report's paths.
    ``model_cards``: every team submits one (the report then has its cost chart); ``witnesses``: the rules'
    witness list."""
    experts = ("e1", "e2", "e3")
    rd = make_round(base, experts=experts, teams=("ta", "tb", "tc"), users=("u1",), do_freeze=False, cut=2,
                    witnesses=witnesses)
    with_results(rd, {"ta": 0.77, "tb": 0.5, "tc": 0.61})
    if model_cards:
        teams = yaml.safe_load((rd / "teams.yaml").read_text())
        for t, size in zip(teams["teams"], (7e9, 32e9, 110e9), strict=True):
            t["evidence"]["model_card"] = "model-card.yaml"
            (rd / "evidence" / t["id"] / "model-card.yaml").write_text(yaml.safe_dump(
                {"model": t["model"], "active_parameters": size, "total_parameters": size,
                 "inference_cost": {"value": 1.5, "unit": "USD per 1M output tokens"}}))
        (rd / "teams.yaml").write_text(yaml.safe_dump(teams, allow_unicode=True))
    freeze(rd, coord_key(base), "coord")
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    for i, e in enumerate(experts):
        for t in ("ta", "tb", "tc"):
            j = dict(demo_judgments(rubric))
            if t == "tb" and i < 2:
                j["expert.independence.verdict"] = Judgment(verdict="fail", comment="vision encoder weights copied")
            if e == "e3" and t == "ta":
                j["expert.strategy.plan"] = Judgment(level=1, comment="weak plan")
            sign_sheet(base, e, t, judgments=j)
    for t, level in (("ta", 4), ("tb", 3), ("tc", 4)):
        sign_user(base, "u1", survey_rows("u1", t, level))
    collect(rd, coord_key(base), "coord")
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["cut"] = 1
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))
    amend(rd, coord_key(base), "coord", "Ministry decision: one team advances")
    r = load_round(rd)
    agg = aggregate_round(r)
    assert agg.problems == [], agg.problems
    return rd, write_report(r, agg, coord_key(base), "coord")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return published_round(tmp_path_factory.mktemp("report"))


def _text(html: str) -> str:
    """What a reader sees: tags, inline SVG and styles removed."""
    html = re.sub(r"<(svg|style|script)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _signed(paths) -> dict:
    return json.loads(base64.b64decode(json.loads(paths["signed"].read_bytes())["payload"]))


def test_the_report_is_korean_with_an_english_version_beside_it(published):
    rd, paths = published
    ko, en = paths["html"].read_text(), paths["html_en"].read_text()
    assert ko.startswith("<!DOCTYPE html>\n<html lang=\"ko\">") and "<html lang=\"en\">" in en
    assert 'href="index.en.html"' in ko and 'href="index.html"' in en
    for label in ("점수 및 순위", "순위", "합계 (100점)", "AI 프런티어 지수", "관문 판정", "규칙 변경", "위원회의 근거"):
        assert label in ko, label
    assert "Scores and ranking" in en and "점수 및 순위" not in en
    # the round's title in each page's language (issue 27, item 4: "Stage 1 evaluation 평가 결과")
    assert "<h1>1단계 평가 결과</h1>" in ko and "Stage 1 evaluation" not in ko
    assert "<h1>Stage 1 evaluation: results</h1>" in en
    # criterion titles from the rubrics, never raw ids, in what a reader sees of either page
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    assert rubric.criterion("expert.independence.verdict").title.ko in ko
    assert rubric.criterion("expert.independence.verdict").title.en in en
    for raw in RAW_IDS:
        assert raw not in _text(ko) and raw not in _text(en), raw


def test_the_ranking_is_at_one_decimal_everywhere_and_the_signed_data_keeps_full_precision(published):
    rd, paths = published
    signed = _signed(paths)
    ko = paths["html"].read_text()
    table = ko[ko.index('<table id="ranking">'):ko.index("</table>", ko.index('<table id="ranking">'))]
    cells = re.findall(r'<td class="num">(?:<strong>)?([^<]*)<', table)
    figures = [c for c in cells if c and not c.isdigit()]  # the rank column holds integers
    assert figures and all(re.fullmatch(r"\d+\.\d", c) for c in figures), figures
    rows = {r["team"]: r for r in csv.DictReader(io.StringIO(paths["csv"].read_text()))}
    for s in signed["scores"]:
        for part in ("benchmark", "expert", "user", "total", "frontier_index", "diffusion_index"):
            assert rows[s["team"]][part] == shown(s[part]), (s["team"], part)
        assert f"<strong>{shown(s['total'])}</strong>" in ko
    assert any(len(str(s["total"]).split(".")[-1]) > 1 for s in signed["scores"])  # full precision kept


def test_gates_amendments_and_reliability_are_said_in_words(published):
    rd, paths = published
    ko, en = _text(paths["html"].read_text()), _text(paths["html_en"].read_text())
    assert "제외: 위원 3명 중 2명이 제외 의견" in ko and "excluded: 2 of 3 reviewers give an excluding verdict" in en
    # the status cell is one sentence (issue 27, item 7: "제외: 독자성 판정, 제외: 위원 5명 중 3명이 ...")
    assert "에서 위원 3명 중 2명이 제외 의견" in ko and "excluded: 2 of 3 reviewers gave an excluding verdict on " in en
    assert not re.search(r"제외: [^<]*, 제외:", ko) and not re.search(r"excluded: [^<]*, excluded:", en)
    assert "vision encoder weights copied" in ko  # the committee's reasons, as they wrote them
    assert "진출 팀 수(컷라인)를 2팀에서 1팀으로 변경" in ko and "cut line changed from 2 to 1 teams" in en
    assert "첫 평가표가 제출된 뒤에 변경되었습니다" in ko and "after the first sheets were submitted" in en
    assert "ICC(2,k)는 위원단 평균 점수의 신뢰도" in ko and "Krippendorff's alpha is how far" in en
    assert "진출" in ko and "탈락" in ko


def test_wording_of_statuses_flags_and_changes():
    w = Wording({}, "ko")
    # one precision for every score of a flag (issue 27: "목표 0.4882 ... [0.4293, 0.4913]" beside "[0.38, 0.4444]"):
    # the flag is a code with its numbers, worded here; nothing is read back from an English line
    noise = {"code": "bench_noise", "params": {"benchmark": "math", "reference": 0.4882, "confidence": 0.95,
                                               "low": 0.38, "high": 0.4444}}
    assert w.flag(noise) == "math: 기준 0.488에 못 미치지만 95% 신뢰구간 [0.380, 0.444]이 기준에 닿음: 차이가 잡음일 수 있음"
    assert Wording({}, "en").flag(noise) == ("math: misses its reference 0.488 but the 95% interval [0.380, 0.444] "
                                             "reaches it: the miss may be noise")
    assert w.status({"team": "t", "status": "incomplete", "status_params": {"got": 1, "need": 3}}) == \
        "평가 미완료: 전문가 평가표 1/3장"
    assert w.status({"team": "t", "status": "below", "status_params": {"criterion": "x", "got": 0.125, "need": 0.4}}) \
        == "기준선 미달: x 만점의 13% (필요: 40%)"
    # a status a report signed as text before codes (workbench.report/2) is shown as signed, never dropped
    assert w.status({"team": "t", "status": "incomplete (1 of 3 expert sheets)"}) == "incomplete (1 of 3 expert sheets)"
    derived = {"code": "weights_derived", "params": {"component": "vision_encoder", "reference": "Foreign-VL",
                                                     "share": 0.128}}
    assert w.flag(derived) == "vision_encoder: Foreign-VL에서 파생된 가중치 (파라미터의 12.8%)"
    assert w.weight_verdict("no_evidence") == "재사용 증거 없음"
    assert w.flag({"code": "bench_exact", "params": {"benchmark": "gpqa"}}, {"gpqa": "GPQA 다이아몬드 추론"}) == \
        "GPQA 다이아몬드 추론: 표준오차나 문항 수가 없어 정확한 값으로 취급"
    assert w.justification("g", {"reviewer": "e1", "verdict": "fail", "comment": "copied, see p. 3"}) == \
        "e1 (fail): “copied, see p. 3”"  # the reviewer's own words, quoted as written
    assert Wording({}, "en").amendment_changes([{"path": "rules.cut", "old": 4, "new": 3}]) == \
        ["cut line changed from 4 to 3 teams"]
    assert Wording({}, "en").amendment_changes([{"path": "rules.points.user", "old": 20, "new": 25}]) == \
        [Wording({}, "en").t("am_points", part="User", old=20, new=25)]


def test_the_verify_page_its_keys_and_ledger_copy_are_published_signed_and_audited(published):
    rd, paths = published
    signed = _signed(paths)
    assert set(signed["files"]) == set(PUBLISHED)
    keys = json.loads(paths["keys"].read_text())
    assert [k["id"] for k in keys["coordinators"]] == ["coord"]
    ledger = (rd / "ledger.jsonl").read_bytes()
    assert paths["ledger"].read_bytes() == ledger  # the report entry is the last line
    assert json.loads(ledger.splitlines()[signed["ledger_size"]])["type"] == "report"
    html = paths["verify"].read_text()
    assert "crypto.subtle" in html and "http" + "s://" not in html and "<script src" not in html
    res = audit_round(rd)
    assert res.clean, [f for f in res.findings if f.severity == "error"]


def test_an_edited_english_page_or_ledger_copy_is_an_audit_error(tmp_path):
    rd, paths = published_round(tmp_path)
    en = paths["html_en"]
    en.write_text(en.read_text().replace("Scores and ranking", "Scores and rankings"))
    copy = paths["ledger"]
    copy.write_bytes(copy.read_bytes().replace(b'"seq":2,', b'"seq":2 ,'))
    errors = {(f.check, f.file) for f in audit_round(rd).findings if f.severity == "error"}
    assert errors == {("report.files", "report/index.en.html"), ("report.files", "report/ledger.jsonl")}


@pytest.mark.parametrize("iso, ko, en", [
    ("2026-12-04T16:57:45Z", "2026년 12월 5일 오전 1시 57분 (한국 시간)", "5 December 2026, 01:57 KST (16:57 UTC)"),
    ("2026-01-15T03:00:00Z", "2026년 1월 15일 오후 12시 00분 (한국 시간)", "15 January 2026, 12:00 KST (03:00 UTC)"),
    ("2026-06-30T15:00:00+00:00", "2026년 7월 1일 오전 12시 00분 (한국 시간)", "1 July 2026, 00:00 KST (15:00 UTC)"),
    ("not a time", "not a time", "not a time"),
])
def test_signed_times_read_as_korean_standard_time(iso, ko, en):
    """Issue 27, item 7: the report showed raw UTC ISO times to Korean readers."""
    assert Wording({}, "ko").time(iso) == ko and Wording({}, "en").time(iso) == en
