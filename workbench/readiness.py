"""Is a round ready to freeze? Every check of what freezing would sign, each problem as data.

:func:`freeze` and :func:`amend` refuse a round while :func:`check_round` finds problems, and list all of
them (not the first): a coordinator fixes a typo once, not once per attempt. Each problem names the file,
its line when known, the place and what was expected (``file:line: place: what, expected what``).

- :func:`check_rules`: the rules against the roster and the assignments (a panel that can never reach
  ``min_reviewers``, a ``trim`` that leaves nobody, a ``cut`` that advances every team).
- :func:`check_declarations`: every team's declared targets and individual benchmarks against the round's
  benchmark scheme, and the coverage of every computed criterion.

Public API: :func:`check_round`, :func:`check_rules`, :func:`check_declarations`, :func:`require_ready`.
"""

from __future__ import annotations

from collections import Counter

from .errors import Problem, RoundError
from .files import line_for, load_yaml
from .round import PANEL_ROLES, Round

__all__ = ["check_declarations", "check_round", "check_rules", "require_ready"]


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
    if r.rules.points.get("expert", 0) > 0 and sizes:
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
    """Problems of the teams' declarations (``teams.yaml``) against the round's benchmark scheme."""
    return []


def check_round(r: Round) -> list[Problem]:
    """Every problem that keeps the round from being frozen, in file order."""
    return [*check_rules(r), *check_declarations(r)]


def require_ready(r: Round, what: str = "freeze") -> None:
    """Raise :class:`RoundError` listing every problem of :func:`check_round` (``what``: the refused act)."""
    problems = check_round(r)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise RoundError(f"cannot {what} until these {len(problems)} problem(s) are fixed:\n{lines}", file=r.path)
