"""Enrolling the panel: people into ``roster.yaml`` by command, one at a time or from a spreadsheet.

A coordinator used to paste PEM keys into ``roster.yaml`` by hand for 10 experts and 49 users. Here a person is
a row (id, role, name, declared conflicts) and a key: a public-key file the person sent (``<keys>/<id>.pub``,
made with ``workbench keys new`` on their own machine), or a key pair generated for them into a folder the
coordinator hands out. Every problem of a spreadsheet is reported at once, by file, row and column; nothing is
written unless all rows are good. The roster is rewritten atomically. After freeze this edits the working copy
only: the change counts once ``workbench round amend`` records it.

Public API: :class:`Member`, :func:`read_panel_file`, :func:`add_members`, :data:`PANEL_COLUMNS`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pydantic
import yaml

from ..core.base import ID_PATTERN, Model
from ..core.errors import InputFileError, RoundError, ValidationError, WorkbenchError
from ..core.files import atomic_write_text, decode_text, load_yaml, read_bounded
from ..core.signing import generate_keypair, load_public_key, public_key_pem
from ..model.round import MAX_ROUND_FILE, Roster, RosterEntry

__all__ = ["PANEL_COLUMNS", "Member", "add_members", "read_panel_file"]

Role = Literal["expert", "committee", "user", "coordinator"]
# the spreadsheet's columns; ``coi`` lists team ids separated by ';' (or ','), ``public_key_file`` is optional
PANEL_COLUMNS = ("id", "role", "name", "coi", "public_key_file")
MAX_PANEL_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000


class Member(Model):
    """One person to enrol: the roster's fields, and where their public key comes from (if anywhere yet)."""

    id: str = pydantic.Field(pattern=ID_PATTERN)
    role: Role
    name: str = pydantic.Field(default="", max_length=200)
    coi: list[str] = pydantic.Field(default_factory=list)
    public_key_file: str | None = None


def _split_coi(text: str) -> list[str]:
    return [t.strip() for t in text.replace(",", ";").split(";") if t.strip()]


def _rows_from_csv(data: bytes, name: str) -> list[tuple[int, dict[str, str]]]:
    text = decode_text(data, name).lstrip("\ufeff")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    reader = csv.DictReader(io.StringIO(text))
    return [(reader.line_num, {k: (v or "") for k, v in row.items() if k is not None})
            for row in reader if any((v or "").strip() for v in row.values() if isinstance(v, str))]


def _rows_from_xlsx(path: Path) -> list[tuple[int, dict[str, str]]]:
    import openpyxl  # only for spreadsheets

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # a zip or XML error inside the file: one line, not the parser's traceback
        raise InputFileError(f"not a readable XLSX workbook ({type(e).__name__}: {e})", file=path,
                             expected="an .xlsx file saved by a spreadsheet program") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        out = []
        for n, values in enumerate(rows, start=2):
            if n > MAX_ROWS + 1:
                raise InputFileError(f"more than {MAX_ROWS} rows", file=path, expected="one row per person")
            cells = {h: "" if v is None else str(v).strip() for h, v in zip(header, values, strict=False) if h}
            if any(cells.values()):
                out.append((n, cells))
        return out
    finally:
        book.close()


