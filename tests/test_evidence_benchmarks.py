"""Benchmark evidence: harness and CSV ingestion, the rubric's formulas, intervals, flags, chart export."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from png_pixels import decode_png

from workbench.core.charts import style, to_png, to_svg
from workbench.core.errors import EvidenceError, InputFileError, RubricError
from workbench.core.files import canonical_json
from workbench.core.findings import Finding
from workbench.core.versions import bench_flag_v3
from workbench.evidence._csv import parse_csv
from workbench.evidence.benchmarks import (
    BenchmarkResult,
    BenchmarkSpec,
    Reference,
    ResultSet,
    Targets,
    combine_results,
    compute_points,
    load_benchmark_sets,
    parse_harness_results,
    read_harness_json,
    read_results_csv,
    results_chart,
)
from workbench.model.formulas import formulas, get_formula

FIX = Path(__file__).parent / "fixtures" / "benchmarks"
SETS = load_benchmark_sets()
NIA_TARGETS = {"kobest": 0.75, "haerae": 0.6, "click": 0.5, "kornat": 0.85, "k2_eval": 0.7}


def targets(**kw) -> Targets:
    base = {"team": "team-a", "model": "target-x", "scores": NIA_TARGETS, "individual": ("textvqa", "docvqa")}
    return Targets(**{**base, **kw})


def result(bench: str, value: float, stderr: float | None = None, n: int | None = None, team: str = "team-a"):
    spec = SETS.by_id()[bench]
    return BenchmarkResult(team=team, model="m", benchmark=bench, metric=spec.metric, value=value, stderr=stderr,
                           n=n, source="test")


# ---------------------------------------------------------------- the scheme

def test_scheme_has_the_rubric_sets():
    assert len(SETS.common) == 13
    assert len(SETS.nia) >= 3
    assert {"gsm8k", "mmlu_pro", "humaneval", "kmmlu", "toxigen"} <= {s.id for s in SETS.common}
    assert all("," in s.metric for s in SETS.all())  # harness >= 0.4 keys carry their filter


# ---------------------------------------------------------------- harness files

def test_harness_0_4_file_reads_metrics_stderr_and_item_counts():
    rs = read_harness_json(FIX / "harness_v0_4.json", team="team-a", model="hanbit-7b")
    by = {r.benchmark: r for r in rs.results}
    assert set(by) == {"arc_challenge", "gsm8k", "hellaswag", "kmmlu"}
    assert by["gsm8k"].value == 0.7217589082638363
    assert by["gsm8k"].stderr == 0.012343803671422683
    assert by["gsm8k"].metric == "exact_match,strict-match"  # not the flexible-extract twin
    assert by["hellaswag"].value == 0.7996415056761601  # acc_norm, not acc
    assert by["arc_challenge"].n == 1172
    assert by["kmmlu"].n is None  # a group has no n-samples entry
    # the subtask is not part of the scheme: reported, not dropped silently
    assert rs.notes == ("harness_v0_4.json: not used (not in the scheme): kmmlu_accounting",)


def test_harness_0_3_file_uses_legacy_keys_and_task_aliases():
    rs = read_harness_json(FIX / "harness_v0_3.json", team="team-b", model="saebyeok-7b")
    by = {r.benchmark: r for r in rs.results}
    assert by["hellaswag"].value == 0.7513443537143996 and by["hellaswag"].metric == "acc_norm"
    assert by["hellaswag"].stderr == 0.0043135716932961205
    assert by["gsm8k"].metric == "acc" and by["gsm8k"].value == 0.1463229719484458
    assert by["truthfulqa"].metric == "mc2" and by["truthfulqa"].stderr == 0.013620834740627667


def test_open_llm_leaderboard_v2_task_names_are_read_with_their_own_metric_keys():
    rs = read_harness_json(FIX / "harness_leaderboard_v2.json", team="team-a", model="hanbit-7b")
    by = {r.benchmark: r for r in rs.results}
    # aliases of scheme benchmarks, each with the key that task reports
    assert (by["mmlu_pro"].metric, by["mmlu_pro"].value, by["mmlu_pro"].n) == ("acc,none", 0.3301, 12032)
    assert (by["gpqa"].metric, by["gpqa"].value, by["gpqa"].n) == ("acc_norm,none", 0.3131, 198)
    assert (by["ifeval"].metric, by["ifeval"].value) == ("prompt_level_strict_acc,none", 0.4603)
    assert by["mmlu_pro"].source == "harness_leaderboard_v2.json:results.leaderboard_mmlu_pro"
    # subsets of a benchmark are catalogue benchmarks of their own, read from the group's aggregate
    assert (by["bbh_leaderboard"].metric, by["bbh_leaderboard"].value) == ("acc_norm,none", 0.4871)
    assert (by["math_hard"].metric, by["musr"].metric) == ("exact_match,none", "acc_norm,none")
    assert set(by) == {"mmlu_pro", "gpqa", "ifeval", "bbh_leaderboard", "math_hard", "musr"}
    assert rs.problems == ()
    # what is not read is said: the GPQA group (not GPQA Diamond) and the subtasks
    assert "leaderboard_gpqa," in rs.notes[0] and "leaderboard_gpqa_extended" in rs.notes[0]


def test_an_alias_metric_key_is_the_aliases_own_and_the_csv_accepts_it(tmp_path):
    spec = SETS.by_id()["mmlu_pro"]
    assert [tuple(k) for k in spec.task_keys()] == [("mmlu_pro", "exact_match,custom-extract", "exact_match"),
                                                     ("leaderboard_mmlu_pro", "acc,none", "acc")]
    # the alias's task does not report the benchmark's own key: it is not read from there
    with pytest.raises(EvidenceError, match="results.leaderboard_mmlu_pro: metric 'acc,none' missing"):
        parse_harness_results(_doc({"exact_match,custom-extract": 0.5}, "leaderboard_mmlu_pro"), "r.json",
                              team="t", model="m", benchmarks=SETS.common)
    p = tmp_path / "r.csv"
    p.write_text(HEAD + 't,m,mmlu_pro,"acc,none",0.33,,12032\n')
    assert read_results_csv(p).results[0].metric == "acc,none"


def _limited(doc: dict, task: str, effective: int) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["n-samples"][task]["effective"] = effective
    doc["config"]["limit"] = effective
    return doc


def test_a_limit_run_is_read_and_listed_as_a_problem():
    doc = json.loads((FIX / "harness_leaderboard_v2.json").read_text())
    # --limit 50: fewer items than the benchmark has, so the score is not the benchmark's
    rs = parse_harness_results(_limited(doc, "leaderboard_mmlu_pro", 50), "evidence/ta/r.json", team="t", model="m",
                               benchmarks=SETS.all())
    assert {r.benchmark: r.n for r in rs.results}["mmlu_pro"] == 50
    assert [(p.benchmark, str(p.problem)) for p in rs.problems] == [(
        "mmlu_pro", "evidence/ta/r.json: n-samples.leaderboard_mmlu_pro: mmlu_pro: run with --limit: 50 of 12032 "
        "items of leaderboard_mmlu_pro scored, so the score is not the benchmark's, expected a run over every item "
        "(effective = original, no --limit)")]
    # a group's subtask run with --limit: the group's benchmark has the problem
    rs = parse_harness_results(_limited(doc, "leaderboard_bbh_navigate", 10), "r.json", team="t", model="m",
                               benchmarks=SETS.all())
    assert [(p.benchmark, p.problem.place) for p in rs.problems] == [("bbh_leaderboard", "n-samples.leaderboard_bbh_navigate")]
    # merged sets keep their problems
    assert combine_results(ResultSet(), rs).problems == rs.problems


def test_the_scheme_refuses_a_task_read_as_two_benchmarks():
    data = SETS.model_dump()
    data["catalogue"][0]["aliases"] = ["leaderboard_ifeval"]  # already an alias of ifeval
    with pytest.raises(ValueError, match="named by more than one benchmark or alias: leaderboard_ifeval"):
        type(SETS).model_validate(data)


def test_harness_na_stderr_is_unknown_and_sample_len_gives_n():
    rs = read_harness_json(FIX / "harness_v0_4_0_na.json", team="team-a", model="hanbit-7b")
    by = {r.benchmark: r for r in rs.results}
    assert by["haerae"].stderr is None and by["haerae"].n == 1538
    assert by["kobest"].stderr == 0.0061


def _doc(entry: dict, task: str = "gsm8k") -> dict:
    return {"results": {task: entry}}


def test_missing_metric_lists_the_metrics_found():
    with pytest.raises(EvidenceError) as e:
        parse_harness_results(_doc({"exact_match,flexible-extract": 0.5}), "r.json", team="t", model="m",
                              benchmarks=SETS.common)
    msg = str(e.value)
    assert "r.json: results.gsm8k: metric 'exact_match,strict-match' missing" in msg
    assert "found: exact_match,flexible-extract" in msg


def test_file_without_any_scheme_task_lists_found_and_expected():
    with pytest.raises(EvidenceError) as e:
        parse_harness_results({"results": {"piqa": {"acc,none": 0.7}}}, "r.json", team="t", model="m",
                              benchmarks=SETS.nia)
    assert "found tasks: piqa" in str(e.value) and "kobest" in str(e.value)


def test_a_value_outside_its_scale_is_a_problem_of_its_benchmark_only():
    """Issue 27, item 3: one percent-scale value rejected the whole file, and every benchmark criterion scored 0."""
    doc = _doc({"exact_match,strict-match": 72.5})
    doc["results"]["arc_challenge"] = {"acc_norm,none": 0.61, "acc_norm_stderr,none": 0.01}
    rs = parse_harness_results(doc, "r.json", team="t", model="m", benchmarks=SETS.common)
    assert [r.benchmark for r in rs.results] == ["arc_challenge"]
    [p] = rs.problems
    assert p.benchmark == "gsm8k" and "outside the range" in p.problem.message and p.problem.file == "r.json"


@pytest.mark.parametrize("value, why", [(True, "is not a number"), ("0.5", "is not a number"),
                                        (None, "is not a number")])
def test_bad_values_are_refused(value, why):
    with pytest.raises(EvidenceError, match=why):
        parse_harness_results(_doc({"exact_match,strict-match": value}), "r.json", team="t", model="m",
                              benchmarks=SETS.common)


def test_no_results_block_and_duplicate_json_keys_are_refused(tmp_path):
    with pytest.raises(EvidenceError, match="no 'results' object"):
        parse_harness_results({"result": {}}, "r.json", team="t", model="m", benchmarks=SETS.common)
    p = tmp_path / "dup.json"
    p.write_text('{"results": {"gsm8k": {"exact_match,strict-match": 0.5, "exact_match,strict-match": 0.9}}}')
    with pytest.raises(InputFileError, match=r"dup\.json: invalid JSON: duplicate key 'exact_match,strict-match'"):
        read_harness_json(p, team="t", model="m")


def test_combine_refuses_the_same_benchmark_twice():
    a = ResultSet(results=(result("gsm8k", 0.5),))
    b = ResultSet(results=(result("gsm8k", 0.6),))
    with pytest.raises(EvidenceError, match="duplicate result for team team-a, benchmark gsm8k"):
        combine_results(a, b)
    assert len(combine_results(a, ResultSet(results=(result("gsm8k", 0.6, team="team-b"),))).results) == 2


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from([s.id for s in SETS.common]),
                       st.tuples(st.floats(0, 1), st.none() | st.floats(0, 0.1), st.none() | st.integers(1, 10**6)),
                       min_size=1))
def test_harness_parser_roundtrips_generated_documents(entries):
    specs = SETS.by_id()
    doc = {"results": {}, "n-samples": {}}
    for bid, (v, se, n) in entries.items():
        s = specs[bid]
        base, filt = s.metric.split(",", 1)
        doc["results"][s.task] = {"alias": s.task, s.metric: v, f"{base}_stderr,{filt}": "N/A" if se is None else se}
        if n is not None:
            doc["n-samples"][s.task] = {"original": n, "effective": n}
    text = json.dumps(doc)
    rs = parse_harness_results(json.loads(text), "gen.json", team="t", model="m", benchmarks=SETS.common)
    got = {r.benchmark: (r.value, r.stderr, r.n) for r in rs.results}
    assert got == entries


# ---------------------------------------------------------------- tidy CSV

def test_tidy_csv_loads():
    rs = read_results_csv(FIX / "results.csv")
    t = rs.table()
    assert list(t["benchmark"][:5]) == ["kobest", "haerae", "click", "kornat", "k2_eval"]
    assert t.loc[1, "stderr"] is None or math.isnan(t.loc[1, "stderr"])
    assert rs.results[1].n == 1538 and rs.results[0].stderr == 0.01
    assert rs.results[0].source == "results.csv:2"


HEAD = "team,model,benchmark,metric,value,stderr,n\n"


@pytest.mark.parametrize("body, message", [
    ("t,m,nosuch,\"acc,none\",0.5,,\n", "line 2|2: column benchmark: unknown benchmark 'nosuch'"),
    ("t,m,kobest,\"acc_norm,none\",0.5,,\n", "metric 'acc_norm,none' is not the scheme's metric"),
    ("t,m,kobest,\"acc,none\",abc,,\n", "'abc' is not a finite number"),
    ("t,m,kobest,\"acc,none\",NaN,,\n", "'NaN' is not a finite number"),
    ("t,m,kobest,\"acc,none\",,,\n", "empty cell"),
    ("t,m,kobest,\"acc,none\",0.5,-1,\n", "negative stderr"),
    ("t,m,kobest,\"acc,none\",0.5,,2.5\n", "not a positive integer"),
    ("t,m,kobest,\"acc,none\",0.5,,\nt,m,kobest,\"acc,none\",0.6,,\n", "duplicate result .* \\(first at line 2\\)"),
    ("t,m,kobest,\"acc,none\",0.5\n", "row has 5 fields"),
    # a metric key with its comma unquoted: one field too many, and the fix is said
    ("t,m,kobest,acc,none,0.5,,\n", 'row: row has 8 fields, expected 7 fields .*must be quoted: "acc,none"'),
])
def test_tidy_csv_errors_name_the_line_and_what_was_expected(tmp_path, body, message):
    p = tmp_path / "r.csv"
    p.write_text(HEAD + body)
    with pytest.raises(EvidenceError, match=message.replace("line 2|", "")) as e:
        read_results_csv(p)
    assert str(e.value).startswith(f"{p}:")


def test_tidy_csv_percent_scale_value_is_a_problem_of_that_benchmark_only(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(HEAD + 't,m,kmmlu,"acc,none",48.3,,\nt,m,kobest,"acc,none",0.5,,\nt,m,gsm8k,"exact_match,strict-match",0.7,,\n')
    rs = read_results_csv(p)
    assert sorted(r.benchmark for r in rs.results) == ["gsm8k", "kobest"]
    [bad] = rs.problems
    assert bad.benchmark == "kmmlu" and bad.problem.line == 2 and "outside the range" in bad.problem.message
    assert bad.problem.place == "column value"


def test_tidy_csv_missing_column_lists_found_and_expected(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("team,model,benchmark,value\nt,m,kobest,0.5\n")
    with pytest.raises(EvidenceError) as e:
        read_results_csv(p)
    assert "missing column(s) metric" in str(e.value) and "found: team, model, benchmark, value" in str(e.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_csv_parser_never_fails_with_anything_but_evidence_error(text):
    with contextlib.suppress(EvidenceError):
        parse_csv(text, "x.csv", ("a", "b"), ("c",))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["팀-가", "team,b", "t\"c"]), st.sampled_from([s.id for s in SETS.nia]),
                          st.floats(0, 1), st.none() | st.floats(0, 1)),
                unique_by=lambda r: (r[0], r[1]), min_size=1, max_size=10))
def test_tidy_csv_roundtrips_generated_rows(tmp_path_factory, rows):
    import csv
    import io

    specs = SETS.by_id()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["team", "model", "benchmark", "metric", "value", "stderr", "n"])
    for team, bench, v, se in rows:
        w.writerow([team, "m", bench, specs[bench].metric, repr(v), "" if se is None else repr(se), ""])
    p = tmp_path_factory.mktemp("csv") / "r.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    got = [(r.team, r.benchmark, r.value, r.stderr) for r in read_results_csv(p).results]
    assert got == rows


# ---------------------------------------------------------------- formulas (hand-computed)

def test_formula_registry():
    assert set(formulas()) >= {"achievement_ratio", "frontier_ratio"}
    from workbench.evidence.benchmarks import frontier_ratio

    assert get_formula("frontier_ratio").function() is frontier_ratio
    with pytest.raises(RubricError, match="unknown formula 'no_such'.*achievement_ratio"):
        compute_points("no_such", {"set": "nia"}, 10, read_results_csv(FIX / "results.csv"), targets())


def _squared_ratio(scores, targets, higher_is_better, *, frontier=None, cap=1.0, power=2.0):
    """A third party's formula: the achievement ratio raised to ``power``."""
    return np.minimum((scores / targets) ** power, cap)


