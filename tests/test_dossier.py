"""The dossier: each evidence part from fixtures, absent parts, broken files as problems, path escapes, the demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from coord_helpers import demo_evidence_round, make_round
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import make_model, make_vision, perturb, save_model

from workbench.core.errors import EvidenceError, RoundError, WorkbenchError
from workbench.core.files import canonical_json, sha256_file
from workbench.evidence.benchmarks import load_benchmark_sets
from workbench.evidence.dossier import build_dossier, load_references
from workbench.evidence.weights import fingerprint_model, write_fingerprint
from workbench.model.round import load_round
from workbench.publish.aggregate import benchmark_points

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures"
INDEP = FIX / "independence"
INDIVIDUAL = ["textvqa", "docvqa"]


def _fingerprint(tensors: dict, where: Path, out: Path) -> None:
    write_fingerprint(fingerprint_model(save_model(tensors, where), executor="serial"), out)


@pytest.fixture(scope="module")
def prints(tmp_path_factory) -> dict[str, Path]:
    """A reference model with a vision tower, and a team model whose tower is the reference's, fine-tuned."""
    d = tmp_path_factory.mktemp("models")
    vision = make_vision(11, prefix="visual.")
    _fingerprint({**make_model(10), **vision}, d / "ref", d / "ref.fp")
    copied = {k.replace("visual.", "vision_tower.", 1): v for k, v in perturb(vision, 12, 0.05).items()}
    _fingerprint({**make_model(20), **copied}, d / "team", d / "team.fp")
    _fingerprint({**make_model(30), **make_vision(31, prefix="vision_tower.")}, d / "own", d / "own.fp")
    return {"ref": d / "ref.fp", "copied": d / "team.fp", "own": d / "own.fp"}


def _results_csv(team: str, scores: dict[str, float]) -> str:
    specs = load_benchmark_sets().by_id()
    rows = [f'{team},{team}-7B,{b},"{specs[b].metric}",{v},,' for b, v in sorted(scores.items())]
    return "team,model,benchmark,metric,value,stderr,n\n" + "\n".join(rows) + "\n"


def _all_benchmarks() -> list[str]:
    sets = load_benchmark_sets()
    return [s.id for s in (*sets.nia, *sets.common)] + INDIVIDUAL


def _round(tmp_path: Path, prints: dict[str, Path], evidence: dict[str, dict[str, str]], **team_facts) -> Path:
    """An unfrozen round with teams ta, tb: targets 0.8 everywhere, the given evidence, references."""
    rd = make_round(tmp_path, teams=("ta", "tb"), do_freeze=False)
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    for t in teams["teams"]:
        t["individual_benchmarks"] = list(INDIVIDUAL)
        t["targets"] = dict.fromkeys(_all_benchmarks(), 0.8)
        t["evidence"] = dict(evidence.get(t["id"], {}))
        t.update(team_facts.get(t["id"], {}))
    (rd / "teams.yaml").write_text(yaml.safe_dump(teams))
    refs = rd / "references"
    (refs / "foreign-vl").mkdir(parents=True)
    shutil.copy(FIX / "dossier" / "references.yaml", refs / "references.yaml")
    shutil.copy(prints["ref"], refs / "foreign-vl" / "fingerprint.safetensors")
    for sub in ("ref_b", "ref_u"):
        shutil.copytree(INDEP / "tokenizers" / sub, refs / sub)
    shutil.copytree(INDEP / "configs" / "ref_qwen_vl", refs / "ref_qwen_vl")
    return rd


FULL = {"benchmark_results": "results.csv", "model_card": "card.yaml", "training_log": "log.csv",
        "tokenizer": "tok/tokenizer.json", "config": "config.json", "licences": "licences.yaml",
        "weights": "weights.fp", "technical_report": "report.md"}


