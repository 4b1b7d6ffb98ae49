"""Score sheets: validation names the criterion, totals come from the rubric, canonical bytes."""

from __future__ import annotations

import json
import math

import pydantic
import pytest
from judgments import demo_judgments

from workbench.core.errors import InputFileError, SheetError
from workbench.model.sheet import (
    COI,
    ComputedValue,
    Judgment,
    Reviewer,
    build_sheet,
    check_judgments,
    compute_totals,
    input_record,
    parse_sheet,
    sheet_bytes,
    validate_sheet,
)

REV = Reviewer(id="expert-01", role="expert", key_id="ab" * 32)
NO_COI = COI(has_conflict=False)


def make(rubric, judgments=None, coi=NO_COI, **kw):
    return build_sheet(
        rubric, round_id="r1", team_id="team-a", reviewer=REV,
        judgments=demo_judgments(rubric) if judgments is None else judgments, coi=coi,
        created_at="2026-01-15T00:00:00Z", **kw,
    )


def test_totals_follow_levels_and_fractions(expert_rubric):
    j = {cid: Judgment(level=5, comment="top") for cid in expert_rubric.ids("anchored")}
    j["expert.independence.verdict"] = Judgment(verdict="pass", comment="checked")
    s = make(expert_rubric, j)
    assert s.totals.total == 35 and s.totals.max == 35
    assert s.totals.sections == {"strategy": 12, "diffusion": 10, "independence": 13}
    assert s.totals.gates == {"expert.independence.verdict": "pass"}
    # one level down on a 6-point criterion: 6 x 0.8 = 4.8, so 35 - 1.2
    j["expert.strategy.plan"] = Judgment(level=4)
    assert make(expert_rubric, j).totals.total == pytest.approx(33.8)


def test_hand_computed_demo_total(expert_rubric):
    # demo judgments alternate the 4th and 3rd of five levels (0.8 and 0.6)
    s = make(expert_rubric)
    expected = 0.0
    for i, (_, c) in enumerate(expert_rubric.criteria()):
        if c.kind == "anchored":
            expected += c.points * (0.8 if i % 2 == 0 else 0.6)
    assert s.totals.total == pytest.approx(expected)


def test_missing_criterion_named(expert_rubric):
    j = demo_judgments(expert_rubric)
    del j["expert.diffusion.ecosystem"]
    with pytest.raises(SheetError) as e:
        make(expert_rubric, j)
    assert [p.place for p in e.value.problems] == ["expert.diffusion.ecosystem"]
    assert "Domestic and global ecosystem ripple effects: no score selected" in str(e.value)


def test_out_of_range_level_named(expert_rubric):
    j = demo_judgments(expert_rubric)
    j["expert.strategy.plan"] = Judgment(level=9, comment="x")
    with pytest.raises(SheetError, match=r"Soundness of the development strategy: level 9 is not on the scale"):
        make(expert_rubric, j)


def test_unknown_criterion_named(expert_rubric):
    j = demo_judgments(expert_rubric)
    j["expert.bogus"] = Judgment(level=3)
    with pytest.raises(SheetError, match=r"expert.bogus: not a criterion of this rubric"):
        make(expert_rubric, j)


def test_required_comments(expert_rubric):
    j = demo_judgments(expert_rubric)
    j["expert.strategy.plan"] = Judgment(level=5)  # top of the scale: comment required
    j["expert.independence.verdict"] = Judgment(verdict="fail", comment="   ")
    with pytest.raises(SheetError) as e:
        make(expert_rubric, j)
    assert [p.place for p in e.value.problems] == ["expert.strategy.plan", "expert.independence.verdict"]
    # a middle level needs no comment
    j["expert.strategy.plan"] = Judgment(level=3)
    j["expert.independence.verdict"] = Judgment(verdict="fail", comment="encoder reused")
    assert make(expert_rubric, j).totals.gates["expert.independence.verdict"] == "fail"


def test_gate_bad_verdict_and_coi(expert_rubric):
    j = demo_judgments(expert_rubric)
    j["expert.independence.verdict"] = Judgment(verdict="maybe", comment="?")
    with pytest.raises(SheetError, match="unknown verdict 'maybe'"):
        make(expert_rubric, j)
    with pytest.raises(SheetError, match="conflict of interest not declared"):
        make(expert_rubric, coi=COI())
    with pytest.raises(SheetError, match="describe the conflict of interest"):
        make(expert_rubric, coi=COI(has_conflict=True))


