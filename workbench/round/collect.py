"""Collecting sheets: verify every submitted sheet version and record the decision in the ledger.

A sheet ``sheets/<reviewer>/<team>.v<N>.dsse.json`` is accepted only when all of these hold: the reviewer is
in the roster; the envelope verifies with that reviewer's roster key (never a key from the envelope); the
sheet names the same reviewer, team and round; it was made with the frozen rubric of the reviewer's role
and its totals follow from its judgments; the reviewer is assigned to the team; and the reviewer declared
no conflict of interest (nor with the opponent of any pairwise vote a user's sheet carries); and its version chain holds: the payload names the version its file name carries,
and every version after the first names the SHA-256 of the previous version's file, which must still be there.
Otherwise it is rejected with the first failing reason, and ``check`` names the failing check for programs
(the audit): ``sheet.name``, ``sheet.signature``, ``sheet.format``, ``sheet.chain``, ``sheet.identity``,
``sheet.rubric``, ``sheet.totals``, ``sheet.assignment``, ``sheet.coi``, ``sheet.votes``.

Which version counts (:func:`choose_versions`): the highest accepted one per (reviewer, team), unless a later
version, validly signed by the reviewer, declares a conflict of interest: that withdraws the earlier versions,
and the pair has no sheet.

:func:`collect` appends a ``submit`` and a ``collect`` entry for every sheet version it sees for the
first time (so running it twice records nothing new). A file that changes after it was recorded is
rejected as replaced. :func:`accepted_sheets` gives aggregation the highest accepted version per
(reviewer, team), re-verified, and refuses sheets that were never collected.

Sheets reach ``sheets/`` either directly (``workbench batch``, ``workbench users sign``) or through a
reviewer's outbox (``outbox/<reviewer>/``, a hub deployment), which :func:`collect` empties into ``sheets/``
first (:func:`pick_up`, nbgrader's collect step).

Public API: :class:`CollectResult`, :func:`check_sheet`, :func:`collect`, :func:`accepted_sheets`,
:func:`choose_versions`, :func:`pick_up`.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, Field

from ..core.base import require_safe_text
from ..core.errors import RoundError, WorkbenchError
from ..core.files import atomic_write_bytes, canonical_json, parse_json, read_bounded, sha256_bytes
from ..core.signing import MAX_ENVELOPE_BYTES, SHEET_TYPE, envelope_payload, verify_envelope
from ..core.versions import CURRENT
from ..model.round import RUBRIC_OF, Round, load_round, require_coordinator
from ..model.sheet import (
    ScoreSheet,
    parse_sheet,
    parse_sheet_filename,
    sheet_bytes,
    sheet_filename,
    validate_sheet,
)
from . import authority, ledger
from .lifecycle import check_frozen

__all__ = ["CollectResult", "SheetDecision", "accepted_sheets", "check_sheet", "choose_versions", "collect",
           "payload_sha256", "pick_up", "set_aside"]

T = TypeVar("T")
log = logging.getLogger(__name__)



class SheetDecision(BaseModel):
    """A sheet version and what was decided about it (as the report lists the sheets it does not use)."""

    path: str
    reviewer: str
    team: str
    version: int
    sha256: str
    decision: Literal["accepted", "rejected"]
    reason: str = ""
    total: float | None = None


class CollectResult(SheetDecision):
    """The decision on one sheet version, with the failing check's id for programs and whether it is new."""

    check: str = Field("", exclude=True)  # for programs; not part of dumps (reports, ledger)
    new: bool = True


def _sheet_files(r: Round) -> list[Path]:
    return sorted((r.path / "sheets").glob("*/*.dsse.json"))