def _fill(rd: Path, team: str, prints: dict[str, Path], weights: str = "copied") -> Path:
    ev = rd / "evidence" / team
    scores = dict.fromkeys(_all_benchmarks(), 0.6)
    scores["kobest"] = 0.9  # above its target: ratio capped at 1
    (ev / "results.csv").write_text(_results_csv(team, scores))
    shutil.copy(FIX / "cost" / "team-a.yaml", ev / "card.yaml")
    shutil.copy(INDEP / "scratch.csv", ev / "log.csv")
    shutil.copytree(INDEP / "tokenizers" / "team_a", ev / "tok")
    shutil.copy(INDEP / "configs" / "team_x" / "config.json", ev / "config.json")
    shutil.copy(FIX / "dossier" / "licences.yaml", ev / "licences.yaml")
    shutil.copy(prints[weights], ev / "weights.fp")
    (ev / "report.md").write_text("# report\n")
    return ev


def test_every_part_from_fixtures(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": FULL}, ta={"vocab_size": 32000, "training_tokens": 390 * 2**20})
    ev = _fill(rd, "ta", prints)
    d = build_dossier(load_round(rd), "ta", seed=7)
    assert d.problems == ()
    # achievement ratios: 0.6 / 0.8 = 0.75 everywhere, kobest capped at 1 -> NIA 10 x (1 + 4 x 0.75) / 5
    assert d.points["bench.nia"].points == pytest.approx(8.0)
    assert d.points["bench.common"].points == pytest.approx(15.0)
    assert d.points["bench.individual"].points == pytest.approx(7.5)
    assert d.points["bench.nia"].seed == 7
    assert d.cost.active_parameters == 12e9
    assert d.training.initial_reading == "near_ln_v" and d.training.token_ratio == pytest.approx(1.0)
    assert [p.reference for p in d.tokenizer.pairs] == ["Foreign-VL", "Ref-U"]
    assert d.config.references == ["Foreign-VL"]
    # the tower, localised to its blocks in the table, is one finding and one undeclared use for a reader
    vision = [c for c in d.provenance.components if c.component.startswith("vision_encoder.")]
    assert vision and all(c.verdict in ("derived", "identical") and c.reference == "Foreign-VL" for c in vision)
    assert {c.component for c in vision} >= {"vision_encoder.layers.0.attention", "vision_encoder.layers.1.mlp"}
    assert [u.component for u in d.licences.undeclared_weights] == ["vision_encoder"]
    assert d.licences.undeclared_weights[0].declared_as == ["code"]
    flags = d.independence_flags()
    assert any(f.startswith("vision_encoder derived from Foreign-VL (") for f in flags) or \
        any(f.startswith("vision_encoder identical from Foreign-VL (") for f in flags)
    assert "undeclared weights use: vision_encoder (Foreign-VL)" in flags
    # inputs: every file read, relative to the round, with its hash (team files and reference files)
    paths = {i.path: i for i in d.inputs}
    assert {"evidence/ta/results.csv", "evidence/ta/tok/tokenizer.json", "evidence/ta/report.md",
            "references/foreign-vl/fingerprint.safetensors", "references/ref_u/tokenizer.json"} <= set(paths)
    assert paths["evidence/ta/results.csv"].sha256 == sha256_file(ev / "results.csv")
    s = d.summary()
    assert set(s) >= {"benchmark_results", "benchmark_points", "model_card", "training_log", "tokenizer", "config",
                      "licences", "weights", "independence_flags", "problems"}
    assert s["weights"]["reuse_detected"] is True
    # JSON-able and deterministic, whatever the machine's paths
    again = build_dossier(load_round(rd), "ta", seed=7).summary()
    assert canonical_json(s) == canonical_json(again)
    assert str(tmp_path) not in json.dumps(s)
    assert set(d.computed()) == {"bench.nia", "bench.common", "bench.individual"}


def test_missing_parts_are_absent_and_score_zero(tmp_path, prints):
    rd = _round(tmp_path, prints, {"tb": {"model_card": "card.yaml"}})
    shutil.copy(FIX / "cost" / "team-a.yaml", rd / "evidence" / "tb" / "card.yaml")
    r = load_round(rd)
    d = build_dossier(r, "tb")
    assert d.cost is not None and d.results is None and d.points == {} and d.provenance is None
    assert d.training is None and d.tokenizer is None and d.config is None and d.licences is None
    s = d.summary()
    assert "model_card" in s and "benchmark_points" not in s and "weights" not in s
    assert d.independence_line() == "tb: no independence evidence submitted"
    none = build_dossier(r, "ta")
    assert none.inputs == () and none.problems == ()
    pts = benchmark_points(r, {"ta": none, "tb": d})
    assert pts["tb"] == {"bench.common": 0.0, "bench.individual": 0.0, "bench.nia": 0.0}


def test_an_independent_model_is_not_flagged(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"weights": "weights.fp", "licences": "licences.yaml"}})
    ev = rd / "evidence" / "ta"
    shutil.copy(prints["own"], ev / "weights.fp")
    shutil.copy(FIX / "dossier" / "licences.yaml", ev / "licences.yaml")
    d = build_dossier(load_round(rd), "ta")
    assert d.provenance.summary["derived"] == d.provenance.summary["identical"] == 0
    assert d.licences.undeclared_weights == [] and d.independence_flags() == []
    assert d.independence_line() == "ta: nothing flagged (weights, licences checked)"


