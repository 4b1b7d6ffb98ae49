"""The round's ledger: an append-only, hash-chained, signed JSON Lines file (``ledger.jsonl``).

Every line is one entry::

    {"seq", "prev", "time", "actor", "key_id", "type", "data", "payload_sha256", "sig"}

``prev`` is the SHA-256 of the previous entry's canonical JSON (RFC 8785, signature included; 64 zeros for
the first), so editing, removing or reordering any line breaks every later link. ``sig`` is the actor's
Ed25519 signature over the DSSE pre-authentication encoding of the entry without ``sig`` (payload type
:data:`~workbench.core.signing.LEDGER_TYPE`), so an entry cannot be forged without the actor's key.
``payload_sha256`` is the SHA-256 of the *signed content* the entry is about, never of its container: the
DSSE payload of an envelope (the frozen rules state, a sheet, the report), the RFC 8785 JSON of a record the
entry itself signs (a rerun's data, acknowledged problems), the file itself when nobody signed it (a
users_import's survey export). Sheet entries (submit, collect, withdraw, exclude) also name the envelope
file's SHA-256 in ``data.envelope_sha256`` (what collect compares files by). Entries written before this
meaning was fixed have no ``data.envelope_sha256``, and their ``payload_sha256`` is the envelope file's hash:
:func:`envelope_sha256` reads both. ``data`` holds the small facts a reader needs (reason, reviewer, team,
decision).

Appends take an exclusive lock (``ledger.jsonl.lock``) and replace the file atomically, so parallel
writers never interleave and a crash never leaves half a line; :func:`locked` holds the lock while a writer
reads what is recorded and appends a group of entries at once (a full disk leaves the ledger as it was).

Public API: :class:`Entry`, :data:`ENTRY_TYPES`, :data:`GENESIS`, :func:`append`, :func:`locked`, :class:`Book`,
:func:`read_entries`,
:func:`verify_chain`, :func:`check_links`, :func:`signature_ok`, :func:`entry_hash`, :func:`envelope_sha256`. Who may sign which entry is
not this module's business: :mod:`workbench.round.authority` replays the ledger against the signed roster.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from ..core.base import Hex64, Model, from_pydantic, utc_now
from ..core.errors import InputFileError, RoundError
from ..core.files import atomic_write_bytes, canonical_json, file_lock, parse_json, read_bounded, sha256_bytes
from ..core.signing import LEDGER_TYPE, key_id, pae

__all__ = ["ENTRY_TYPES", "GENESIS", "Book", "Entry", "append", "check_links", "entry_hash", "envelope_sha256", "locked",
           "read_entries", "signature_ok", "verify_chain"]

LEDGER_MODE = 0o644

GENESIS = "0" * 64
# users_import: a coordinator-signed bulk import of user answers (workbench.round.userdata); acknowledge: a
# reasoned acceptance of evidence problems before a report is signed (workbench.publish.aggregate); rerun: notebooks
# re-run after their inputs changed (workbench.run.batch); withdraw: a reviewer takes back their own accepted
# sheet; exclude: a coordinator sets an accepted sheet aside, with a reason (workbench.round.authority)
ENTRY_TYPES = ("freeze", "amend", "submit", "collect", "report", "users_import", "acknowledge", "rerun", "withdraw",
               "exclude")
MAX_LEDGER_BYTES = 64 * 1024 * 1024


class Entry(Model):
    """One ledger line."""

    seq: Annotated[int, Field(ge=1)]
    prev: Hex64
    time: str
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    key_id: Hex64
    type: Literal["freeze", "amend", "submit", "collect", "report", "users_import", "acknowledge", "rerun", "withdraw",
                  "exclude"]
    data: dict[str, Any] = Field(default_factory=dict)
    payload_sha256: Hex64
    sig: str = ""

    def unsigned(self) -> dict[str, Any]:
        """The entry's JSON without the signature (what is signed)."""
        d = self.model_dump(mode="json")
        d.pop("sig")
        return d


def envelope_sha256(entry: Entry) -> str:
    """The SHA-256 of the envelope file a sheet entry (submit, collect, withdraw, exclude) is about:
    ``data.envelope_sha256`` on entries that carry it (``payload_sha256`` is then the sheet payload's hash),
    else ``payload_sha256`` (older entries, where it meant the file)."""
    v = entry.data.get("envelope_sha256")
    return v if isinstance(v, str) else entry.payload_sha256


def entry_hash(entry: Entry) -> str:
    """SHA-256 of the entry's canonical JSON, signature included (the next entry's ``prev``)."""
    return sha256_bytes(canonical_json(entry.model_dump(mode="json")))


def _parse_lines(data: bytes, name: str) -> list[Entry]:
    out: list[Entry] = []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        obj = parse_json(raw, f"{name}:{i}")
        try:
            out.append(Entry.model_validate(obj))
        except pydantic.ValidationError as e:
            raise from_pydantic(e, RoundError, file=name, lines={(): i}, what="malformed ledger entry") from None
    return out