def check_sheet(r: Round, path: Path, signature_only: bool = False) -> tuple[CollectResult, ScoreSheet | None]:
    """Verify one sheet file against the roster, the frozen rubric and the assignments (no ledger writes).

    ``signature_only`` stops after the name, roster, signature, format and version-chain checks (for audits
    at scale).
    """
    rel = path.relative_to(r.path).as_posix()
    reviewer = path.parent.name
    m = parse_sheet_filename(path.name)
    data = read_bounded(path, MAX_ENVELOPE_BYTES)
    base = {"path": rel, "reviewer": reviewer, "team": m[0] if m else "", "version": m[1] if m else 0,
            "sha256": sha256_bytes(data)}

    def reject(reason: str, check: str) -> tuple[CollectResult, None]:
        return CollectResult(**base, decision="rejected", reason=reason, check=check), None

    if m is None:
        return reject("file name is not <team>.v<N>.dsse.json", "sheet.name")
    entry = r.roster.get(reviewer)
    if entry is None or entry.role == "coordinator":  # no roster key to verify with
        return reject(f"'{reviewer}' is not an expert or user in the roster", "sheet.signature")
    try:
        payload = verify_envelope(data, entry.key(), SHEET_TYPE, rel)
    except WorkbenchError as e:
        return reject(e.message, "sheet.signature")
    try:
        sheet = parse_sheet(payload, rel)
    except WorkbenchError as e:
        return reject(e.message, "sheet.format")
    # a sheet of an earlier release was upgraded on read: its own bytes must be the canonical form of its JSON
    made = sheet_bytes(sheet) if sheet.read_from == CURRENT["scoresheet"] else canonical_json(parse_json(payload, rel))
    if made != payload:
        # equal sheets are equal bytes: a payload with other spacing, key order or number forms is not one we made
        return reject("payload is not the sheet's canonical JSON (RFC 8785)", "sheet.format")
    if sheet.reviewer.id != reviewer or sheet.team_id != m[0]:
        return reject(f"sheet is for {sheet.reviewer.id} x {sheet.team_id}, but filed as {reviewer} x {m[0]}",
                      "sheet.identity")
    if sheet.version != m[1]:
        # an old version copied under a new number: the payload still names its own version
        return reject(f"sheet was signed as version {sheet.version} but filed as v{m[1]}", "sheet.chain")
    if (m[1] == 1) != (sheet.supersedes is None):
        return reject("version 1 names no predecessor and every later version names one", "sheet.chain")
    if sheet.supersedes is not None:
        prev = path.with_name(sheet_filename(m[0], m[1] - 1))
        prev_sha = sha256_bytes(read_bounded(prev, MAX_ENVELOPE_BYTES)) if prev.is_file() else None
        if prev_sha != sheet.supersedes:
            return reject(f"v{m[1]} replaces a v{m[1] - 1} with sha256 {sheet.supersedes[:12]}, but "
                          + (f"{prev.name} is missing" if prev_sha is None else f"{prev.name} has {prev_sha[:12]}"),
                          "sheet.chain")
    if sheet.coi.has_conflict:  # decides which versions count, so even a signature-only check needs it
        return reject(f"reviewer declared a conflict of interest: {sheet.coi.statement.strip()[:200]}", "sheet.coi")
    if signature_only:
        return CollectResult(**base, decision="accepted", total=sheet.totals.total), sheet
    for name, want in (("reviewer_id", reviewer), ("team_id", m[0]), ("role", entry.role)):
        # the audit re-runs the notebook with these parameters: they must be the sheet's own identity
        if name in sheet.parameters and sheet.parameters[name] != want:
            return reject(f"parameter {name}={sheet.parameters[name]!r} is not the sheet's {want!r}", "sheet.identity")
    if sheet.round_id != r.rules.round_id:
        return reject(f"sheet is for round '{sheet.round_id}', not '{r.rules.round_id}'", "sheet.identity")
    if sheet.reviewer.role != entry.role:
        return reject(f"sheet role '{sheet.reviewer.role}' but the roster says '{entry.role}'", "sheet.identity")
    try:
        validate_sheet(sheet, r.rubrics[RUBRIC_OF[entry.role]], rel)
    except WorkbenchError as e:
        return reject(f"{e.place + ': ' if e.place else ''}{e.message}", "sheet.rubric" if e.place == "rubric" else "sheet.totals")
    problem = r.eligibility(reviewer, sheet.team_id, entry.role)
    if problem is not None:
        return reject(problem.message, "sheet.coi" if problem.reason == "coi" else "sheet.assignment")
    for v in sheet.votes:
        # a vote judges the opponent too: the user must be allowed to score it (assigned, no conflict)
        problem = r.eligibility(reviewer, v.opponent, entry.role)
        if problem is not None:
            return reject(f"vote on prompt {v.prompt_id} against {v.opponent}: {problem.message}", "sheet.votes")
    return CollectResult(**base, decision="accepted", total=sheet.totals.total), sheet


def _recorded(r: Round, entries: list[ledger.Entry] | None = None) -> authority.Authority:
    """The ledger replayed (:func:`workbench.round.authority.replay`): its ``decisions`` (path -> {envelope sha256 ->
    the collect entry that decided it}) count only collect entries a coordinator had the authority to sign,
    the first decision on a file stands, and malformed entries are findings, logged here."""
    auth = authority.replay(r.path, entries)
    for f in auth.findings:
        log.warning("%s", authority.finding_line(f))
    return auth