def test_broken_files_become_problems_not_crashes(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {**FULL, "weights": "missing.fp"}})
    ev = _fill(rd, "ta", prints)
    (ev / "results.csv").write_text("team,model,benchmark,metric,value,stderr,n\nta,m,kobest,acc,oops,,\n")
    (ev / "card.yaml").write_text("model: x\nactive_parameters: -1\ntotal_parameters: 10\n")
    d = build_dossier(load_round(rd), "ta")
    assert d.results is None and d.points == {} and d.cost is None and d.provenance is None
    assert d.training is not None and d.tokenizer is not None       # the good files still count
    assert d.licences is not None and d.licences.undeclared_weights is None   # no provenance to check against
    # paths are checked first, then each part in turn
    assert len(d.problems) == 3
    assert str(d.problems[0]) == "teams.yaml: ta.evidence.weights: 'missing.fp' not found, expected a file under evidence/ta/"
    assert str(d.problems[1]).startswith("evidence/ta/results.csv:2: column value:")
    assert str(d.problems[2]).startswith("evidence/ta/card.yaml:2: active_parameters:")
    assert d.summary()["problems"] == [p.model_dump(mode="json") for p in d.problems]
    # each problem is data: the file, line and place it is about, and what was expected
    assert d.problems[0].model_dump(exclude={"message"}) == {
        "schema_version": 1, "file": "teams.yaml", "line": None, "place": "ta.evidence.weights",
        "expected": "a file under evidence/ta/"}
    assert (d.problems[1].file, d.problems[1].line, d.problems[1].place) == ("evidence/ta/results.csv", 2, "column value")


def test_a_missing_benchmark_costs_its_own_share_and_is_a_problem_that_changes_points(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "results.csv"}})
    scores = dict.fromkeys(_all_benchmarks(), 0.6)
    del scores["kobest"]
    (rd / "evidence" / "ta" / "results.csv").write_text(_results_csv("ta", scores))
    d = build_dossier(load_round(rd), "ta")
    # partial credit: kobest scores 0, the other 4 NIA benchmarks count (0.6 / 0.8 each)
    assert set(d.points) == {"bench.nia", "bench.common", "bench.individual"}
    assert d.points["bench.nia"].points == pytest.approx(10 * 4 * 0.75 / 5)
    assert d.points["bench.common"].points == pytest.approx(15.0)
    assert tuple(map(str, d.problems)) == (
        "evidence/ta/results.csv: benchmark kobest: bench.nia: no result for kobest: scored 0, 2 of 10 points lost, "
        "expected a result for kobest (harness task kobest)",)
    # and the dossier says which criteria's points the problem changes
    assert [(p.criteria, p.problem) for p in d.point_problems] == [(("bench.nia",), d.problems[0])]
    assert d.summary()["point_problems"] == [{"criteria": ["bench.nia"], "problem": d.problems[0].model_dump(mode="json")}]


