"""The evidence panels a reviewer reads, and the language switch (issue 14, item 4).

On a round with the demo's full evidence: every panel's tables have titled columns from the message table
(no pandas index, no raw field names, no NaN), criterion titles instead of ids, numbers at a reading
precision, a box that scrolls instead of widening the pane, and the three charts. Switching the language
re-renders everything in place and loses nothing typed.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from roundkit import EXPERT, TEAM, fill_like_a_person, make_round

from workbench.core.charts import Figure, PendingChart
from workbench.notebook.drafts import DraftStore
from workbench.notebook.review import open_review

RAW = ("se_source", "param_share", "log10_p", "raw_cosine", "identical_tensors", "ci_low", "within_noise",
       "name_ko", "bench.nia", "bench.common", "near_ln_v", "no_evidence", "item count")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_round(tmp_path_factory.mktemp("demo"), demo_evidence=True)


def _open(kit, lang):
    return open_review(kit.round_dir, EXPERT, TEAM, "expert", lang, str(kit.expert_key))


def _sections(r):
    return [r.team_section(), r.benchmark_section(), r.usability_section(), r.independence_section()]


def _shown(items) -> str:
    """Everything a reader sees of non-widget items: HTML and tables as HTML, charts by their title."""
    out = []
    for i in items:
        if isinstance(i, Figure):
            out.append(i.title)
        elif hasattr(i, "_repr_html_"):
            out.append(i._repr_html_())
        elif hasattr(i, "data"):
            out.append(str(i.data))
    return "\n".join(out)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_panel_reads_in_the_chosen_language(demo, lang):
    import pandas as pd

    r = _open(demo, lang)
    items = [i for s in _sections(r) for i in s.items]
    assert not [i for i in items if isinstance(i, pd.DataFrame)]  # no raw frames with an index column
    from workbench.core.tables import DASH, Table

    tables = [i for i in items if isinstance(i, Table)]
    css = {t.css for t in tables}
    assert {"wb-team", "wb-materials", "wb-computed", "wb-benchmark-rows", "wb-cost", "wb-provenance",
            "wb-training", "wb-tokenizer", "wb-config", "wb-licences"} <= css
    text = _shown(items)
    for raw in RAW:
        assert raw not in text, raw
    for t in tables:
        for row in t.cells():
            for cell in row:
                assert cell not in ("nan", "NaN", "None", "<NA>", "null"), (t.css, row)
        html = t.html()
        assert "overflow-x:auto" in html and "<th></th>" not in html  # scrolls inside, no index column
    # criterion titles from the rubric head the per-benchmark tables, not ids
    bench = r.ctx.benchmark_rubric
    titles = [c.title.get(lang) for _, c in bench.criteria()]
    assert all(t in text for t in titles)
    # numbers at a reading precision: computed points with two decimals, shares as percentages
    computed = next(t for t in tables if t.css == "wb-computed").cells()
    assert all(re.search(r"\d+\.\d\d / \d+", row[3]) for row in computed)
    prov = next(t for t in tables if t.css == "wb-provenance")
    assert all(re.fullmatch(r"\d+\.\d%|" + DASH, c) for c in prov.column(prov.headers[3]))
    rows = next(t for t in tables if t.css == "wb-benchmark-rows")
    assert not [c for c in rows.column(rows.headers[1]) if ",none" in c]  # harness keys read as metric names
    heads = [i.data for i in items if hasattr(i, "data") and "<h4>" in str(i.data)]
    assert titles[0] in heads[0]  # per-benchmark tables in the rubric's order
    charts = [i.figure() for i in items if isinstance(i, PendingChart)]
    assert len(charts) == 3  # benchmarks against targets, provenance per layer, the loss curve against ln V
    assert not [c.title for c in charts if "training-log" in c.title or "near ln v" in c.title]
    if lang == "ko":
        named = {"SHA-256", "log₁₀ p"}  # and reference models' names, given as column titles
        assert all(HANGUL.search(h) for t in tables for h in t.headers if h not in named | set(t.titles.values()))
        assert all(HANGUL.search(c.title) for c in charts)
    else:
        assert not HANGUL.search(" ".join(h for t in tables for h in t.headers))


def test_a_table_shows_a_dash_for_a_missing_value_and_numbers_at_their_precision():
    from workbench.core.tables import DASH, Column, Table

    t = Table([Column("a", "col_value"), Column("share", "col_param_share", "pct"), Column("n", "col_bytes", "bytes"),
               Column("h", "col_file", "hash")],
              [{"a": None, "share": float("nan"), "n": 2_500_000, "h": "ab" * 32}, {"a": "x", "share": 0.12345}],
              "ko")
    assert t.headers == ["값", "파라미터 비중", "바이트", "파일"]
    assert t.cells() == [[DASH, DASH, "2.5 MB", "abababababab…"], ["x", "12.3%", DASH, DASH]]
    assert "title='" + "ab" * 32 + "'" in t.html()  # the full digest in the tooltip
    assert t.html().count("white-space:nowrap;text-align:right") == 4  # numbers never wrap inside themselves
    from workbench.core.tables import number

    assert [number(-0.04, ".1f"), number(7.56e23, "sci"), number(558_600, "sci"), number(0.4298, "score")] == \
        ["0.0", "7.56 × 10²³", "558,600", "0.430"]


def test_the_missing_list_names_the_declaration_not_its_id(demo):
    r = _open(demo, "ko")
    assert "이해충돌 선언: 이해충돌 여부를 선언하지 않았습니다" in r.form.missing.value
    assert "coi:" not in r.form.missing.value


def test_the_language_switch_rerenders_everything_and_keeps_what_was_typed(demo):
    answers = yaml.safe_load(demo.answers(EXPERT).read_text())
    r = _open(demo, "ko")
    views = _sections(r) + [r.coi_section(), r.summary_section()]
    fill_like_a_person(r.form, answers)
    cid = "expert.strategy.plan"
    r.form.controls[cid].comment.value = "한국어로 쓴 의견, 그대로 남아야 함"
    r.autosaver.flush()
    store = DraftStore(demo.round_dir)
    before_draft = store.load(EXPERT, TEAM).draft
    before_sheet = r.sheet().to_json()
    before_values = {c: (ctl.choice.value, ctl.comment.value) for c, ctl in r.form.controls.items()}
    assert "(가) 평가 대상 팀과 제출 자료" in _shown(views[0].items)

    r.language.value = "en"  # the reviewer clicks "English"

    assert r.ctx.lang == "en"
    assert {c: (ctl.choice.value, ctl.comment.value) for c, ctl in r.form.controls.items()} == before_values
    shown = _shown([i for v in views for i in v.items])
    assert "(a) The team and its submitted materials" in shown and "(가)" not in shown
    charts = [i for v in views for i in v.items if isinstance(i, PendingChart)]
    assert all(c.drawn for c in charts)  # drawn at once: the form is already there
    titles = " ".join(c.figure().title for c in charts)
    assert "Benchmark results against targets" in titles and "Similarity statistic per component" in titles
    ctl = r.form.controls[cid]
    assert ctl.head.value.count(r.rubric.criterion(cid).title.get("en")) == 1
    assert all(not HANGUL.search(label) for label, _ in ctl.choice.options)
    assert r.form.sign_button.description == "Sign and submit"
    assert r.form.coi_choice.options[0][0].startswith("I have no conflict")
    # nothing the reviewer entered changed: the same draft, the same sheet (its lang is the notebook's)
    after_draft = store.load(EXPERT, TEAM).draft
    assert after_draft.judgments == before_draft.judgments and after_draft.coi == before_draft.coi
    after_sheet = r.sheet().to_json()
    after_sheet.pop("created_at"), before_sheet.pop("created_at")
    assert json.dumps(after_sheet, sort_keys=True) == json.dumps(before_sheet, sort_keys=True)

    r.language.value = "ko"  # and back
    assert "(가) 평가 대상 팀과 제출 자료" in _shown(views[0].items)
    assert r.form.controls[cid].comment.value == "한국어로 쓴 의견, 그대로 남아야 함"
    assert r.form.sign_button.description == "서명 및 제출"


def test_charts_are_drawn_after_the_form_in_place_of_their_placeholders(demo):
    r = _open(demo, "ko")
    views = _sections(r) + [r.summary_section()]
    pending = [i for v in views for i in v.items if isinstance(i, PendingChart)]
    assert len(pending) == 3 and not [c for c in pending if c.drawn]  # the form does not wait for them
    assert "wb-chart-pending" in pending[0]._repr_mimebundle_()["text/html"]
    assert r.draw_charts() == 3 and r.draw_charts() == 0
    for c in pending:
        bundle = c._repr_mimebundle_()
        assert set(bundle) == {"image/svg+xml", "text/plain"} and bundle["image/svg+xml"].startswith("<svg")

