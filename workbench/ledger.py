"""The round's ledger: an append-only, hash-chained, signed JSON Lines file (``ledger.jsonl``).

Every line is one entry::

    {"seq", "prev", "time", "actor", "key_id", "type", "data", "payload_sha256", "sig"}

``prev`` is the SHA-256 of the previous entry's canonical JSON (RFC 8785, signature included; 64 zeros for
the first), so editing, removing or reordering any line breaks every later link. ``sig`` is the actor's
Ed25519 signature over the DSSE pre-authentication encoding of the entry without ``sig`` (payload type
:data:`~workbench.signing.LEDGER_TYPE`), so an entry cannot be forged without the actor's key.
``payload_sha256`` names the artifact the entry is about (frozen rules, a sheet envelope, the report);
``data`` holds the small facts a reader needs (reason, reviewer, team, decision).

Appends take an exclusive lock (``ledger.jsonl.lock``) and replace the file atomically, so parallel
writers never interleave and a crash never leaves half a line.

Public API: :class:`Entry`, :data:`ENTRY_TYPES`, :data:`GENESIS`, :func:`append`, :func:`read_entries`,
:func:`verify_chain`, :func:`entry_hash`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from .base import Hex64, Model, from_pydantic, utc_now
from .errors import InputFileError, RoundError
from .files import atomic_write_bytes, canonical_json, file_lock, parse_json, read_bounded, sha256_bytes
from .signing import LEDGER_TYPE, key_id, pae

__all__ = ["ENTRY_TYPES", "GENESIS", "Entry", "append", "entry_hash", "read_entries", "verify_chain"]

GENESIS = "0" * 64
ENTRY_TYPES = ("freeze", "amend", "submit", "collect", "report")
MAX_LEDGER_BYTES = 64 * 1024 * 1024


class Entry(Model):
    """One ledger line."""

    seq: Annotated[int, Field(ge=1)]
    prev: Hex64
    time: str
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    key_id: Hex64
    type: Literal["freeze", "amend", "submit", "collect", "report"]
    data: dict[str, Any] = Field(default_factory=dict)
    payload_sha256: Hex64
    sig: str = ""

    def unsigned(self) -> dict[str, Any]:
        """The entry's JSON without the signature (what is signed)."""
        d = self.model_dump(mode="json")
        d.pop("sig")
        return d


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


def _check_links(entries: list[Entry], name: str) -> None:
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        if e.seq != i:
            raise RoundError(f"entry has sequence {e.seq}", file=name, line=i, expected=f"sequence {i} (lines removed or reordered?)")
        if e.prev != prev:
            raise RoundError("hash chain broken: prev does not match the previous entry", file=name, line=i,
                             expected=f"prev {prev[:16]}... (an earlier line was edited)")
        prev = entry_hash(e)


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
    p = Path(path)
    with file_lock(p.with_name(p.name + ".lock")):
        old = read_bounded(p, MAX_LEDGER_BYTES) if p.exists() else b""
        entries = _parse_lines(old, str(p))
        _check_links(entries, str(p))
        try:
            entry = Entry(
                seq=len(entries) + 1,
                prev=entry_hash(entries[-1]) if entries else GENESIS,
                time=time or utc_now(),
                actor=actor,
                key_id=key_id(key.public_key()),
                type=type,  # type: ignore[arg-type]
                data=dict(data or {}),
                payload_sha256=payload_sha256,
            )
        except pydantic.ValidationError as e:
            raise from_pydantic(e, RoundError, file=p, what="invalid ledger entry") from None
        sig = key.sign(pae(LEDGER_TYPE, canonical_json(entry.unsigned())))
        entry = entry.model_copy(update={"sig": base64.b64encode(sig).decode()})
        if old and not old.endswith(b"\n"):
            old += b"\n"
        atomic_write_bytes(p, old + canonical_json(entry.model_dump(mode="json")) + b"\n")
    return entry


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
