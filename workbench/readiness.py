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

from .errors import Problem, RoundError
from .round import Round

__all__ = ["check_declarations", "check_round", "check_rules", "require_ready"]


def check_rules(r: Round) -> list[Problem]:
    """Problems of the rules against the roster and assignments."""
    return []


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
        raise RoundError(f"cannot {what}: {len(problems)} problem(s):\n{lines}", file=r.path,
                         expected="every problem fixed in the round's files")
