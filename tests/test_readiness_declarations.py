"""Freeze checks the teams' declarations against the round's benchmark scheme (readiness.check_declarations)."""

from __future__ import annotations

import pytest
import yaml
from coord_helpers import coord_key, make_round, write_yaml

from workbench.core.errors import RoundError
from workbench.model.round import load_round
from workbench.round.ledger import read_entries
from workbench.round.lifecycle import amend, freeze
from workbench.round.readiness import check_declarations


def _teams(rd):
    return yaml.safe_load((rd / "teams.yaml").read_text())


def test_valid_declarations_have_no_problem(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    assert check_declarations(load_round(rd)) == []


def test_a_typo_in_a_target_key_is_named_with_its_line_and_refuses_freeze(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    teams = _teams(rd)
    t = teams["teams"][1]
    t["targets"] = {("mmlu-pro" if k == "mmlu_pro" else k): v for k, v in t["targets"].items()}
    write_yaml(rd / "teams.yaml", teams)
    line = next(i for i, x in enumerate((rd / "teams.yaml").read_text().splitlines(), 1) if "mmlu-pro:" in x)
    problems = check_declarations(load_round(rd))
    # the unknown key, and the benchmark of the common set it left without a target
    assert [str(p) for p in problems] == [
        f"teams.yaml:{line}: teams.1.targets.mmlu-pro: team tb: unknown benchmark 'mmlu-pro' (did you mean mmlu_pro?), "
        "expected a benchmark id of the round's scheme (rubrics/benchmarks.yaml): " + ", ".join(load_round(rd).scheme.by_id()),
        f"teams.yaml:{problems[1].line}: teams.1.targets: team tb: no target for mmlu_pro (bench.common, set common), "
        "expected a target-model score for every benchmark of the set: " + ", ".join(s.id for s in load_round(rd).scheme.common),
    ]
    with pytest.raises(RoundError) as e:
        freeze(rd, coord_key(tmp_path), "coord")
    assert "cannot freeze until these 2 problem(s) are fixed" in str(e.value) and "teams.1.targets.mmlu-pro" in str(e.value)
    assert not (rd / "ledger.jsonl").exists() or read_entries(rd / "ledger.jsonl") == []


def test_individual_benchmarks_must_be_catalogue_ids_and_targets_on_the_metrics_scale(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    teams = _teams(rd)
    ta = teams["teams"][0]
    ta["individual_benchmarks"] = ["ko_doc", "gsm8k"]
    ta["targets"]["kmmlu"] = 60.0  # a percentage where the metric is a fraction
    write_yaml(rd / "teams.yaml", teams)
    problems = check_declarations(load_round(rd))
    by_place = {p.place: p for p in problems}
    assert set(by_place) == {"teams.0.targets.kmmlu", "teams.0.individual_benchmarks.0", "teams.0.individual_benchmarks.1"}
    assert "target 60.0 outside the range [0.0, 1.0] of kmmlu" in by_place["teams.0.targets.kmmlu"].message
    ko = by_place["teams.0.individual_benchmarks.0"]
    assert ko.message == "team ta: individual benchmark 'ko_doc' is not in the catalogue"
    assert ko.expected.startswith("a catalogue id of rubrics/benchmarks.yaml (add a team's own benchmark there): textvqa")
    assert "individual_specs" not in ko.expected
    assert "would count twice" in by_place["teams.0.individual_benchmarks.1"].message
    assert all(p.line for p in problems) and all(p.file == "teams.yaml" for p in problems)


def test_a_teams_own_benchmark_added_to_the_rounds_catalogue_passes(tmp_path):
    from workbench.model.scheme import load_benchmark_sets
    rd = make_round(tmp_path, do_freeze=False)
    f = rd / "rubrics" / "benchmarks.yaml"
    f.write_text(f.read_text() + '  - {id: ko_doc, name_ko: 한국어 문서, name_en: Korean documents, task: ko_doc, '
                 'metric: "acc,none"}\n')
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["benchmarks"]["sha256"] = load_benchmark_sets(f).sha256
    write_yaml(rd / "rules.yaml", rules)
    teams = _teams(rd)
    teams["teams"][0]["individual_benchmarks"] = ["textvqa", "ko_doc"]
    teams["teams"][0]["targets"]["ko_doc"] = 0.7
    write_yaml(rd / "teams.yaml", teams)
    assert check_declarations(load_round(rd)) == []


def test_a_frontier_ratio_criterion_needs_frontier_scores_for_its_set(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    p = rd / "rubrics" / "benchmark.yaml"
    p.write_text(p.read_text().replace("formula: achievement_ratio\n      params:\n        set: nia",
                                       "formula: frontier_ratio\n      params:\n        set: nia"))
    from workbench.model.rubric import load_rubric
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["rubrics"]["benchmark"]["sha256"] = load_rubric(p).sha256
    write_yaml(rd / "rules.yaml", rules)
    [problem] = check_declarations(load_round(rd))
    assert str(problem) == ("references/references.yaml: frontier: bench.nia: formula frontier_ratio without frontier "
                            "scores, expected frontier: {model, scores: {benchmark id: score}} covering the set")
    (rd / "references").mkdir()
    (rd / "references" / "references.yaml").write_text(
        "frontier:\n  model: Frontier-2026\n  scores:\n    kobest: 0.9\n    haerae: 0.8\n    kobestt: 0.5\n")
    problems = [str(p) for p in check_declarations(load_round(rd))]
    assert problems == [
        "references/references.yaml:6: frontier.scores.kobestt: frontier score for unknown benchmark 'kobestt', "
        "expected a benchmark id of the round's scheme (rubrics/benchmarks.yaml)",
        "references/references.yaml:3: frontier.scores: bench.nia: no frontier score for click, kornat, k2_eval "
        "(set nia), expected a score for every benchmark of the set: kobest, haerae, click, kornat, k2_eval"]


def test_amend_refuses_a_declaration_problem_too(tmp_path):
    rd = make_round(tmp_path)
    teams = _teams(rd)
    del teams["teams"][0]["targets"]["toxigen"]
    write_yaml(rd / "teams.yaml", teams)
    with pytest.raises(RoundError, match=r"cannot amend until these 1 problem\(s\) are fixed:\n  teams.yaml:\d+: teams.0.targets: team ta: "
                                         r"no target for toxigen"):
        amend(rd, coord_key(tmp_path), "coord", "drop a target")


def test_freeze_names_every_problem_in_one_pass(tmp_path, capsys):
    """Issue 27, item 2: freeze stopped on the first conflict-of-interest assignment and listed the other
    problems only on the next try. Now the round files' cross-checks and the readiness checks come together."""
    import yaml
    from coord_helpers import make_round

    from workbench.cli.app import main

    rd = make_round(tmp_path, experts=("e1", "e2", "e3"), teams=("ta", "tb"), do_freeze=False,
                    coi={"e1": ["ta"], "e2": ["tb"]}, cut=2)
    asg = yaml.safe_load((rd / "assignments.yaml").read_text())
    asg["assignments"] += [{"reviewer": "e1", "team": "ta"}, {"reviewer": "e2", "team": "tb"},
                           {"reviewer": "e3", "team": "ta"}]  # two conflicts and one duplicate
    (rd / "assignments.yaml").write_text(yaml.safe_dump(asg))
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["indices"]["frontier"].append("no.such.criterion")
    rules["cut"] = 5  # more places than teams: a readiness problem
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))
    code = main(["round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "e1 declared a conflict of interest with ta" in err and "e2 declared a conflict of interest with tb" in err
    assert "e3 x ta assigned twice" in err and "unknown criterion 'no.such.criterion'" in err
    assert "cut" in err and "cannot freeze until these 5 problem(s) are fixed" in err, err
    assert not (rd / "ledger.jsonl").exists() or not (rd / "ledger.jsonl").read_text().strip()