def read_entries(path: str | Path) -> list[Entry]:
    """Every entry of the ledger in file order (an absent ledger is empty); structure only, no signatures."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        return _parse_lines(read_bounded(p, MAX_LEDGER_BYTES), str(p))
    except InputFileError as e:
        raise RoundError(f"malformed ledger: {e.message}", file=p) from None


def check_links(entries: list[Entry], name: str) -> None:
    """Raise :class:`RoundError` at the first entry whose sequence number or ``prev`` hash is not its place's."""
    _check_links(entries, name)


def signature_ok(entry: Entry, public_key: Ed25519PublicKey) -> bool:
    """Whether ``entry``'s signature verifies with ``public_key`` (its key id is checked by the caller)."""
    try:
        public_key.verify(base64.b64decode(entry.sig, validate=True), pae(LEDGER_TYPE, canonical_json(entry.unsigned())))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _check_links(entries: list[Entry], name: str) -> None:
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        if e.seq != i:
            raise RoundError(f"entry has sequence {e.seq}", file=name, line=i, expected=f"sequence {i} (lines removed or reordered?)")
        if e.prev != prev:
            raise RoundError("hash chain broken: prev does not match the previous entry", file=name, line=i,
                             expected=f"prev {prev[:16]}... (an earlier line was edited)")
        prev = entry_hash(e)


class Book:
    """The ledger while its lock is held (see :func:`locked`): the entries as read under the lock, and
    appends that see them. Each :meth:`append` rewrites the file atomically with every entry it is given,
    so a group of entries (a ``submit`` and its ``collect``) is written whole or not at all."""

    def __init__(self, path: Path, entries: list[Entry], raw: bytes) -> None:
        self.path = path
        self.entries = entries
        self._raw = raw if not raw or raw.endswith(b"\n") else raw + b"\n"

    def append(self, *specs: Mapping[str, Any], actor: str, key: Ed25519PrivateKey) -> list[Entry]:
        """Sign and append entries ``{type, payload_sha256, data?, time?}`` in one atomic write; return them."""
        new: list[Entry] = []
        for spec in specs:
            last = (new or self.entries or [None])[-1]
            try:
                entry = Entry(
                    seq=len(self.entries) + len(new) + 1,
                    prev=entry_hash(last) if last is not None else GENESIS,
                    time=spec.get("time") or utc_now(),
                    actor=actor,
                    key_id=key_id(key.public_key()),
                    type=spec["type"],
                    data=dict(spec.get("data") or {}),
                    payload_sha256=spec["payload_sha256"],
                )
            except pydantic.ValidationError as e:
                raise from_pydantic(e, RoundError, file=self.path, what="invalid ledger entry") from None
            sig = key.sign(pae(LEDGER_TYPE, canonical_json(entry.unsigned())))
            new.append(entry.model_copy(update={"sig": base64.b64encode(sig).decode()}))
        raw = self._raw + b"".join(canonical_json(e.model_dump(mode="json")) + b"\n" for e in new)
        # readable by everyone who may read the round (an auditor's account), as the first write left it
        atomic_write_bytes(self.path, raw, mode=LEDGER_MODE)
        self._raw, self.entries = raw, self.entries + new
        return new


@contextmanager
def locked(path: str | Path) -> Iterator[Book]:
    """Hold the ledger's lock for the block: read the entries (links checked) and append under one lock,
    so that two writers never decide on the same stale view."""
    p = Path(path)
    with file_lock(p.with_name(p.name + ".lock")):
        raw = read_bounded(p, MAX_LEDGER_BYTES) if p.exists() else b""
        entries = _parse_lines(raw, str(p))
        _check_links(entries, str(p))
        yield Book(p, entries, raw)


def append(
    path: str | Path,
    *,
    actor: str,
    key: Ed25519PrivateKey,
    type: str,
    payload_sha256: str,
    data: Mapping[str, Any] | None = None,
    time: str | None = None,
) -> Entry:
    """Append one signed entry after checking the existing chain's links; return it."""
    with locked(path) as book:
        return book.append({"type": type, "payload_sha256": payload_sha256, "data": data, "time": time},
                           actor=actor, key=key)[0]


def verify_chain(path: str | Path, keys: Mapping[str, Ed25519PublicKey]) -> list[Entry]:
    """Verify links and signatures; ``keys`` maps actor ids to their public keys (from the roster).

    Returns the entries; raises :class:`RoundError` naming the first bad line and why.
    """
    p = Path(path)
    entries = read_entries(p)
    _check_links(entries, str(p))
    for i, e in enumerate(entries, start=1):
        pub = keys.get(e.actor)
        if pub is None:
            raise RoundError(f"entry by unknown actor '{e.actor}'", file=p, line=i, expected="an actor in the roster")
        if key_id(pub) != e.key_id:
            raise RoundError(f"entry signed with key {e.key_id[:16]}, not {e.actor}'s roster key {key_id(pub)[:16]}",
                             file=p, line=i)
        try:
            pub.verify(base64.b64decode(e.sig, validate=True), pae(LEDGER_TYPE, canonical_json(e.unsigned())))
        except (InvalidSignature, binascii.Error, ValueError):
            raise RoundError("entry signature does not verify (entry modified)", file=p, line=i) from None
    return entries