def read_panel_file(path: str | Path) -> list[Member]:
    """The people of a panel spreadsheet (``.csv`` or ``.xlsx``; columns :data:`PANEL_COLUMNS`, ``id`` and
    ``role`` required), validated. Every bad row is reported at once (:class:`ValidationError` listing
    ``file:row: column: problem``); a ``public_key_file`` is relative to the spreadsheet's folder."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx":
        read_bounded(p, MAX_PANEL_BYTES)  # size and file type first
        rows = _rows_from_xlsx(p)
    elif p.suffix.lower() == ".csv":
        rows = _rows_from_csv(read_bounded(p, MAX_PANEL_BYTES), str(p))
    else:
        raise InputFileError(f"unknown spreadsheet type '{p.suffix}'", file=p, expected="a .csv or .xlsx file")
    if not rows:
        raise InputFileError("no people in the file", file=p, expected=f"a header row ({', '.join(PANEL_COLUMNS)}) "
                                                                      "and one row per person")
    header = set(rows[0][1])
    missing = [c for c in ("id", "role") if c not in header]
    unknown = sorted(header - set(PANEL_COLUMNS) - {""})
    if missing or unknown:
        raise InputFileError(f"columns: {'missing ' + ', '.join(missing) if missing else ''}"
                             f"{'; ' if missing and unknown else ''}{'unknown ' + ', '.join(unknown) if unknown else ''}",
                             file=p, line=1, expected=f"the columns {', '.join(PANEL_COLUMNS)} (id and role required)")
    members, problems = [], []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            m = Member(id=row.get("id", "").strip(), role=row.get("role", "").strip().lower(),  # type: ignore[arg-type]
                       name=row.get("name", "").strip(), coi=_split_coi(row.get("coi", "")),
                       public_key_file=row.get("public_key_file", "").strip() or None)
        except pydantic.ValidationError as e:
            for err in e.errors():
                col = ".".join(str(x) for x in err["loc"]) or "row"
                problems.append(InputFileError(err["msg"], file=p, line=line, place=f"column {col}",
                                               expected=_EXPECTED.get(col.split(".")[0])))
            continue
        first = seen.get(m.id.lower())
        if first is not None:
            problems.append(InputFileError(f"id '{m.id}' again (first on row {first}; ids differ in more than case)",
                                           file=p, line=line, place="column id", expected="one row per person"))
            continue
        seen[m.id.lower()] = line
        if m.public_key_file:
            m = m.model_copy(update={"public_key_file": str(p.parent / m.public_key_file)})
        members.append(m)
    if problems:
        raise ValidationError(f"{len(problems)} problem(s) in {p}:\n" + "\n".join(f"  {e}" for e in problems),
                              problems=problems)
    return members


_EXPECTED = {"id": "letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)",
             "role": "expert, committee, user or coordinator", "name": "at most 200 characters"}


def _key_pem(m: Member, keys_dir: Path | None, generate: bool) -> str:
    """The member's public key: their file, ``<keys_dir>/<id>.pub``, or a pair generated there."""
    if m.public_key_file:
        return public_key_pem(load_public_key(m.public_key_file))
    if keys_dir is not None:
        pub = keys_dir / f"{m.id}.pub"
        if pub.is_file():
            return public_key_pem(load_public_key(pub))
        if generate:
            return public_key_pem(load_public_key(generate_keypair(m.id, keys_dir)[1]))
    raise RoundError(f"no public key for {m.id}", place=m.id,
                     expected=f"{keys_dir / (m.id + '.pub') if keys_dir else '<folder>/' + m.id + '.pub'} (the file "
                              "'workbench keys new' made for them), or --generate-keys DIR")


def add_members(round_dir: str | Path, members: Sequence[Member], *, keys_dir: str | Path | None = None,
                generate: bool = False) -> list[RosterEntry]:
    """Add ``members`` to the round's ``roster.yaml`` with their public keys; return the new entries.

    Refused as a whole, with every problem listed, when an id is already in the roster (ids are compared without
    case: ``Team-A`` and ``team-a`` are one person), a conflict names a team that ``teams.yaml`` does not list, or
    a key cannot be found. With ``generate``, a missing key pair is made in ``keys_dir`` (mode 0600 private key)
    for the coordinator to hand to its owner."""
    rd = Path(round_dir)
    roster_path = rd / "roster.yaml"
    data, _ = load_yaml(roster_path, MAX_ROUND_FILE)
    if not isinstance(data, dict) or not isinstance(data.get("reviewers"), list):
        raise RoundError("not a roster", file=roster_path, expected="reviewers: [ ... ] (made by 'workbench round init')")
    present = {str(r.get("id", "")).lower(): r.get("id") for r in data["reviewers"] if isinstance(r, dict)}
    teams_data = load_yaml(rd / "teams.yaml", MAX_ROUND_FILE)[0] if (rd / "teams.yaml").is_file() else {}
    teams = {str(t.get("id")) for t in (teams_data or {}).get("teams", []) if isinstance(t, dict)}
    keys = Path(keys_dir) if keys_dir is not None else None
    problems: list[WorkbenchError] = []
    for m in members:
        if m.id.lower() in present:
            problems.append(RoundError(f"{m.id} is in the roster already (as {present[m.id.lower()]})",
                                       file=roster_path, place=m.id, expected="a new id"))
        for t in m.coi:
            if teams and t not in teams:
                problems.append(RoundError(f"{m.id} declares a conflict with '{t}', which teams.yaml does not list",
                                           file=rd / "teams.yaml", place=m.id, expected="a team id of the round"))
    if problems:
        raise ValidationError(f"{len(problems)} problem(s); the roster is unchanged:\n"
                              + "\n".join(f"  {e}" for e in problems), problems=problems)
    entries = []
    for m in members:
        try:
            pem = _key_pem(m, keys, generate)
        except WorkbenchError as e:
            problems.append(e)
            continue
        entries.append(RosterEntry(id=m.id, role=m.role, name=m.name, public_key=pem, coi=m.coi))
    if problems:
        raise ValidationError(f"{len(problems)} problem(s); the roster is unchanged:\n"
                              + "\n".join(f"  {e}" for e in problems), problems=problems)
    data["reviewers"] += [e.model_dump(exclude_defaults=False) for e in entries]
    Roster.model_validate(data)  # the whole roster still holds (a coordinator, unique ids)
    atomic_write_text(roster_path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110))
    return entries