def test_problems_are_bilingual(expert_rubric):
    (p,) = check_judgments(expert_rubric, {k: v for k, v in demo_judgments(expert_rubric).items() if k != "expert.strategy.plan"})
    assert p.text("ko", expert_rubric) == "개발 전략의 타당성: 점수를 선택하지 않았습니다"
    assert p.text("en", expert_rubric) == "Soundness of the development strategy: no score selected"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 10.5])
def test_computed_values_refuse_nan_inf_and_out_of_range(benchmark_rubric, bad):
    comp = {cid: ComputedValue(points=5.0, max_points=10, formula="achievement_ratio") for cid in benchmark_rubric.ids()}
    if math.isfinite(bad):
        comp["bench.nia"] = ComputedValue(points=bad, max_points=10, formula="achievement_ratio")
        with pytest.raises(SheetError, match="NIA benchmark achievement: computed value"):
            build_sheet(benchmark_rubric, round_id="r", team_id="t", reviewer=Reviewer(id="c", role="computed"),
                        judgments={}, coi=COI(has_conflict=False), computed=comp)
    else:
        with pytest.raises(pydantic.ValidationError, match="points\n  Input should be a finite number"):
            ComputedValue(points=bad, max_points=10, formula="achievement_ratio")


def test_computed_totals(benchmark_rubric):
    comp = {
        "bench.nia": ComputedValue(points=9.2, max_points=10, formula="achievement_ratio"),
        "bench.common": ComputedValue(points=14.4, max_points=20, formula="achievement_ratio"),
        "bench.individual": ComputedValue(points=10.0, max_points=10, formula="achievement_ratio"),
    }
    t = compute_totals(benchmark_rubric, {}, comp)
    assert t.total == 33.6 and t.sections == {"nia": 9.2, "common": 14.4, "individual": 10.0}


def test_judging_a_computed_criterion_is_refused(benchmark_rubric):
    problems = check_judgments(benchmark_rubric, {"bench.nia": Judgment(level=3)})
    assert ("bench.nia", "computed_judged") in {(p.criterion, p.code) for p in problems}


def test_roundtrip_canonical_and_validate(expert_rubric):
    s = make(expert_rubric, parameters={"lang": "ko", "team_id": "team-a"})
    b = sheet_bytes(s)
    assert json.loads(b)["schema"] == "workbench.scoresheet/4"
    again = parse_sheet(b, "s.json")
    assert again == s and sheet_bytes(again) == b
    validate_sheet(again, expert_rubric)


def test_tampered_total_detected(expert_rubric):
    data = json.loads(sheet_bytes(make(expert_rubric)))
    data["totals"]["total"] = 35.0
    with pytest.raises(SheetError, match=r"totals 35 do not follow from the judgments"):
        validate_sheet(parse_sheet(data), expert_rubric, "s.json")


def test_wrong_rubric_detected(expert_rubric, user_rubric):
    with pytest.raises(SheetError, match="sheet was made with rubric expert-2026-stage1"):
        validate_sheet(make(expert_rubric), user_rubric)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["reviewer"].update(id="../../etc"), "reviewer.id"),
        (lambda d: d.update(inputs=[{"path": "/etc/passwd", "sha256": "0" * 64, "bytes": 1}]), "relative path"),
        (lambda d: d["judgments"]["expert.strategy.plan"].update(level="high"), "judgments.expert.strategy.plan.level"),
    ],
)
def test_parse_sheet_rejects_malformed(expert_rubric, mutate, fragment):
    data = json.loads(sheet_bytes(make(expert_rubric)))
    mutate(data)
    with pytest.raises(SheetError, match=fragment):
        parse_sheet(data, "s.json")


def test_parse_sheet_rejects_nan_text():
    with pytest.raises(InputFileError, match=r"^s\.json: invalid JSON: NaN is not valid JSON"):
        parse_sheet(b'{"totals": NaN}', "s.json")


def test_input_record_is_relative_and_hashed(tmp_path):
    f = tmp_path / "evidence" / "team-a" / "results.json"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"{}")
    rec = input_record(f, tmp_path)
    assert rec.path == "evidence/team-a/results.json" and rec.bytes == 2
    assert rec.sha256 == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