# A reviewer's outbox is theirs to fill: bound what one collection takes from it (legitimate sheets are a few
# per team; the rest waits for the next collection) and how many entries it even looks at.
MAX_PICKUP_PER_REVIEWER = 20
MAX_OUTBOX_ENTRIES = 500
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def pick_up(r: Round) -> tuple[list[Path], list[str]]:
    """Copy the signed sheets reviewers dropped in their outboxes (``outbox/<reviewer>/``, the exchange a
    hub deployment gives each reviewer, :mod:`workbench.hub`) into ``sheets/<reviewer>/``; return the copies
    made and the notes for the coordinator: at most one per outbox, however much junk it holds.

    Taken: regular files named as a sheet version of a round team, enveloped and signed with the reviewer's
    roster key, at most :data:`MAX_PICKUP_PER_REVIEWER` per outbox and collection. Links, other files, and
    anything over the bound are counted in the outbox's note. Every file is opened with ``O_NOFOLLOW`` in a
    folder opened the same way (no check-then-open race). A file already collected is never replaced: one
    that differs from its collected copy is noted, and the copy stands. After publication the outboxes
    belong to the auditors: nothing is picked up (one note).
    """
    copied: list[Path] = []
    notes: list[str] = []
    if (r.path / "report" / "report.dsse.json").exists():
        return copied, ["the round is published: outboxes are not picked up any more (they are the auditors' now)"]
    try:
        names = sorted(os.listdir(r.path / "outbox"))
    except FileNotFoundError:
        return copied, notes
    except PermissionError:
        return copied, ["outbox/: cannot be read (permission denied): run collect as the round's coordinator"]
    for name in names:
        if r.roster.get(name) is None:
            notes.append(f"outbox/{name}: not a reviewer's outbox, not taken")
            continue
        taken, note = _pick_up_outbox(r, name)
        copied += taken
        if note:
            notes.append(note)
    return copied, notes


def _pick_up_outbox(r: Round, reviewer: str) -> tuple[list[Path], str]:
    """One reviewer's outbox (see :func:`pick_up`): the copies made and one note ("" when all was taken)."""
    rel_box = f"outbox/{reviewer}"
    try:
        dfd = os.open(r.path / "outbox" / reviewer, _DIR_FLAGS)
    except OSError as e:
        what = "a link or not a folder" if e.errno in (errno.ELOOP, errno.ENOTDIR) else e.strerror
        return [], f"{rel_box}: not taken ({what})"
    skipped: dict[str, int] = {}
    examples: list[str] = []
    copied: list[Path] = []

    def skip(why: str, entry: str) -> None:
        skipped[why] = skipped.get(why, 0) + 1
        if len(examples) < 3:
            examples.append(entry)

    try:
        names = sorted(os.listdir(dfd))
        if len(names) > MAX_OUTBOX_ENTRIES:
            skipped[f"beyond the first {MAX_OUTBOX_ENTRIES} entries"] = len(names) - MAX_OUTBOX_ENTRIES
            names = names[:MAX_OUTBOX_ENTRIES]
        for n in names:
            why, data = _outbox_file(r, reviewer, dfd, n)
            if why:
                skip(why, n)
                continue
            assert data is not None
            dest = r.path / "sheets" / reviewer / n
            if dest.exists():
                if read_bounded(dest, MAX_ENVELOPE_BYTES) != data:
                    skip(f"differ from their collected copy in sheets/{reviewer}/, which stands", n)
                continue
            if len(copied) >= MAX_PICKUP_PER_REVIEWER:
                skip(f"over the {MAX_PICKUP_PER_REVIEWER} taken per collection (collect again)", n)
                continue
            copied.append(atomic_write_bytes(dest, data, mode=0o640, overwrite=False))
    finally:
        os.close(dfd)
    if not skipped:
        return copied, ""
    detail = "; ".join(f"{k} {why}" for why, k in skipped.items())
    return copied, f"{rel_box}: {sum(skipped.values())} file(s) not taken: {detail} (e.g. {', '.join(examples)})"