def test_an_unreadable_results_csv_is_a_problem_naming_file_and_line_that_changes_every_benchmark_criterion(
        tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "results.csv", "model_card": "card.yaml"}})
    ev = rd / "evidence" / "ta"
    shutil.copy(FIX / "cost" / "team-a.yaml", ev / "card.yaml")
    # the metric key written without quotes: its comma splits the row
    good = _results_csv("ta", dict.fromkeys(_all_benchmarks(), 0.6)).splitlines()
    good[3] = good[3].replace('"', "")
    (ev / "results.csv").write_text("\n".join(good) + "\n")
    d = build_dossier(load_round(rd), "ta")
    assert d.points == {} and d.results is None and d.cost is not None
    (p,) = d.problems
    assert (p.file, p.line, p.place) == ("evidence/ta/results.csv", 4, "row")
    assert p.message == "row has 8 fields" and 'must be quoted: "acc,none"' in p.expected
    assert d.point_problems[0].criteria == ("bench.common", "bench.individual", "bench.nia")
    assert d.notes == ()


def test_a_limit_run_is_a_problem_of_the_criterion_that_uses_it(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "results.json"}})
    doc = json.loads((FIX / "benchmarks" / "harness_v0_4.json").read_text())
    doc["n-samples"]["gsm8k"]["effective"] = 100  # lm_eval --limit 100
    (rd / "evidence" / "ta" / "results.json").write_text(json.dumps(doc))
    d = build_dossier(load_round(rd), "ta")
    limit = [p for p in d.point_problems if "--limit" in p.problem.message]
    assert [(p.criteria, p.problem.file, p.problem.place) for p in limit] == [
        (("bench.common",), "evidence/ta/results.json", "n-samples.gsm8k")]
    assert "100 of 1319 items of gsm8k scored" in limit[0].problem.message


def _harness_doc(scores: dict[str, float], extra_tasks: dict[str, str] | None = None) -> dict:
    specs = load_benchmark_sets().by_id()
    tasks = {**{b: specs[b].task for b in scores}, **(extra_tasks or {})}
    return {"results": {tasks[b]: {specs[b].metric: v} for b, v in scores.items()}}


def test_a_folder_of_result_files_is_read_in_name_order_and_merged(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "runs"}})
    runs = rd / "evidence" / "ta" / "runs"
    runs.mkdir()
    benches = _all_benchmarks()
    nia = [b for b in benches if b in {s.id for s in load_benchmark_sets().nia}]
    (runs / "results_2026-01-02.json").write_text(json.dumps(_harness_doc(dict.fromkeys(nia, 0.6))))
    (runs / "tidy.csv").write_text(_results_csv("ta", dict.fromkeys([b for b in benches if b not in nia], 0.6)))
    (runs / "samples_kobest_2026-01-02.jsonl").write_text("{}\n")  # harness --log_samples output: not read
    d = build_dossier(load_round(rd), "ta")
    assert d.problems == ()
    assert d.points["bench.nia"].points == pytest.approx(7.5) and d.points["bench.common"].points == pytest.approx(15.0)
    sources = {r.benchmark: r.source for r in d.results.results}
    assert sources["kobest"] == "evidence/ta/runs/results_2026-01-02.json:results.kobest"
    assert sources["gsm8k"].startswith("evidence/ta/runs/tidy.csv:")
    assert d.results.notes[0] == "evidence/ta/runs: not read (not *.json or *.csv): samples_kobest_2026-01-02.jsonl"
    # the files read are the inputs, not the folder's other files
    assert {i.path for i in d.inputs} == {"evidence/ta/runs/results_2026-01-02.json", "evidence/ta/runs/tidy.csv"}

    # a benchmark in two files: a problem naming both, and every benchmark criterion's points change
    (runs / "results_2026-01-03.json").write_text(json.dumps(_harness_doc({"kobest": 0.7})))
    d = build_dossier(load_round(rd), "ta")
    assert d.points == {}
    (p,) = d.problems
    assert str(p) == ("evidence/ta/runs/results_2026-01-03.json: duplicate result for team ta, benchmark kobest: in "
                      "evidence/ta/runs/results_2026-01-02.json:results.kobest and "
                      "evidence/ta/runs/results_2026-01-03.json:results.kobest, expected each benchmark once per team")
    assert d.point_problems[0].criteria == ("bench.common", "bench.individual", "bench.nia")