def test_a_registered_formula_is_one_registration_for_rubrics_and_points(monkeypatch):
    """A new formula is one Formula (an entry point of a third party's package, or register_formula): rubric
    checks accept its id and compute_points runs it with its own params, no list kept in step elsewhere."""
    import workbench.model.formulas as F

    monkeypatch.setattr(F, "_registered", {})
    spec = F.register_formula(F.Formula("squared_ratio", "achievement ratio squared",
                                        f"{__name__}:_squared_ratio", params=F.COMMON_PARAMS | {"power"}))
    with pytest.raises(RubricError, match="already registered"):
        F.register_formula(spec)
    rs = ResultSet(results=(result("wikitext", 10.0), result("textvqa", 0.4)))
    t = targets(scores={"wikitext": 10.0, "textvqa": 0.8}, individual=("wikitext", "textvqa"))
    cp = compute_points("squared_ratio", {"set": "individual", "power": 2.0}, 10, rs, t)
    assert cp.points == pytest.approx(10 * (1.0 + 0.5 ** 2) / 2) and cp.formula == "squared_ratio"
    cp = compute_points("squared_ratio", {"set": "individual", "power": 1.0}, 10, rs, t)
    assert cp.points == pytest.approx(10 * (1.0 + 0.5) / 2)  # its own param reaches it


