"""Rubrics: validation with file:line errors, identity hash, JSON Schema, CLI check."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from conftest import ROOT
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.cli.app import main
from workbench.core.errors import RubricError
from workbench.model.formulas import formulas
from workbench.model.rubric import check_files, json_schema, load_rubric, load_rubric_text

SHIPPED = ["benchmark.yaml", "expert.yaml", "user.yaml"]

MINI = """\
id: mini
version: "1.0"
part: expert
role: expert
title: {ko: 미니, en: Mini}
description: {ko: 설명, en: Description}
total_points: 10
sections:
  - id: s1
    title: {ko: 절, en: Section}
    criteria:
      - id: c.one
        title: {ko: 하나, en: One}
        description: {ko: 설명, en: Description}
        points: 10
        scale:
          type: anchored
          levels:
            - {value: 1, fraction: 0.0, label: {ko: 낮음, en: Low}, descriptor: {ko: 낮다, en: low}}
            - {value: 2, fraction: 1.0, label: {ko: 높음, en: High}, descriptor: {ko: 높다, en: high}}
      - id: c.gate
        title: {ko: 판정, en: Verdict}
        description: {ko: 설명, en: Description}
        points: 0
        comment_required: always
        scale:
          type: gate
          options:
            - {value: pass, label: {ko: 적합, en: Pass}, descriptor: {ko: 좋다, en: fine}}
            - {value: fail, label: {ko: 부적합, en: Fail}, descriptor: {ko: 나쁘다, en: bad}, excludes: true}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(RubricError) as e:
        load_rubric_text(text, "r.yaml")
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_rubrics_valid(name):
    r = load_rubric(ROOT / "rubrics" / name)
    assert sum(c.points for _, c in r.criteria()) == r.total_points
    for _, c in r.criteria():
        assert c.title.ko and c.title.en and c.description.ko and c.description.en


def test_stage1_scheme(benchmark_rubric, expert_rubric, user_rubric):
    assert (benchmark_rubric.total_points, expert_rubric.total_points, user_rubric.total_points) == (40, 35, 25)
    assert {c.id: c.points for _, c in benchmark_rubric.criteria()} == {"bench.nia": 10, "bench.common": 20, "bench.individual": 10}
    gate = expert_rubric.criterion("expert.independence.verdict")
    assert gate.kind == "gate" and gate.points == 0 and gate.comment_required == "always"
    assert [o.value for o in gate.scale.options] == ["pass", "concern", "fail"]
    assert [o.excludes for o in gate.scale.options] == [False, False, True]
    for _, c in benchmark_rubric.criteria():
        assert c.scale.formula in formulas()


def test_mini_is_valid():
    r = load_rubric_text(MINI, "mini.yaml")
    assert r.ids("anchored") == ["c.one"] and r.ids("gate") == ["c.gate"]
    c = r.criterion("c.one")
    assert c.needs_comment(1) and c.needs_comment(2)


def test_duplicate_id_with_line():
    text = MINI.replace("id: c.gate", "id: c.one")
    ps = problems_of(text)
    assert ps == [
        "r.yaml:12: sections.0.criteria.0.id: duplicate criterion id 'c.one', expected unique criterion ids",
        "r.yaml:21: sections.0.criteria.1.id: duplicate criterion id 'c.one', expected unique criterion ids",
    ]


def test_points_do_not_add_up():
    ps = problems_of(MINI.replace("total_points: 10", "total_points: 12"))
    assert ps == ["r.yaml:7: total_points: criteria points add up to 10, not 12, expected total_points: 10 or criteria adding up to 12"]


def test_missing_translation_with_line():
    ps = problems_of(MINI.replace("title: {ko: 하나, en: One}", "title: {ko: 하나}"))
    assert ps == ["r.yaml:13: sections.0.criteria.0.title.en: missing translation 'en', expected a text in both 'ko' and 'en'"]


def test_unknown_scale_type_with_line():
    ps = problems_of(MINI.replace("type: anchored", "type: slider"))
    assert len(ps) == 1 and ps[0].startswith("r.yaml:17: sections.0.criteria.0.scale.type: ") and "unknown scale type 'slider'" in ps[0]
    assert ps[0].endswith("expected anchored, gate or computed")


def test_every_problem_reported_not_only_the_first():
    text = MINI.replace("title: {ko: 하나, en: One}", "title: {ko: 하나}").replace("type: gate", "type: nope")
    assert len(problems_of(text)) == 2


def test_gate_with_points_and_unknown_formula():
    text = MINI.replace("points: 0\n        comment_required: always", "points: 2\n        comment_required: extremes").replace("total_points: 10", "total_points: 12")
    ps = problems_of(text)
    assert any("gate 'c.gate' has 2 points" in p for p in ps)
    assert any("must always require a justification" in p for p in ps)
    comp = MINI.replace("role: expert", "role: computed")
    assert any("person must score" in p for p in problems_of(comp))


