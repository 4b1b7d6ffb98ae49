"""Where the user part's inputs come from: the users' own signed sheets, or a ledgered bulk import.

The rules decide before anyone scores (``aggregation.user_source``, frozen):

- ``sheets`` (the default): each user evaluator's answers and pairwise votes are their accepted, signed
  user-rubric sheets (from the notebook or :func:`workbench.round.survey.sign_survey`); nothing else counts.
- ``import``: the coordinator imports the survey tool's CSV files with :func:`import_users`: the files are
  copied into ``users/imports/`` under their SHA-256 and a ``users_import`` ledger entry, signed by the
  coordinator, names each file's hash and size and the reason. Only the latest import counts, and only
  while its files still have those hashes. User sheets are then listed as not used.

Either way the result says which path the points came from (:class:`UserSource`), and the report shows it.

Public API: :class:`UserSource`, :class:`UserInputs`, :func:`import_users`, :func:`user_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.base import Model, require_safe_text
from ..core.errors import EvidenceError, RoundError
from ..core.files import atomic_write_bytes, read_bounded, sha256_bytes, sha256_file
from ..evidence.users import Survey, Votes, read_survey, read_votes, validate_survey, validate_votes
from ..model.round import Round, load_round, require_coordinator
from ..model.rubric import AnchoredScale
from ..model.sheet import ScoreSheet
from . import authority, ledger
from .lifecycle import check_frozen

__all__ = ["UserInputs", "UserSource", "import_users", "user_inputs"]

MAX_IMPORT_BYTES = 64 * 1024 * 1024
IMPORTS = "users/imports"


class UserSource(Model):
    """Which signed inputs the user points come from: ``sheets`` (how many, from how many users) or an
    ``import`` (its ledger entry, actor, reason and the files' hashes)."""

    kind: Literal["sheets", "import"]
    sheets: int = 0
    users: int = 0
    ledger_seq: int | None = None
    actor: str | None = None
    reason: str | None = None
    files: dict[str, str] = {}


@dataclass(frozen=True)
class UserInputs:
    """The user part's validated inputs: survey answers, votes (None without any) and their source."""

    survey: Survey
    votes: Votes | None
    source: UserSource


def _items(r: Round) -> tuple[list[str], list[int]]:
    crits = [c for _, c in r.rubrics["user"].criteria() if isinstance(c.scale, AnchoredScale)]
    return [c.id for c in crits], sorted({lv.value for c in crits for lv in c.scale.levels})  # type: ignore[union-attr]


def import_users(round_dir: str | Path, key: Ed25519PrivateKey, actor: str, survey: str | Path,
                 votes: str | Path | None = None, *, reason: str) -> ledger.Entry:
    """Import the survey tool's ``survey`` CSV (and ``votes``) as a coordinator-signed, ledgered act.

    Refused unless the frozen rules say ``aggregation.user_source: import``, without a reason, or when a
    file does not validate against the round (users in the roster, teams in ``teams.yaml``, the user
    rubric's items and levels). The files are copied into ``users/imports/<sha256>.<name>`` (never
    overwritten) and the entry records their hashes.
    """
    if not reason.strip():
        raise RoundError("an import needs a reason", expected="--reason 'where the files come from'")
    require_safe_text(reason, "--reason")
    r = load_round(round_dir)
    check_frozen(r)
    require_coordinator(r, actor, key)
    if r.rules.aggregation.user_source != "import":
        raise RoundError("the rules take user points from the users' signed sheets", file=r.path / "rules.yaml",
                         place="aggregation.user_source", expected="'import' (frozen before scoring) to import a CSV")
    items, levels = _items(r)
    _check(r, read_survey(survey, items=items, levels=levels), read_votes(votes) if votes is not None else None)
    files: dict[str, Any] = {}
    for kind, src in (("survey", survey), ("votes", votes)):
        if src is None:
            continue
        data = read_bounded(src, MAX_IMPORT_BYTES)
        digest = sha256_bytes(data)
        rel = f"{IMPORTS}/{digest}.{kind}.csv"
        if not (r.path / rel).is_file():
            atomic_write_bytes(r.path / rel, data, overwrite=False)
        files[kind] = {"path": rel, "sha256": digest, "bytes": len(data)}
    return ledger.append(r.ledger_path, actor=actor, key=key, type="users_import",
                         payload_sha256=files["survey"]["sha256"], data={"files": files, "reason": reason.strip()})


def _known(frame: pd.DataFrame, column: str, allowed: set[str], source: str, expected: str) -> None:
    bad = ~frame[column].isin(sorted(allowed))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise EvidenceError(f"{column.split('_')[0]} '{frame[column].iloc[i]}'", file=source,
                            line=int(frame["line"].iloc[i]) or None, place=column, expected=expected)


def _check(r: Round, survey: Survey, votes: Votes | None) -> None:
    users = {e.id for e in r.roster.reviewers if e.role == "user"}
    teams = {t.id for t in r.teams.teams}
    _known(survey.frame, "user_id", users, survey.source, "a user in the roster")
    _known(survey.frame, "team", teams, survey.source, "a team in teams.yaml")
    if votes is not None:
        _known(votes.frame, "user_id", users, votes.source, "a user in the roster")
        _known(votes.frame, "model_a", teams, votes.source, "a team in teams.yaml")
        _known(votes.frame, "model_b", teams, votes.source, "a team in teams.yaml")


def _from_import(r: Round) -> UserInputs:
    # only a coordinator's import counts: one signed by anyone else is an authority finding, not an input
    imports = authority.replay(r.path).of_type("users_import")
    if not imports:
        raise RoundError("no user survey was imported", file=r.ledger_path, place="aggregation.user_source: import",
                         expected="'workbench users import ROUND --survey FILE --key KEY --reason ...' first")
    last = imports[-1]
    files = last.data.get("files", {})
    for kind, f in sorted(files.items()):
        p = r.path / str(f.get("path", ""))
        now = sha256_file(p) if p.is_file() else None
        if now != f.get("sha256"):
            raise RoundError(f"the imported {kind} file {'is missing' if now is None else 'was replaced'} since ledger "
                             f"entry {last.seq}", file=p, expected=f"sha256 {str(f.get('sha256'))[:16]}")
    items, levels = _items(r)
    survey = read_survey(r.path / files["survey"]["path"], items=items, levels=levels)
    votes = read_votes(r.path / files["votes"]["path"]) if "votes" in files else None
    _check(r, survey, votes)
    return UserInputs(survey, votes, UserSource(kind="import", ledger_seq=last.seq, actor=last.actor,
                                                reason=last.data.get("reason", ""),
                                                files={k: f["sha256"] for k, f in sorted(files.items())}))


def _from_sheets(r: Round, sheets: Mapping[tuple[str, str], ScoreSheet]) -> UserInputs:
    items, levels = _items(r)
    mine = sorted((k, s) for k, s in sheets.items() if s.reviewer.role == "user")
    # the sheets were verified at collection (and again now); lines are 0: the place is the sheet, not a file line
    answers = pd.DataFrame([{"user_id": u, "team": t, "item": i, "value": str(j.level), "comment": j.comment, "line": 0}
                            for (u, t), s in mine for i, j in s.judgments.items() if i in items],
                           columns=["user_id", "team", "item", "value", "comment", "line"])
    cast = pd.DataFrame([{"user_id": u, "prompt_id": v.prompt_id, "model_a": t, "model_b": v.opponent,
                          "winner": v.winner, "line": 0} for (u, t), s in mine for v in s.votes],
                        columns=["user_id", "prompt_id", "model_a", "model_b", "winner", "line"])
    survey = validate_survey(answers, items=items, levels=levels, source="sheets/<user>/")
    votes = validate_votes(cast, source="sheets/<user>/") if len(cast) else None
    return UserInputs(survey, votes, UserSource(kind="sheets", sheets=len(mine), users=len({u for (u, _), _ in mine})))


def user_inputs(r: Round, sheets: Mapping[tuple[str, str], ScoreSheet]) -> UserInputs:
    """The user part's inputs by the rules' ``aggregation.user_source``; ``sheets`` are the accepted ones."""
    return _from_import(r) if r.rules.aggregation.user_source == "import" else _from_sheets(r, sheets)