def test_achievement_ratio_on_the_nia_set_by_hand():
    cp = compute_points("achievement_ratio", {"set": "nia", "cap": 1.0}, 10, read_results_csv(FIX / "results.csv"),
                        targets())
    # kobest 0.70/0.75, haerae 0.60/0.60, click 0.55/0.50 capped at 1, kornat 0.80/0.85, k2_eval 0.72/0.70 capped
    expected = 10 * (0.70 / 0.75 + 1 + 1 + 0.80 / 0.85 + 1) / 5
    assert cp.points == pytest.approx(expected, abs=1e-12)
    ratios = {r.benchmark: r.ratio for r in cp.per_benchmark}
    assert ratios["click"] == 1.0 and ratios["kobest"] == pytest.approx(0.70 / 0.75)
    assert cp.ci_low <= cp.points <= cp.ci_high
    assert Finding(code="bench_exact", params={"benchmark": "kornat"}) in cp.flags
    # team-b's kobest row is in the file but not counted for team-a
    assert all(r.source.startswith("results.csv:") and r.source != "results.csv:7" for r in cp.per_benchmark)


def test_cap_above_one_rewards_exceeding_the_target():
    rs = ResultSet(results=tuple(result(b, v) for b, v in
                                 {"kobest": 0.9, "haerae": 0.6, "click": 0.5, "kornat": 0.85, "k2_eval": 0.7}.items()))
    cp = compute_points("achievement_ratio", {"set": "nia", "cap": 1.1}, 10, rs, targets())
    assert cp.points == pytest.approx(10 * (1.1 + 1 + 1 + 1 + 1) / 5)  # 0.9/0.75 = 1.2 capped at 1.1