def test_a_results_folder_is_bounded_and_keeps_to_the_teams_folder(tmp_path, prints, monkeypatch):
    import workbench.evidence.dossier as dossier
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "runs"}, "tb": {"benchmark_results": "r.csv"}})
    runs = rd / "evidence" / "ta" / "runs"
    runs.mkdir()
    (runs / "empty.txt").write_text("")
    d = build_dossier(load_round(rd), "ta")
    assert str(d.problems[0]) == ("evidence/ta/runs: benchmark_results: no result file in the folder, expected harness "
                                  "results *.json or tidy *.csv files directly in the folder")
    (rd / "evidence" / "tb" / "r.csv").write_text(_results_csv("ta", dict.fromkeys(_all_benchmarks(), 0.9)))
    (runs / "r.csv").symlink_to("../../tb/r.csv")
    assert "'r.csv' is a symbolic link" in str(build_dossier(load_round(rd), "ta").problems[0])
    (runs / "r.csv").unlink()
    for i in range(3):
        (runs / f"r{i}.csv").write_text(_results_csv("ta", {}))
    monkeypatch.setattr(dossier, "MAX_RESULT_FILES", 2)
    assert "3 result files in the folder, expected at most 2" in str(build_dossier(load_round(rd), "ta").problems[0])


def test_the_rounds_scheme_is_used_not_the_packages(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "results.json"}})
    # the round's copy names the NIA's own task for KoBEST; the package's scheme does not know it
    f = rd / "rubrics" / "benchmarks.yaml"
    f.write_text(f.read_text().replace("task: kobest,", "task: kobest, aliases: [nia_kobest_v2],"))
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    from workbench.model.scheme import load_benchmark_sets as load_scheme
    rules["benchmarks"]["sha256"] = load_scheme(f).sha256
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules))
    nia = {s.id: 0.6 for s in load_benchmark_sets().nia}
    (rd / "evidence" / "ta" / "results.json").write_text(
        json.dumps(_harness_doc(nia, {"kobest": "nia_kobest_v2"})))
    d = build_dossier(load_round(rd), "ta")
    assert d.points["bench.nia"].points == pytest.approx(7.5)
    assert d.results.results[0].source.endswith(":results.nia_kobest_v2")


def test_paths_in_the_summary_do_not_depend_on_the_working_directory_or_where_the_round_lies(
        tmp_path, prints, monkeypatch):
    rd = _round(tmp_path / "a", prints, {"ta": {**FULL, "weights": "missing.fp", "benchmark_results": "runs"}})
    _fill(rd, "ta", prints)
    runs = rd / "evidence" / "ta" / "runs"
    runs.mkdir()
    scores = dict.fromkeys(_all_benchmarks(), 0.6)
    del scores["gsm8k"]
    (runs / "r.csv").write_text(_results_csv("ta", scores))
    (runs / "bad.json").write_text("{oops")
    (rd / "evidence" / "ta" / "card.yaml").write_text("model: x\nactive_parameters: -1\ntotal_parameters: 10\n")
    monkeypatch.chdir(tmp_path)
    first = build_dossier(load_round(rd.relative_to(tmp_path)), "ta").summary()
    assert first["problems"] and all(not p["file"].startswith(("a/", "/")) for p in first["problems"])
    moved = tmp_path / "elsewhere" / "deeper"
    moved.parent.mkdir()
    shutil.move(str(rd.parent), str(moved))
    other = tmp_path / "cwd"
    other.mkdir()
    monkeypatch.chdir(other)
    again = build_dossier(load_round(Path("..") / "elsewhere" / "deeper" / "round"), "ta").summary()
    assert canonical_json(first) == canonical_json(again)
    assert str(tmp_path) not in json.dumps(again) and "elsewhere" not in json.dumps(again)


