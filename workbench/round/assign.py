"""Assignments generated from the roster and teams: who scores which team, never against a declared conflict.

Every expert (and committee member) scores every team they have no conflict with, as stage 1's panel of 10
did. Users are either all on every team, or ``users_per_team`` of them on each team, spread evenly: each team
in turn takes the users with the fewest assignments so far (ties by id), so no user carries more than one team
above another and the spread does not depend on the roster's order.

Public API: :func:`generate_assignments`, :func:`write_assignments`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from ..core.errors import RoundError
from ..core.files import atomic_write_text
from ..model.round import PANEL_ROLES, Assignment, Assignments, Roster, Teams, load_round_file

__all__ = ["generate_assignments", "write_assignments"]


def generate_assignments(roster: Roster, teams: Teams, users_per_team: int | None = None) -> Assignments:
    """Every eligible expert on every team; users on every team, or ``users_per_team`` on each, spread evenly.

    Raises :class:`RoundError` when a team cannot get ``users_per_team`` users without a conflict."""
    if users_per_team is not None and users_per_team < 1:
        raise RoundError(f"users per team is {users_per_team}", place="--users-per-team", expected="at least 1")
    out: list[Assignment] = []
    panel = sorted((r for r in roster.reviewers if r.role in PANEL_ROLES), key=lambda r: r.id)
    users = sorted((r for r in roster.reviewers if r.role == "user"), key=lambda r: r.id)
    load: Counter[str] = Counter()
    for t in teams.teams:
        out += [Assignment(reviewer=r.id, team=t.id) for r in panel if t.id not in r.coi]
        free = [u for u in users if t.id not in u.coi]
        if users_per_team is None:
            chosen = free
        else:
            if len(free) < users_per_team:
                raise RoundError(f"{t.id} can get only {len(free)} user(s) without a conflict", place=t.id,
                                 expected=f"at most {len(free)} users per team, or more users in the roster")
            chosen = sorted(free, key=lambda u: (load[u.id], u.id))[:users_per_team]
        for u in sorted(chosen, key=lambda u: u.id):
            load[u.id] += 1
            out.append(Assignment(reviewer=u.id, team=t.id))
    return Assignments(assignments=out)


def write_assignments(round_dir: str | Path, users_per_team: int | None = None) -> Assignments:
    """Generate the round's assignments from its ``roster.yaml`` and ``teams.yaml`` and write
    ``assignments.yaml`` (atomically). After freeze this is a working-copy edit that ``round amend`` records."""
    rd = Path(round_dir)
    roster = load_round_file(rd, "roster")
    teams = load_round_file(rd, "teams")
    asg = generate_assignments(roster, teams, users_per_team)  # type: ignore[arg-type]
    atomic_write_text(rd / "assignments.yaml", yaml.safe_dump(asg.model_dump(), allow_unicode=True, sort_keys=False))
    return asg