def test_lower_is_better_metric_inverts_the_ratio():
    rs = ResultSet(results=(result("wikitext", 12.5), result("textvqa", 0.6)))
    t = targets(scores={"wikitext": 10.0, "textvqa": 0.8}, individual=("wikitext", "textvqa"))
    cp = compute_points("achievement_ratio", {"set": "individual"}, 10, rs, t)
    assert cp.points == pytest.approx(10 * (10 / 12.5 + 0.6 / 0.8) / 2)


def test_frontier_ratio_uses_share_of_the_frontier_score():
    rs = ResultSet(results=(result("textvqa", 0.70), result("docvqa", 0.90)))
    t = targets(scores={"textvqa": 1.0, "docvqa": 1.0})
    front = Reference(model="frontier-2026", scores={"textvqa": 0.80, "docvqa": 0.90})
    cp = compute_points("frontier_ratio", {"set": "individual", "share": 0.95}, 10, rs, t, frontier=front)
    assert cp.points == pytest.approx(10 * (0.70 / (0.95 * 0.80) + 1.0) / 2)
    assert {r.benchmark: r.reference for r in cp.per_benchmark}["textvqa"] == pytest.approx(0.76)
    with pytest.raises(RubricError, match="needs frontier"):
        compute_points("frontier_ratio", {"set": "individual"}, 10, rs, t)