def _outbox_file(r: Round, reviewer: str, dfd: int, name: str) -> tuple[str, bytes | None]:
    """Why ``name`` in an outbox folder (``dfd``) is not taken, or ``("", its bytes)``; never follows a link."""
    m = parse_sheet_filename(name)
    if m is None or m[0] not in {t.id for t in r.teams.teams}:
        return "not named <team>.v<N>.dsse.json for a team of the round", None
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
    except OSError as e:
        return ("link(s), never followed" if e.errno == errno.ELOOP else f"unreadable ({e.strerror})"), None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return "not regular file(s)", None
        data = fh.read(MAX_ENVELOPE_BYTES + 1)
    if len(data) > MAX_ENVELOPE_BYTES:
        return f"over {MAX_ENVELOPE_BYTES} bytes", None
    entry = r.roster.get(reviewer)
    try:
        if entry is None:
            raise RoundError(f"'{reviewer}' is not in the roster")
        verify_envelope(data, entry.key(), SHEET_TYPE, f"outbox/{reviewer}/{name}")
    except WorkbenchError:
        return f"not signed with {reviewer}'s roster key", None
    return "", data


def payload_sha256(envelope: bytes) -> str:
    """What a sheet entry's ``payload_sha256`` names (:mod:`workbench.round.ledger`): the SHA-256 of the envelope's
    payload; for a file that is no envelope (a rejected one), of the file itself (it is its own content)."""
    try:
        return sha256_bytes(envelope_payload(envelope))
    except WorkbenchError:
        return sha256_bytes(envelope)


def collect(round_dir: str | Path, key: Ed25519PrivateKey, actor: str) -> list[CollectResult]:
    """Pick up the outboxes (:func:`pick_up`), check every sheet file; record new ones (submit + decision) in
    the ledger; return all decisions.

    What is recorded is read under the ledger's lock, held until the last entry is written, so two
    collections at once record each sheet once; each submit is written together with its decision.
    """
    r = load_round(round_dir)
    check_frozen(r)
    require_coordinator(r, actor, key)
    out: list[CollectResult] = []
    with ledger.locked(r.ledger_path) as book:
        _copied, notes = pick_up(r)
        for note in notes:
            log.warning("%s", note)
        seen = _recorded(r, book.entries).decisions
        for f in _sheet_files(r):
            res, _ = check_sheet(r, f)
            earlier = seen.get(res.path, {})
            if res.sha256 in earlier:
                e = earlier[res.sha256]
                out.append(res.model_copy(update={"decision": e.data["decision"], "reason": e.data.get("reason", ""),
                                                  "new": False}))
                continue
            if earlier:
                res = res.model_copy(update={"decision": "rejected", "total": None,
                                             "reason": "file was replaced after it was collected (versions are never overwritten)"})
            facts = {"path": res.path, "reviewer": res.reviewer, "team": res.team, "version": res.version,
                     "envelope_sha256": res.sha256}
            payload_sha = payload_sha256(read_bounded(f, MAX_ENVELOPE_BYTES))
            book.append({"type": "submit", "payload_sha256": payload_sha, "data": facts},
                        {"type": "collect", "payload_sha256": payload_sha,
                         "data": {**facts, "decision": res.decision, "reason": res.reason}}, actor=actor, key=key)
            out.append(res)
    return out


def set_aside(round_dir: str | Path, key: Ed25519PrivateKey, actor: str, path: str, reason: str,
              kind: Literal["withdraw", "exclude"]) -> ledger.Entry:
    """Take a collected sheet (``path``, relative to the round) out of the results in the open: ``withdraw``
    by its own reviewer, ``exclude`` by a coordinator with a reason. The entry names the sheet's file and hash;
    the report lists it at the top and the audit names it. Nothing else can reverse an accepted sheet."""
    if kind == "exclude" and not reason.strip():
        raise RoundError("an exclusion needs a reason", expected="--reason 'why the sheet does not count'")
    require_safe_text(reason, "--reason")
    r = load_round(round_dir)
    check_frozen(r)
    m = parse_sheet_filename(Path(path).name)
    parts = Path(path).parts
    if m is None or len(parts) != 3 or parts[0] != "sheets":
        raise RoundError(f"'{path}' is not a sheet file of the round", expected="sheets/<reviewer>/<team>.v<N>.dsse.json")
    with ledger.locked(r.ledger_path) as book:
        auth = authority.replay(r.path, book.entries)
        authority.require(auth, kind, actor, key, file=r.path / "roster.yaml", reviewer=parts[1])
        f = r.path / path
        sha = sha256_bytes(read_bounded(f, MAX_ENVELOPE_BYTES)) if f.is_file() else None
        if sha is None or sha not in auth.decisions.get(path, {}):
            raise RoundError(f"{path} was never collected (or changed since)", file=f, expected="a collected sheet file")
        data = {"path": path, "reviewer": parts[1], "team": m[0], "version": m[1], "envelope_sha256": sha,
                "reason": reason.strip()}
        return book.append({"type": kind, "payload_sha256": payload_sha256(read_bounded(f, MAX_ENVELOPE_BYTES)),
                            "data": data}, actor=actor, key=key)[0]