@pytest.mark.parametrize("path", ["../tb/results.csv", "/etc/passwd", "a\\b.csv"])
def test_teams_yaml_refuses_paths_leaving_the_folder(tmp_path, prints, path):
    with pytest.raises(RoundError, match=r"teams.yaml:\d+: teams.0.evidence: .*must be relative"):
        load_round(_round(tmp_path, prints, {"ta": {"benchmark_results": path}}))


def test_unknown_evidence_key_is_refused(tmp_path, prints):
    with pytest.raises(RoundError, match=r"unknown evidence key\(s\) benchmark_points; expected some of benchmark_results"):
        load_round(_round(tmp_path, prints, {"ta": {"benchmark_points": "x.json"}}))


def test_symlink_out_of_the_round_is_refused(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"model_card": "card.yaml"}})
    outside = tmp_path / "outside.yaml"
    shutil.copy(FIX / "cost" / "team-a.yaml", outside)
    (rd / "evidence" / "ta" / "card.yaml").symlink_to(outside)
    d = build_dossier(load_round(rd), "ta")
    assert d.cost is None and d.inputs == ()
    assert tuple(map(str, d.problems)) == ("teams.yaml: ta.evidence.model_card: path 'card.yaml' resolves outside evidence/ta/ "
                          "(a symlink?), expected a file inside evidence/ta/",)


def test_a_team_cannot_point_at_another_teams_files(tmp_path, prints):
    # a symlink to the other team's results: inside the round, but not inside this team's folder
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "x.csv"}, "tb": {"benchmark_results": "results.csv"}})
    (rd / "evidence" / "tb" / "results.csv").write_text(_results_csv("ta", dict.fromkeys(_all_benchmarks(), 0.9)))
    (rd / "evidence" / "ta" / "x.csv").symlink_to("../tb/results.csv")
    d = build_dossier(load_round(rd), "ta")
    assert d.points == {} and d.inputs == ()
    assert tuple(map(str, d.problems)) == ("teams.yaml: ta.evidence.benchmark_results: path 'x.csv' resolves outside evidence/ta/ "
                          "(a symlink?), expected a file inside evidence/ta/",)


def test_a_named_pipe_is_a_problem_not_a_hang(tmp_path, prints):
    import os
    rd = _round(tmp_path, prints, {"ta": {"benchmark_results": "results.json"}})
    os.mkfifo(rd / "evidence" / "ta" / "results.json")
    d = build_dossier(load_round(rd), "ta")  # opened non-blocking: returns at once
    assert tuple(map(str, d.problems)) == ("evidence/ta/results.json: not a regular file (a pipe, device or socket), "
                          "expected a regular file",)


def test_a_model_card_cannot_name_another_team(tmp_path, prints):
    rd = _round(tmp_path, prints, {"ta": {"model_card": "card.yaml"}})
    card = rd / "evidence" / "ta" / "card.yaml"
    card.write_text("team: ghost\n" + (FIX / "cost" / "team-a.yaml").read_text())
    d = build_dossier(load_round(rd), "ta")
    assert d.cost is None
    assert tuple(map(str, d.problems)) == ("evidence/ta/card.yaml:1: team: the card names a team ('ghost'), "
                          "expected no 'team' key: the round knows whose card this is",)