def test_individual_benchmark_outside_the_catalogue_is_added_to_the_rounds_scheme():
    spec = BenchmarkSpec(id="ko_doc", name_ko="한국어 문서", name_en="Korean documents", task="ko_doc",
                         metric="acc,none")
    rs = ResultSet(results=(result("textvqa", 0.5), BenchmarkResult(team="team-a", model="m", benchmark="ko_doc",
                                                                    metric="acc,none", value=0.4, source="x")))
    mine = targets(individual=("textvqa", "ko_doc"), scores={"textvqa": 0.5, "ko_doc": 0.8})
    with pytest.raises(EvidenceError, match="ko_doc not in the catalogue") as e:
        compute_points("achievement_ratio", {"set": "individual"}, 10, rs, mine)
    # the error names the round's catalogue, not a teams.yaml field that does not exist
    assert "individual_specs" not in str(e.value) and "a catalogue id of the round's scheme" in str(e.value)
    assert "individual_specs" not in Targets.model_fields
    # a team's own benchmark is a catalogue entry of the round's scheme (round data)
    scheme = SETS.model_copy(update={"catalogue": (*SETS.catalogue, spec)})
    cp = compute_points("achievement_ratio", {"set": "individual"}, 10, rs, mine, sets=scheme)
    assert cp.points == pytest.approx(10 * (0.5 + 1.0) / 2)


