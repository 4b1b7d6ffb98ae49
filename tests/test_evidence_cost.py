"""Cost efficiency from model-card data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.charts import to_svg
from workbench.core.errors import EvidenceError
from workbench.core.findings import Finding
from workbench.evidence.cost import ModelCost, cost_chart, cost_efficiency, load_model_cost

FIX = Path(__file__).parent / "fixtures" / "cost"


def test_ratios_by_hand():
    a = load_model_cost(FIX / "team-a.yaml", "team-a")
    b = ModelCost(team="team-b", model="saebyeok-7b", active_parameters=7e9, total_parameters=7e9,
                  inference_cost={"value": 0.10, "unit": "USD per 1M output tokens"})
    ce = cost_efficiency([b, a], {"team-a": 33.6, "team-b": 21.0}, points_label="benchmark points")
    rows = {r.team: r for r in ce.rows}
    assert [r.team for r in ce.rows] == ["team-a", "team-b"]
    assert rows["team-a"].points_per_billion_active == pytest.approx(33.6 / 12)
    assert rows["team-a"].points_per_cost == pytest.approx(33.6 / 0.40)
    assert rows["team-b"].points_per_billion_active == pytest.approx(3.0)
    assert ce.flags == ()
    json.dumps(ce.to_summary(), allow_nan=False)


def test_different_cost_units_and_missing_cost_are_flagged():
    a = load_model_cost(FIX / "team-a.yaml", "team-a")
    b = ModelCost(team="team-b", model="m", active_parameters=7e9, total_parameters=7e9,
                  inference_cost={"value": 3.0, "unit": "KRW per request"})
    c = ModelCost(team="team-c", model="m", active_parameters=1e9, total_parameters=2e9)
    ce = cost_efficiency([a, b, c], {"team-a": 30, "team-b": 20, "team-c": 10})
    assert Finding(code="cost_undeclared", params={"team": "team-c"}) in ce.flags
    assert any("different units" in f.text("en") for f in ce.flags)
    assert {r.team: r.points_per_cost for r in ce.rows}["team-c"] is None


def test_bad_cards_and_mismatched_teams():
    with pytest.raises(EvidenceError, match="bad.yaml:1: active_parameters exceeds total_parameters"):
        load_model_cost(FIX / "bad.yaml", "team-b")
    a = load_model_cost(FIX / "team-a.yaml", "team-a")
    with pytest.raises(EvidenceError, match="differ from teams with points"):
        cost_efficiency([a], {"team-a": 1.0, "team-b": 2.0})
    with pytest.raises(EvidenceError, match="two model cards for team team-a"):
        cost_efficiency([a, a], {"team-a": 1.0})


def test_card_type_error_names_key_and_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: x\nactive_parameters: many\ntotal_parameters: 1.0e+9\n")
    with pytest.raises(EvidenceError, match=r"c.yaml:2: active_parameters: "):
        load_model_cost(p, "t")


def test_cost_chart_exports_with_hangul():
    a = load_model_cost(FIX / "team-a.yaml", "team-a")
    svg = to_svg(cost_chart(cost_efficiency([a], {"team-a": 30.0}, points_label="벤치마크 점수"), lang="ko"))
    assert "모델 크기 대비 점수" in svg and "벤치마크 점수" in svg
