"""Submitting a score sheet: sign it and write the next version, never replacing an earlier one.

Versions are ``<sheets>/<reviewer>/<team>.v<N>.dsse.json`` with N = 1, 2, ...; the write is atomic and uses
``overwrite=False`` (a hard link), so two submissions racing for the same N cannot both win: the loser
takes N + 1. Each version is signed with its own number and the SHA-256 of the previous version's file
(``supersedes``), so the versions of one reviewer and team form a chain that a copied or removed file breaks.
The ledger is not written here; ``workbench collect`` records every version it finds.

Signing without a person (from an answers file) happens only in unattended mode, which only
``workbench batch`` (and the audit's re-run, through the same machinery) turns on: it hands the one kernel
that runs a notebook a one-use token (:func:`issue_token`), which :func:`unattended_for` consumes. Setting
:data:`UNATTENDED_ENV` by hand signs nothing.

Public API: :data:`UNATTENDED_ENV`, :func:`issue_token`, :func:`unattended_for`, :func:`sheet_versions`,
:func:`sheet_path`, :func:`submit_sheet`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.errors import InputFileError, SignatureError, WorkbenchError
from ..core.files import atomic_write_bytes, read_bounded, sha256_bytes
from ..core.signing import MAX_ENVELOPE_BYTES, SHEET_TYPE, envelope_bytes, key_id, sign_payload
from ..model.sheet import ScoreSheet, parse_sheet_filename, sheet_bytes, sheet_filename

__all__ = ["UNATTENDED_ENV", "issue_token", "sheet_path", "sheet_versions", "submit_sheet", "unattended_for"]

MAX_RACE_RETRIES = 100

# Set by `workbench batch` (and the audit's re-run, which uses its machinery) in the environment of the kernel
# it starts, to "<reviewer>/<team>:<secret>:<token file>" of that one notebook (issue_token). It is not a
# notebook parameter on purpose: papermill writes parameters into the notebook it saves, and re-running that
# notebook by hand (JupyterLab, nbconvert, papermill) must show the form to a person, never sign by itself.
UNATTENDED_ENV = "WORKBENCH_UNATTENDED"
MAX_TOKEN_BYTES = 4096


def _token_text(task: str, secret: str) -> bytes:
    # the file holds the secret's hash: reading the file does not give the value the kernel must be handed
    return f"{task}\n{hashlib.sha256(secret.encode()).hexdigest()}\n".encode()


def issue_token(folder: str | Path, reviewer_id: str, team_id: str) -> tuple[str, Path]:
    """A one-use unattended token for one notebook: a new file (mode 0600, created exclusively) in ``folder``
    holding the task and the hash of a random secret, and the :data:`UNATTENDED_ENV` value naming both, which
    the batch sets in that notebook's kernel only. :func:`unattended_for` consumes it (removes the file); the
    batch removes a token its notebook did not use."""
    task, secret = f"{reviewer_id}/{team_id}", secrets.token_hex(32)
    path = Path(folder) / f".{team_id}.unattended-{secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, _token_text(task, secret))
    finally:
        os.close(fd)
    return f"{task}:{secret}:{path.resolve()}", path


def unattended_for(reviewer_id: str, team_id: str) -> bool:
    """Whether this process runs ``reviewer_id``'s notebook on ``team_id`` for a batch (no person present).

    True only with the batch's token for this very notebook, which this consumes (one use; the variable is
    removed from this process too). A value naming another notebook, or no valid token, is an error rather
    than a silent no: the variable leaked out of a batch, or was set by hand.
    """
    value = os.environ.get(UNATTENDED_ENV, "")
    if not value:
        return False
    task, _, rest = value.partition(":")
    secret, _, token = rest.partition(":")
    if task != f"{reviewer_id}/{team_id}":
        raise WorkbenchError(f"{UNATTENDED_ENV} is '{task}' but this notebook is {reviewer_id}/{team_id}",
                             place=UNATTENDED_ENV, expected="unset (only workbench batch sets it, for the notebook it runs)")
    refused = WorkbenchError(f"{UNATTENDED_ENV} is set but names no unused batch token: a sheet is signed without "
                             "a person only by 'workbench batch' (or read back by 'workbench audit --rerun')",
                             place=UNATTENDED_ENV, expected="unset: open the notebook and click Sign and submit")
    if not secret or not token:
        raise refused
    try:
        fd = os.open(token, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        raise refused from None
    try:
        st = os.fstat(fd)
        # the batch made it for this process's user, readable by no one else
        ok = stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
        ok = ok and os.read(fd, MAX_TOKEN_BYTES) == _token_text(task, secret)
    finally:
        os.close(fd)
    if not ok:
        raise refused
    Path(token).unlink()  # consumed: the same value signs nothing again
    os.environ.pop(UNATTENDED_ENV, None)
    return True


def sheet_path(sheets_dir: str | Path, reviewer_id: str, team_id: str, version: int) -> Path:
    """The file of one sheet version."""
    return Path(sheets_dir) / reviewer_id / sheet_filename(team_id, version)


def sheet_versions(sheets_dir: str | Path, reviewer_id: str, team_id: str) -> list[int]:
    """Versions already written for this reviewer and team, ascending."""
    d = Path(sheets_dir) / reviewer_id
    if not d.is_dir():
        return []
    return sorted(m[1] for p in d.iterdir() if (m := parse_sheet_filename(p.name)) and m[0] == team_id)


def submit_sheet(sheet: ScoreSheet, key: Ed25519PrivateKey, sheets_dir: str | Path) -> tuple[int, Path]:
    """Sign ``sheet`` with ``key`` and write it as the next version; return (version, path).

    The key must be the one the sheet names (``reviewer.key_id``), so a sheet is never signed by someone else.
    """
    kid = key_id(key.public_key())
    if sheet.reviewer.key_id and sheet.reviewer.key_id != kid:
        raise SignatureError(
            f"the key file is key {kid[:16]}, but the roster names {sheet.reviewer.key_id[:16]} for {sheet.reviewer.id}",
            place="reviewer.key_id", expected="the reviewer's own private key",
        )
    existing = sheet_versions(sheets_dir, sheet.reviewer.id, sheet.team_id)
    version = (existing[-1] if existing else 0) + 1
    for _ in range(MAX_RACE_RETRIES):
        previous = sheet_path(sheets_dir, sheet.reviewer.id, sheet.team_id, version - 1) if version > 1 else None
        if previous is not None and not previous.is_file():
            raise WorkbenchError(f"version {version - 1} is missing, so version {version} cannot name it", file=previous,
                                 expected="every earlier version kept (versions are never removed)")
        bound = sheet.model_copy(update={"version": version,
                                         "supersedes": sha256_bytes(read_bounded(previous, MAX_ENVELOPE_BYTES)) if previous else None})
        data = envelope_bytes(sign_payload(sheet_bytes(bound), SHEET_TYPE, key))
        path = sheet_path(sheets_dir, sheet.reviewer.id, sheet.team_id, version)
        try:
            atomic_write_bytes(path, data, mode=0o644, overwrite=False)
            return version, path
        except InputFileError:
            if not path.exists():
                raise
            version += 1  # another submission took this number first
    raise WorkbenchError("could not find a free sheet version", file=Path(sheets_dir) / sheet.reviewer.id)