def test_individual_benchmarks_come_from_the_catalogue_only():
    # a common benchmark chosen as an individual one would count twice
    rs = ResultSet(results=(result("textvqa", 0.5), result("gsm8k", 0.5)))
    with pytest.raises(EvidenceError, match="gsm8k not in the catalogue"):
        compute_points("achievement_ratio", {"set": "individual"}, 10, rs,
                       targets(individual=("textvqa", "gsm8k"), scores={"textvqa": 0.5, "gsm8k": 0.5}))


def test_missing_result_costs_its_own_share_by_default_or_is_an_error():
    rs = ResultSet(results=(result("kobest", 0.75), result("haerae", 0.6)))
    # partial credit, the default: each missing benchmark scores 0 and costs its own share (10 / 5 points)
    cp = compute_points("achievement_ratio", {"set": "nia"}, 10, rs, targets())
    assert cp.params["missing"] == "zero"
    assert cp.points == pytest.approx(10 * 2 / 5)
    assert Finding(code="bench_missing", params={"benchmark": "click"}) in cp.flags
    assert [row.benchmark for row in cp.per_benchmark if row.score is None] == ["click", "kornat", "k2_eval"]
    assert cp.to_summary()["points"] == pytest.approx(4.0)
    # all or nothing, only when the rubric says so
    with pytest.raises(EvidenceError) as e:
        compute_points("achievement_ratio", {"set": "nia", "missing": "error"}, 10, rs, targets())
    assert "no result for click, kornat, k2_eval (found: haerae, kobest)" in str(e.value)


def test_missing_target_and_bad_params_are_refused():
    rs = ResultSet(results=(result("textvqa", 0.5), result("docvqa", 0.5)))
    with pytest.raises(EvidenceError, match="no reference score for docvqa"):
        compute_points("achievement_ratio", {"set": "individual"}, 10, rs, targets(scores={"textvqa": 0.5}))
    with pytest.raises(RubricError, match="unknown formula"):
        compute_points("mean_score", {"set": "nia"}, 10, rs, targets())
    with pytest.raises(RubricError, match="bad params"):
        compute_points("achievement_ratio", {"set": "nia", "share": 0.9}, 10, rs, targets())
    with pytest.raises(RubricError, match="unknown benchmark set"):
        compute_points("achievement_ratio", {"set": "global"}, 10, rs, targets())
    with pytest.raises(RubricError, match="out of range"):
        compute_points("achievement_ratio", {"set": "nia", "cap": 0}, 10, rs, targets())