def test_unknown_field_and_not_a_mapping():
    assert any("unknown field 'colour'" in p for p in problems_of(MINI.replace("        points: 10\n", "        points: 10\n        colour: red\n")))
    with pytest.raises(RubricError, match="r.yaml:1: rubric is not a mapping"):
        load_rubric_text("- a\n- b\n", "r.yaml")


def _reformat(data, rng: random.Random):
    """The same content with shuffled key order."""
    if isinstance(data, dict):
        items = list(data.items())
        rng.shuffle(items)
        return {k: _reformat(v, rng) for k, v in items}
    if isinstance(data, list):
        return [_reformat(v, rng) for v in data]
    return data


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), flow=st.sampled_from([None, True, False]), width=st.integers(40, 200), indent=st.integers(2, 6))
def test_hash_stable_under_reformatting(expert_rubric, seed, flow, width, indent):
    # libyaml's parser and emitter (PyYAML's C bindings): the pure-Python ones take most of this test's time
    data = yaml.load((ROOT / "rubrics" / "expert.yaml").read_text(), Loader=yaml.CSafeLoader)
    text = "# a comment that changes nothing\n" + yaml.dump(
        _reformat(data, random.Random(seed)), Dumper=yaml.CSafeDumper, allow_unicode=bool(seed % 2),
        sort_keys=False, default_flow_style=flow, width=width, indent=indent,
    )
    # PyYAML's emitter does not always round-trip escaped Hangul at narrow widths; only faithful
    # reformattings test the property "same content, same hash"
    assume(yaml.load(text, Loader=yaml.CSafeLoader) == data)
    assert load_rubric_text(text).sha256 == expert_rubric.sha256


@pytest.mark.parametrize(
    ("old", "new"),
    [("points: 10", "points: 10.0"), ("en: One}", "en: One }")],
)
def test_hash_ignores_equivalent_spellings(old, new):
    assert load_rubric_text(MINI).sha256 == load_rubric_text(MINI.replace(old, new, 1)).sha256


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("en: One}", "en: One!}"),
        ("fraction: 0.0", "fraction: 0.1"),
        ('version: "1.0"', 'version: "1.1"'),
        ("excludes: true", "excludes: false"),
    ],
)
def test_hash_changes_with_any_semantic_change(old, new):
    assert load_rubric_text(MINI).sha256 != load_rubric_text(MINI.replace(old, new, 1)).sha256


def test_shipped_schema_is_current():
    shipped = json.loads((ROOT / "rubrics" / "rubric.schema.json").read_text())
    assert shipped == json.loads(json.dumps(json_schema())), "run: workbench rubric schema -o rubrics/rubric.schema.json"


def test_schema_validates_shipped_rubrics():
    import jsonschema

    schema = json_schema()
    for name in SHIPPED:
        jsonschema.validate(yaml.safe_load((ROOT / "rubrics" / name).read_text()), schema)


def test_check_files_reports_duplicate_rubric_ids(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(MINI)
    b.write_text(MINI)
    rubrics, problems = check_files([a, b])
    assert len(rubrics) == 2 and len(problems) == 1 and "also used by" in str(problems[0])


def test_semantic_rules_checked_once_structure_is_valid():
    # structural problems come first: rules spanning fields need a well-formed rubric to check
    text = MINI.replace("title: {ko: 하나, en: One}", "title: {ko: 하나}").replace("total_points: 10", "total_points: 11")
    assert len(problems_of(text)) == 1
    assert "add up to 10, not 11" in problems_of(MINI.replace("total_points: 10", "total_points: 11"))[0]


def test_cli_rubric_check(capsys, tmp_path):
    assert main(["rubric", "check", *(str(ROOT / "rubrics" / n) for n in SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 rubric(s) valid:") and out.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.replace("title: {ko: 하나, en: One}", "title: {ko: 하나}").replace("type: gate", "type: nope"))
    assert main(["rubric", "check", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{bad}:13: sections.0.criteria.0.title.en: missing translation 'en', expected a text in both 'ko' and 'en'"
    assert err[1].startswith(f"{bad}:27: sections.0.criteria.1.scale.type: unknown scale type 'nope'")
    assert err[-1] == "2 problem(s) in 1 file(s)"


def test_cli_rubric_check_malformed_yaml_no_traceback(capsys, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n")
    assert main(["rubric", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith(f"{bad}:")


def test_a_registered_formula_is_a_valid_rubric_formula(monkeypatch):
    """Rubric checks read the one formula registry: an unknown id is refused, a registered one accepted."""
    from pathlib import Path

    import workbench.model.formulas as F

    text = (Path(__file__).parents[1] / "rubrics" / "benchmark.yaml").read_text(encoding="utf-8")
    text = text.replace("formula: achievement_ratio", "formula: squared_ratio")
    assert any("unknown formula 'squared_ratio'" in p for p in problems_of(text))
    monkeypatch.setattr(F, "_registered", {})
    F.register_formula(F.Formula("squared_ratio", "ratio squared", "math:pow"))
    assert next(load_rubric_text(text, "c.yaml").criteria())[1].scale.formula == "squared_ratio"


