"""Is a round ready to freeze? Every check of what freezing would sign, each problem as data.

:func:`freeze` and :func:`amend` refuse a round while :func:`check_round` finds problems, and list all of
them (not the first): a coordinator fixes a typo once, not once per attempt. Each problem names the file,
its line when known, the place and what was expected (``file:line: place: what, expected what``).

- :func:`check_rules`: the rules against the roster and the assignments (a panel that can never reach
  ``min_reviewers``, a ``trim`` that leaves nothing to trim, a ``cut`` above the number of teams).
- :func:`check_declarations`: every team's declared targets and individual benchmarks against the round's
  benchmark scheme, and the coverage of every computed criterion.

Public API: :func:`check_round`, :func:`check_rules`, :func:`check_declarations`, :func:`require_ready`.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

from ..core.errors import Problem, WorkbenchError
from ..core.files import line_for, load_yaml
from ..evidence.dossier import REFERENCES_FILE, load_references
from ..model.round import MAX_ROUND_FILE, PANEL_ROLES, Round, all_problems
from ..model.rubric import ComputedScale

__all__ = ["check_declarations", "check_keys", "check_round", "check_rules", "require_ready"]


def check_rules(r: Round) -> list[Problem]:
    """Problems of the rules against the roster and assignments: rules that cannot work as written.

    - every team's expert panel (assigned experts) must reach ``aggregation.min_reviewers``, or the team
      can only ever be "incomplete";
    - with ``trimmed_mean``, the smallest panel must be larger than ``2 x trim``, or nothing is trimmed
      under a report header that says it is;
    - ``cut`` may not exceed the number of teams (ranks that cannot exist).
    """
    rules = r.path / "rules.yaml"
    lines = load_yaml(rules)[1]

    def problem(loc: tuple, message: str, expected: str) -> Problem:
        return Problem(message=message, file="rules.yaml", line=line_for(lines, loc), place=".".join(map(str, loc)),
                       expected=expected)

    out: list[Problem] = []
    agg = r.rules.aggregation
    experts = {e.id for e in r.roster.reviewers if e.role in PANEL_ROLES}
    panel = Counter(a.team for a in r.assignments.assignments if a.reviewer in experts)
    sizes = {t.id: panel.get(t.id, 0) for t in r.teams.teams}
    if r.rules.uses("expert") and sizes:
        short = sorted(t for t, n in sizes.items() if n < agg.min_reviewers)
        if short:
            out.append(problem(("aggregation", "min_reviewers"),
                               f"min_reviewers is {agg.min_reviewers}, but " + ", ".join(f"{t} has {sizes[t]}" for t in short)
                               + " assigned expert(s)", f"at most {min(sizes.values())} (the smallest panel), or more "
                               "experts assigned in assignments.yaml"))
        smallest = min(sizes.values())
        if agg.expert == "trimmed_mean" and agg.trim > 0 and smallest <= 2 * agg.trim:
            out.append(problem(("aggregation", "trim"),
                               f"trim {agg.trim} drops {2 * agg.trim} of {smallest} expert(s) in the smallest panel, "
                               "so nothing would be trimmed", f"trim at most {max(0, (smallest - 1) // 2)}, "
                               "aggregation.expert 'mean' or 'median', or larger panels"))
    if r.rules.cut > len(r.teams.teams):
        out.append(problem(("cut",), f"cut {r.rules.cut} is more than the {len(r.teams.teams)} team(s) in teams.yaml",
                           f"a cut of at most {len(r.teams.teams)}"))
    return out


def check_declarations(r: Round) -> list[Problem]:
    """Problems of the teams' declarations (``teams.yaml``) against the round's benchmark scheme.

    Every ``targets`` key is a benchmark id of the round's scheme (``rubrics/benchmarks.yaml``) and its value
    is on the metric's own scale; every individual benchmark is a catalogue id (a team's own benchmark is
    added to the round's catalogue first), the two different; every benchmark of each set a computed
    criterion uses has a target (``achievement_ratio``) or a frontier score in ``references.yaml``
    (``frontier_ratio``). Files are named relative to the round folder, with the line of the key.
    """
    computed = _computed_sets(r)
    if not computed and not r.teams.teams:
        return []
    _, lines = load_yaml(r.path / "teams.yaml", MAX_ROUND_FILE)
    scheme = r.scheme
    known = scheme.by_id()
    catalogue = [s.id for s in scheme.catalogue]
    problems: list[Problem] = []

    def at(loc: tuple, message: str, expected: str) -> None:
        problems.append(Problem(message=message, file="teams.yaml", line=line_for(lines, loc),
                                place=".".join(map(str, loc)), expected=expected))

    for cid, _, set_name in computed:
        if set_name not in _SETS:
            problems.append(Problem(message=f"{cid}: unknown benchmark set '{set_name}'",
                                    file=r.rules.rubrics["benchmark"].file, place=f"{cid}.scale.params.set",
                                    expected="nia, common or individual"))
    for i, t in enumerate(r.teams.teams):
        for k, v in t.targets.items():
            spec = known.get(k)
            if spec is None:
                near = difflib.get_close_matches(k, known, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                at(("teams", i, "targets", k), f"team {t.id}: unknown benchmark '{k}'{hint}",
                   "a benchmark id of the round's scheme (rubrics/benchmarks.yaml): " + ", ".join(known))
            elif (why := spec.check_value(v, "target")) is not None or v <= 0:
                at(("teams", i, "targets", k), f"team {t.id}: {why or f'target {v} is not above 0'}",
                   "a score > 0 on the metric's own scale (a fraction for accuracies)")
        individual = [b for b in t.individual_benchmarks if b in catalogue]
        for j, b in enumerate(t.individual_benchmarks):
            if b not in catalogue:
                twice = " (a NIA or common benchmark: it would count twice)" if b in known else ""
                at(("teams", i, "individual_benchmarks", j),
                   f"team {t.id}: individual benchmark '{b}' is not in the catalogue{twice}",
                   "a catalogue id of rubrics/benchmarks.yaml (add a team's own benchmark there): "
                   + ", ".join(catalogue))
        if len(set(t.individual_benchmarks)) != len(t.individual_benchmarks):
            at(("teams", i, "individual_benchmarks"), f"team {t.id}: the two individual benchmarks are the same",
               "two different catalogue benchmarks")
        for cid, formula, set_name in computed:
            if formula != "achievement_ratio" or set_name not in _SETS:
                continue
            members = individual if set_name == "individual" else [s.id for s in getattr(scheme, set_name)]
            lacking = [b for b in members if b not in t.targets]
            if lacking:
                at(("teams", i, "targets"), f"team {t.id}: no target for {', '.join(lacking)} ({cid}, set {set_name})",
                   f"a target-model score for every benchmark of the set: {', '.join(members)}")
    problems += _frontier_coverage(r, computed)
    return problems


_SETS = ("nia", "common", "individual")


def _computed_sets(r: Round) -> list[tuple[str, str, str]]:
    """(criterion id, formula, set) of every computed criterion of the benchmark rubric."""
    rubric = r.rubrics.get("benchmark")
    if rubric is None:
        return []
    return [(c.id, c.scale.formula, str(c.scale.params.get("set")))
            for _, c in rubric.criteria() if isinstance(c.scale, ComputedScale)]


def _frontier_coverage(r: Round, computed: list[tuple[str, str, str]]) -> list[Problem]:
    """A ``frontier_ratio`` criterion needs a frontier score in ``references.yaml`` for every benchmark of its set."""
    wanted = [(cid, s) for cid, formula, s in computed if formula == "frontier_ratio" and s in _SETS]
    if not wanted:
        return []
    try:
        refs = load_references(r.path)
    except WorkbenchError as e:
        return [e.problem().model_copy(update={"file": REFERENCES_FILE})]
    if refs is None or refs.frontier is None:
        return [Problem(message=f"{', '.join(c for c, _ in wanted)}: formula frontier_ratio without frontier scores",
                        file=REFERENCES_FILE, place="frontier",
                        expected="frontier: {model, scores: {benchmark id: score}} covering the set")]
    _, lines = load_yaml(r.path / REFERENCES_FILE)
    known = r.scheme.by_id()
    out = [Problem(message=f"frontier score for unknown benchmark '{k}'", file=REFERENCES_FILE,
                   line=line_for(lines, ("frontier", "scores", k)), place=f"frontier.scores.{k}",
                   expected="a benchmark id of the round's scheme (rubrics/benchmarks.yaml)")
           for k in refs.frontier.scores if k not in known]
    for cid, set_name in wanted:
        if set_name == "individual":
            members = list(dict.fromkeys(b for t in r.teams.teams for b in t.individual_benchmarks if b in known))
        else:
            members = [s.id for s in getattr(r.scheme, set_name)]
        lacking = [b for b in members if b not in refs.frontier.scores]
        if lacking:
            out.append(Problem(message=f"{cid}: no frontier score for {', '.join(lacking)} (set {set_name})",
                               file=REFERENCES_FILE, line=line_for(lines, ("frontier", "scores")),
                               place="frontier.scores",
                               expected=f"a score for every benchmark of the set: {', '.join(members)}"))
    return out


def check_keys(r: Round) -> list[Problem]:
    """Roster members without a ``public_key`` (allowed until the freeze, which needs every key)."""
    lines = load_yaml(r.path / "roster.yaml", MAX_ROUND_FILE)[1]
    return [Problem(message=f"'{e.id}' has no public key", file="roster.yaml",
                    line=line_for(lines, ("reviewers", i)), place=f"reviewers.{i}.public_key",
                    expected="their public key (PEM): 'workbench hub accounts' writes the key made in their home")
            for i, e in enumerate(r.roster.reviewers) if e.public_key is None]


def check_round(r: Round) -> list[Problem]:
    """Every problem that keeps the round from being frozen, in file order."""
    return [*check_rules(r), *check_keys(r), *check_declarations(r)]


def require_ready(r: Round, what: str = "freeze", earlier: Sequence[object] = ()) -> None:
    """Raise :class:`RoundError` listing every problem of :func:`check_round`, after the ``earlier`` ones (the
    round's cross-file problems), all in one pass (``what``: the refused act)."""
    problems = [*earlier, *check_round(r)]
    if problems:
        raise all_problems(problems, what=what, file=r.path)