# ---------------------------------------------------------------- uncertainty

def test_bootstrap_interval_matches_the_delta_method_away_from_the_cap():
    # two benchmarks well below target: points = 10/2 * (s1/t1 + s2/t2), linear, so the delta method is exact:
    # se = 5 * sqrt((se1/t1)^2 + (se2/t2)^2)
    rs = ResultSet(results=(result("textvqa", 0.40, stderr=0.02), result("docvqa", 0.30, stderr=0.01)))
    t = targets(scores={"textvqa": 0.8, "docvqa": 0.6})
    cp = compute_points("achievement_ratio", {"set": "individual", "resamples": 20000}, 10, rs, t, seed=7)
    se = 5 * math.sqrt((0.02 / 0.8) ** 2 + (0.01 / 0.6) ** 2)
    assert cp.points == pytest.approx(5 * (0.5 + 0.5))
    assert (cp.ci_high - cp.ci_low) / (2 * 1.959964) == pytest.approx(se, rel=0.03)
    assert cp.seed == 7 and "20000 resamples, seed 7" in cp.method


def test_intervals_are_deterministic_for_a_seed():
    rs = ResultSet(results=(result("textvqa", 0.40, stderr=0.02), result("docvqa", 0.30, stderr=0.01)))
    t = targets(scores={"textvqa": 0.8, "docvqa": 0.6})
    a = compute_points("achievement_ratio", {"set": "individual"}, 10, rs, t, seed=1)
    b = compute_points("achievement_ratio", {"set": "individual"}, 10, rs, t, seed=1)
    c = compute_points("achievement_ratio", {"set": "individual"}, 10, rs, t, seed=2)
    assert a.to_summary() == b.to_summary()
    assert a.ci_low != c.ci_low


def test_binomial_standard_error_from_item_count():
    rs = ResultSet(results=(result("textvqa", 0.5), result("chartqa", 0.6, n=1538)))
    cp = compute_points("achievement_ratio", {"set": "individual"}, 10, rs,
                        targets(individual=("textvqa", "chartqa"), scores={"textvqa": 0.5, "chartqa": 0.7}))
    row = {r.benchmark: r for r in cp.per_benchmark}["chartqa"]
    assert row.se_source == "item count"
    assert row.stderr == pytest.approx(math.sqrt(0.6 * 0.4 / 1538))
    # textvqa's metric is not a 0/1 proportion: no item-count error for it
    assert {r.benchmark: r for r in cp.per_benchmark}["textvqa"].se_source == "none"


def test_a_miss_within_noise_is_flagged_and_a_clear_miss_is_not():
    rs = ResultSet(results=(result("textvqa", 0.74, stderr=0.01), result("docvqa", 0.60, stderr=0.01)))
    cp = compute_points("achievement_ratio", {"set": "individual"}, 10, rs,
                        targets(scores={"textvqa": 0.75, "docvqa": 0.75}))
    rows = {r.benchmark: r for r in cp.per_benchmark}
    assert rows["textvqa"].within_noise and not rows["textvqa"].met
    assert not rows["docvqa"].within_noise and not rows["docvqa"].met
    assert rows["textvqa"].ci_high == pytest.approx(0.74 + 1.959964 * 0.01, rel=1e-6)
    (noise,) = [f for f in cp.flags if f.code == "bench_noise"]
    assert noise.params == {"benchmark": "textvqa", "reference": 0.75, "confidence": 0.95,
                            "low": pytest.approx(0.7204, abs=1e-6), "high": pytest.approx(0.7596, abs=1e-6)}
    # words at render time, every score at the policy's three significant digits (never .4g beside .3f)
    assert noise.text("en") == ("textvqa: misses its reference 0.750 but the 95% interval [0.720, 0.760] reaches it: "
                                "the miss may be noise")
    assert noise.text("ko") == "textvqa: 기준 0.750에 못 미치지만 95% 신뢰구간 [0.720, 0.760]이 기준에 닿음: 차이가 잡음일 수 있음"
    # sheets signed up to workbench.scoresheet/3 recorded the line; re-runs of them are compared in that form
    assert bench_flag_v3(noise.model_dump(mode="json")) == (
        "textvqa: misses its reference 0.75 but the 95% interval [0.7204, 0.7596] reaches it: the miss may be noise")