def test_references_yaml_is_validated(tmp_path, prints):
    rd = _round(tmp_path, prints, {})
    f = rd / "references" / "references.yaml"
    f.write_text("references:\n  - id: r1\n    name: R\n    tokenizer: ../../x.json\n")
    with pytest.raises(EvidenceError, match=r"references.yaml: references.0.tokenizer: path '../../x.json' leaves"):
        load_references(rd)
    f.write_text("references:\n  - id: r1\n    name: R\n    fingerprnt: a.fp\n")
    with pytest.raises(EvidenceError, match=r"references.yaml:4: references.0.fingerprnt: unknown field 'fingerprnt'"):
        load_references(rd)
    f.unlink()
    assert load_references(rd) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_references_parser_only_raises_workbench_errors(tmp_path_factory, text):
    rd = tmp_path_factory.mktemp("refs")
    (rd / "references").mkdir()
    (rd / "references" / "references.yaml").write_text(text)
    try:
        refs = load_references(rd)
    except WorkbenchError:
        return
    assert refs is not None and all(r.fingerprint is None for r in refs.references)  # no file could exist


@pytest.fixture(scope="module")
def demo_round(tmp_path_factory) -> Path:
    """The shipped demo teams and evidence in an unfrozen round."""
    return demo_evidence_round(tmp_path_factory.mktemp("demo"))


def test_demo_cheonma_vision_encoder_is_flagged_and_others_are_not(demo_round):
    r = load_round(demo_round)
    dossiers = {t.id: build_dossier(r, t.id) for t in r.teams.teams}
    assert all(d.problems == () for d in dossiers.values())
    cheonma = dossiers["team-cheonma"]
    flagged = [c for c in cheonma.provenance.components if c.verdict in ("derived", "identical")]
    # localised to the tower's blocks (issue 23), the language model never flagged
    assert flagged and all(c.component.startswith("vision_encoder.") and c.reference == "Foreign-VL" for c in flagged)
    assert 0.05 < sum(c.param_share for c in flagged) < 0.2
    assert [u.component for u in cheonma.licences.undeclared_weights] == ["vision_encoder"]
    assert cheonma.independence_line().startswith("team-cheonma: vision_encoder derived from Foreign-VL (")
    assert cheonma.independence_line().endswith("undeclared weights use: vision_encoder (Foreign-VL)")
    for tid, d in dossiers.items():
        assert set(d.points) == {"bench.nia", "bench.common", "bench.individual"}
        if tid != "team-cheonma":
            assert d.independence_flags() == [], tid
            assert d.training.initial_reading == "near_ln_v" and d.training.compute.reading == "plausible"


def test_independence_flags_are_codes_worded_in_korean_and_in_the_english_that_sheets_sign(tmp_path, prints):
    from workbench.notebook.panels import ReviewContext, independence_panel

    rd = _round(tmp_path, prints, {"ta": FULL}, ta={"vocab_size": 32000, "training_tokens": 390 * 2**20})
    _fill(rd, "ta", prints)
    r = load_round(rd)
    d = build_dossier(r, "ta", seed=7)
    findings = d.independence_findings()
    assert {f.code for f in findings} >= {"undeclared_weights"}
    assert [f.text("en") for f in findings] == d.independence_flags()  # the signed English, unchanged
    ko = [f.text("ko") for f in findings]
    assert "신고하지 않은 가중치 사용: vision_encoder (Foreign-VL)" in ko
    assert any(t.startswith("vision_encoder: Foreign-VL에서 파생된 가중치") or
               t.startswith("vision_encoder: Foreign-VL의 가중치와 동일") for t in ko)
    assert not [t for t in ko if "derived from" in t or "undeclared weights use" in t]
    reviewer = r.roster.reviewers[0]
    ctx = ReviewContext(rd, r.rules.round_id, "ko", r.rubrics["expert"], r.rubrics.get("benchmark"), r.team("ta"),
                        reviewer, rd / "evidence" / "ta", [], d)
    head = independence_panel(ctx).items[0].data
    assert "독자성 증거가 지적하는 사항" in head and "신고하지 않은 가중치 사용" in head and "derived from" not in head