def choose_versions(
    accepted: Iterable[tuple[tuple[str, str], int, T]],
    withdrawals: Iterable[tuple[tuple[str, str], int]] = (),
) -> tuple[dict[tuple[str, str], tuple[int, T]], list[tuple[T, int, bool]]]:
    """The one rule for which sheet counts, per (reviewer, team): the highest accepted version, unless a
    later, validly signed version declares a conflict of interest: that withdraws every earlier version.

    Takes ``(key, version, item)`` for every accepted version and ``(key, version)`` for every withdrawing
    one; returns ``key -> (version, item)`` for the versions that count and ``(item, later version,
    withdrawn)`` for every accepted version that does not.
    """
    latest_withdrawal: dict[tuple[str, str], int] = {}
    for key, version in withdrawals:
        latest_withdrawal[key] = max(version, latest_withdrawal.get(key, 0))
    by_key: dict[tuple[str, str], list[tuple[int, T]]] = {}
    for key, version, item in accepted:
        by_key.setdefault(key, []).append((version, item))
    best: dict[tuple[str, str], tuple[int, T]] = {}
    dropped: list[tuple[T, int, bool]] = []
    for key, versions in sorted(by_key.items()):
        versions.sort(key=lambda v: v[0])
        w = latest_withdrawal.get(key, 0)
        if versions[-1][0] < w:
            dropped += [(item, w, True) for _, item in versions]
            continue
        best[key] = versions[-1]
        dropped += [(item, versions[-1][0], False) for _, item in versions[:-1]]
    return best, dropped


def accepted_sheets(r: Round) -> tuple[dict[tuple[str, str], ScoreSheet], list[CollectResult]]:
    """The highest accepted version per (reviewer, team), re-verified now, and the sheets not used (with why).

    Raises :class:`RoundError` when a sheet file was never collected.
    """
    auth = _recorded(r)
    seen, set_aside = auth.decisions, auth.excluded()
    accepted: list[tuple[tuple[str, str], int, tuple[ScoreSheet, CollectResult]]] = []
    withdrawals: list[tuple[tuple[str, str], int]] = []
    unused: list[CollectResult] = []
    uncollected = []
    for f in _sheet_files(r):
        res, sheet = check_sheet(r, f)
        entry = seen.get(res.path, {}).get(res.sha256)
        gone = set_aside.get(res.path)
        if entry is None:
            uncollected.append(res.path)
        elif gone is not None:
            # taken out after the fact, by its own reviewer or a coordinator with a reason: listed, never silent
            who = f"its reviewer {gone.actor}" if gone.kind == "withdrawn" else f"coordinator {gone.actor}"
            unused.append(res.model_copy(update={"decision": "rejected", "total": None,
                                                 "reason": f"{gone.kind} by {who} (ledger entry {gone.seq}): {gone.reason}"}))
        elif entry.data["decision"] != "accepted" or sheet is None:
            # rejected at collection, or no longer valid (e.g. an amendment replaced the rubric)
            reason = res.reason if sheet is None else entry.data.get("reason", "")
            unused.append(res.model_copy(update={"decision": "rejected", "reason": reason}))
            if res.check == "sheet.coi":
                withdrawals.append(((res.reviewer, res.team), res.version))
        else:
            accepted.append(((res.reviewer, res.team), res.version, (sheet, res)))
    chosen, dropped = choose_versions(accepted, withdrawals)
    best = {k: sheet for k, (_, (sheet, _res)) in chosen.items()}
    unused += [res.model_copy(update={"reason": f"withdrawn by v{v}, which declares a conflict of interest" if withdrawn
                                      else f"superseded by v{v}"})
               for (_, res), v, withdrawn in dropped]
    if uncollected:
        raise RoundError(f"{len(uncollected)} sheet file(s) not collected yet, e.g. {uncollected[0]}", file=r.path,
                         expected="'workbench collect' first")
    return best, unused
