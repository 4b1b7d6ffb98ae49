"""A user evaluator signs their own survey answers and pairwise votes: one user-rubric sheet per team.

The 49 AI-professional users of a stage answer a survey (one level per item of the user rubric, per team)
and vote blind on pairs of answers. Many do it in a survey tool, not in the review notebook; this module
turns *their own* export into the same signed sheets the notebook would write, so that the user part of the
result rests on inputs each user signed (never on an unsigned CSV in the round folder):

- answers: ``user_id, team, item, value[, comment]`` (the survey CSV; only the signing user's rows are used,
  and there must be some); every item of the user rubric must be answered for a team, and a level at an
  extreme needs a comment, exactly as in the notebook;
- votes (optional): ``user_id, prompt_id, model_a, model_b, winner``; each vote is filed in the sheet of
  ``model_a`` (see :class:`workbench.model.sheet.Vote`), so it is signed once.

Sheets go through :func:`workbench.round.submit.submit_sheet` (next version, chained, never overwritten), and
``workbench collect`` verifies them like every other sheet, including that the user may score every team
they voted on. A re-signed export whose answers did not change writes no new version.

Public API: :func:`survey_sheets`, :func:`sign_survey`.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.errors import RoundError, SheetError, WorkbenchError
from ..core.files import read_bounded, sha256_file
from ..core.signing import MAX_ENVELOPE_BYTES, SHEET_TYPE, key_id, verify_envelope
from ..evidence.users import Survey, Votes, read_survey, read_votes
from ..model.round import Round, load_round
from ..model.rubric import AnchoredScale
from ..model.sheet import COI, Judgment, Reviewer, ScoreSheet, Vote, build_sheet, parse_sheet
from .submit import sheet_path, sheet_versions, submit_sheet

__all__ = ["sign_survey", "survey_sheets"]


def _user(r: Round, user_id: str) -> None:
    entry = r.roster.get(user_id)
    if entry is None or entry.role != "user":
        raise RoundError(f"'{user_id}' is not a user evaluator in the roster", file=r.path / "roster.yaml",
                         place="reviewers", expected=f"an entry with id: {user_id} and role: user")


def survey_sheets(r: Round, user_id: str, survey: Survey, votes: Votes | None, *, key: str = "",
                  parameters: dict[str, str] | None = None, created_at: str | None = None) -> list[ScoreSheet]:
    """The unsigned sheets of ``user_id``'s rows in ``survey`` (and ``votes``), one per team, in team order.

    Errors name the file and line: a team the user may not score (not assigned, or a declared conflict),
    an unanswered item, a missing comment at an extreme level, a vote whose model A has no answers.
    """
    _user(r, user_id)
    rubric = r.rubrics["user"]
    items = [c.id for _, c in rubric.criteria() if isinstance(c.scale, AnchoredScale)]
    mine = survey.frame[survey.frame["user_id"] == user_id]
    if mine.empty:
        raise SheetError(f"no answers of {user_id}", file=survey.source, expected=f"rows with user_id {user_id}")
    by_team: dict[str, list[Vote]] = {}
    if votes is not None:
        for v in votes.frame[votes.frame["user_id"] == user_id].itertuples(index=False):
            if not (mine["team"] == v.model_a).any():
                raise SheetError(f"vote on prompt {v.prompt_id}: {user_id} gave no answers for {v.model_a}", file=votes.source,
                                 line=int(v.line), place="column model_a", expected="a team the user answered for")
            by_team.setdefault(v.model_a, []).append(
                Vote(prompt_id=v.prompt_id, opponent=v.model_b, winner="tie" if v.winner == "TIE" else v.winner))
    out = []
    for team, rows in mine.groupby("team", sort=True):
        first = int(rows["line"].iloc[0])
        problem = r.eligibility(user_id, str(team), "user")
        if problem is not None:
            raise SheetError(problem.message, file=survey.source, line=first, place="column team",
                             expected="a team the user is assigned to, without a conflict of interest")
        judgments = {}
        for row in rows.itertuples(index=False):
            if row.value != row.value:  # NaN: not answered
                raise SheetError(f"{user_id} did not answer {row.item} for {team}", file=survey.source, line=int(row.line),
                                 place="column value", expected="a level for every item of the user rubric")
            judgments[row.item] = Judgment(level=int(row.value), comment=str(row.comment or ""))
        try:
            sheet = build_sheet(rubric, round_id=r.rules.round_id, team_id=str(team),
                                reviewer=Reviewer(id=user_id, role="user", key_id=key), judgments=judgments,
                                coi=COI(has_conflict=False), votes=by_team.get(str(team), []),
                                parameters={"reviewer_id": user_id, "team_id": str(team), "role": "user",
                                            **(parameters or {})}, created_at=created_at)
        except SheetError as e:
            missing = [i for i in items if i not in judgments]
            raise SheetError(f"{user_id} x {team}: {e.message}", file=survey.source, line=first,
                             expected=f"answers for {', '.join(missing)}" if missing
                             else "a comment for every level at an extreme") from None
        out.append(sheet)
    return out


def _unchanged(sheets_dir: Path, sheet: ScoreSheet, key: Ed25519PrivateKey) -> bool:
    """Whether the latest version already holds these answers and votes (so signing again adds nothing)."""
    versions = sheet_versions(sheets_dir, sheet.reviewer.id, sheet.team_id)
    if not versions:
        return False
    f = sheet_path(sheets_dir, sheet.reviewer.id, sheet.team_id, versions[-1])
    try:
        last = parse_sheet(verify_envelope(read_bounded(f, MAX_ENVELOPE_BYTES), key.public_key(), SHEET_TYPE, str(f)))
    except WorkbenchError:
        return False
    return (last.judgments, last.votes, last.rubric) == (sheet.judgments, sheet.votes, sheet.rubric)


def sign_survey(round_dir: str | Path | Round, user_id: str, key: Ed25519PrivateKey, survey: str | Path,
                votes: str | Path | None = None) -> list[tuple[str, int, Path | None]]:
    """Sign ``user_id``'s answers (and votes) from the survey tool's export into ``sheets/<user>/``.

    ``round_dir`` is the round folder (or the :class:`~workbench.model.round.Round` loaded from it, to sign for
    many users without parsing the round again). The key must be the user's roster key. Returns
    ``(team, version, path)`` per team; version 0 and no path where the latest signed version already holds
    the same answers.
    """
    r = round_dir if isinstance(round_dir, Round) else load_round(round_dir)
    _user(r, user_id)
    entry = r.roster.get(user_id)
    kid = key_id(key.public_key())
    if entry is None or key_id(entry.key()) != kid:
        raise RoundError(f"the key given is not {user_id}'s roster key", file=r.path / "roster.yaml", place=user_id,
                         expected="the user's own private key")
    items = [c.id for _, c in r.rubrics["user"].criteria() if isinstance(c.scale, AnchoredScale)]
    levels = sorted({lv.value for _, c in r.rubrics["user"].criteria() if isinstance(c.scale, AnchoredScale)
                     for lv in c.scale.levels})
    answers = read_survey(survey, items=items, levels=levels)
    cast = read_votes(votes) if votes is not None else None
    params = {"survey_sha256": sha256_file(survey), **({"votes_sha256": sha256_file(votes)} if votes is not None else {})}
    out: list[tuple[str, int, Path | None]] = []
    for sheet in survey_sheets(r, user_id, answers, cast, key=kid, parameters=params):
        if _unchanged(r.path / "sheets", sheet, key):
            out.append((sheet.team_id, 0, None))
            continue
        version, path = submit_sheet(sheet, key, r.path / "sheets")
        out.append((sheet.team_id, version, path))
    return out