def test_summary_is_json_canonical_and_finite():
    cp = compute_points("achievement_ratio", {"set": "nia"}, 10, read_results_csv(FIX / "results.csv"), targets())
    s = cp.to_summary()
    json.dumps(s, allow_nan=False)
    canonical_json(s)
    assert s["points"] == round(cp.points, 4) and s["max_points"] == 10
    assert s["params"] == {"cap": 1.0, "confidence": 0.95, "missing": "zero", "resamples": 2000, "set": "nia"}


# ---------------------------------------------------------------- chart

def _nia_points():
    return compute_points("achievement_ratio", {"set": "nia"}, 10, read_results_csv(FIX / "results.csv"), targets())


def test_results_chart_exports_svg_with_hangul_text():
    svg = to_svg(results_chart(_nia_points(), lang="ko"))
    assert svg.lstrip().startswith("<svg") and "벤치마크 결과와 목표" in svg and "KoBEST" in svg
    assert "해례 벤치" in svg  # a Korean benchmark name from the scheme


def _korean_font_installed() -> bool:
    found = [f for pattern in ("Nanum*.tt?", "NotoSansCJK*", "NotoSansKR*", "NotoSerifCJK*")
             for f in Path("/usr/share/fonts").rglob(pattern)]
    return bool(found) or Path("/System/Library/Fonts/AppleSDGothicNeo.ttc").exists()


def _title_pixels(text: str) -> np.ndarray:
    """A label alone, as a chart title in the workbench's chart style (20 px font, scale 1), as RGBA pixels."""
    chart = alt.Chart(pd.DataFrame({"x": [0]})).mark_point(opacity=0)
    return decode_png(to_png(style(chart.properties(title=alt.TitleParams(text, fontSize=20), width=1, height=1)),
                             scale=1))


def _ink_extent(img: np.ndarray) -> tuple[int, int]:
    """Width and height in pixels of what is drawn (anything unlike the corner's background)."""
    ys, xs = np.nonzero(np.any(img != img[0, 0], axis=2))
    assert len(xs), "nothing drawn"
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def test_korean_labels_render_as_hangul_glyphs_not_missing_glyph_boxes():
    require(_korean_font_installed(), "no Korean font (fonts-nanum or Noto CJK) is installed; `make system-deps` installs fonts-nanum")
    # a character that no font has is drawn as the missing-glyph box ("tofu"), the same box for every such
    # character: private-use code points give it; Hangul without a Korean font would give it too
    tofu = _title_pixels("\ue000")
    assert _same(_title_pixels("\ue001"), tofu)
    syllables = {ch: _title_pixels(ch) for ch in "가나다라마바"}
    for ch, img in syllables.items():
        assert not _same(img, tofu), f"{ch} is drawn as a missing-glyph box"
        w, h = _ink_extent(img)
        assert 12 <= w <= 22 and 12 <= h <= 22, f"{ch}: ink {w}x{h} px is not a syllable of a 20 px font"
    assert len({img.tobytes() for img in syllables.values()}) == 6  # six syllables, six different glyphs
    # a whole label: the syllables side by side, about one em each
    w, h = _ink_extent(_title_pixels("가나다라마바"))
    assert 6 * 16 <= w <= 6 * 22 and 12 <= h <= 22
    # and in a real chart: its Korean title is not its missing-glyph twin
    chart = results_chart(_nia_points(), lang="ko")
    hangul = to_png(chart.properties(title="가나다라마바"), scale=1)
    assert hangul[:8] == b"\x89PNG\r\n\x1a\n" and hangul != to_png(chart.properties(title="\ue000" * 6), scale=1)


def test_chart_for_several_teams_facets():
    rs = ResultSet(results=tuple(result(b, 0.6, stderr=0.01, team=t) for t in ("team-a", "team-b")
                                 for b in ("textvqa", "docvqa")))
    cps = [compute_points("achievement_ratio", {"set": "individual"}, 10, rs,
                          targets(team=t, scores={"textvqa": 0.7, "docvqa": 0.5})) for t in ("team-a", "team-b")]
    spec = results_chart(cps, lang="en").to_dict()
    assert "facet" in spec
    assert np.isclose(cps[0].points, 10 * (0.6 / 0.7 + 1) / 2)
