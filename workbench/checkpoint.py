"""Ledger checkpoints: the ledger's size and head hash, signed by the coordinator and countersigned by
witnesses who keep a copy outside the round folder.

A ledger is a hash chain, so anyone holding the hash of entry ``n`` can later tell whether the ledger still
begins with those ``n`` entries: a truncated or rewritten history no longer has that head, whoever holds the
coordinator's key. A checkpoint is a small text file in the spirit of transparency-log checkpoints (C2SP
signed notes): a body of fixed lines, a blank line, then one signature line per signer::

    workbench.ledger.checkpoint/1
    round demo-2026-stage1
    size 57
    head 3f1c...e9 (hex SHA-256 of entry 57, as the next entry's "prev" would name it)
    time 2026-01-15T09:30:00Z

    — coord ed25519 <base64 raw public key> <base64 signature>
    — auditor-01 ed25519 <base64 raw public key> <base64 signature>

Each signature is Ed25519 over the DSSE pre-authentication encoding of the body bytes (payload type
:data:`CHECKPOINT_TYPE`), so a signature line cannot be moved to another body. The coordinator signs first
(``workbench checkpoint``, and ``workbench collect`` after every collection, with a receipt per new sheet; the
signed report carries the ledger's size and head itself); a witness checks the checkpoint against the ledger
they see and adds their line (``workbench cosign``), then keeps the file.
:func:`check_witnessed` proves the current ledger extends a checkpoint or names the first checkpoint it
does not extend.

Public API: :class:`Checkpoint`, :class:`Signature`, :data:`CHECKPOINT_TYPE`, :func:`parse_checkpoint`,
:func:`format_checkpoint`, :func:`make_checkpoint`, :func:`write_checkpoint`, :func:`checkpoint_round`,
:func:`write_receipts`, :func:`cosign`, :func:`check_witnessed`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import ledger
from .base import ID_PATTERN, Model, utc_now
from .errors import SignatureError
from .files import atomic_write_text, decode_text
from .round import load_round, require_coordinator
from .signing import key_id, pae

__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "Signature",
    "check_witnessed",
    "checkpoint_round",
    "write_receipts",
    "cosign",
    "format_checkpoint",
    "make_checkpoint",
    "parse_checkpoint",
    "write_checkpoint",
]

CHECKPOINT_TYPE = "application/vnd.workbench.checkpoint"
ORIGIN = "workbench.ledger.checkpoint/1"
MAX_CHECKPOINT_BYTES = 64 * 1024
MAX_SIGNATURES = 100
_NAME = ID_PATTERN[1:-1]
_BODY = re.compile(
    rf"\A{re.escape(ORIGIN)}\n"
    r"round (?P<round>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})\n"
    r"size (?P<size>0|[1-9][0-9]{0,11})\n"
    r"head (?P<head>[0-9a-f]{64})\n"
    r"time (?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)\n\Z"
)
_SIG = re.compile(rf"\A\u2014 (?P<name>{_NAME}) ed25519 (?P<key>[A-Za-z0-9+/]{{43}}=) (?P<sig>[A-Za-z0-9+/]{{86}}==)\Z")


class Signature(Model):
    """One signer's line: their name, raw public key and signature over the body (base64)."""

    name: str
    public_key: str
    sig: str

    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))


class Checkpoint(Model):
    """A parsed checkpoint: the ledger of ``round_id`` had ``size`` entries, the last one hashing to ``head``."""

    round_id: str
    size: int
    head: str
    time: str
    signatures: tuple[Signature, ...] = ()

    def body(self) -> bytes:
        """The signed lines."""
        return (f"{ORIGIN}\nround {self.round_id}\nsize {self.size}\nhead {self.head}\ntime {self.time}\n").encode()

    def signers(self) -> list[str]:
        """Names of the signatures that verify (a line whose signature fails is not a signer)."""
        return [s.name for s in self.signatures if _verifies(s, self.body())]


def _verifies(s: Signature, body: bytes) -> bool:
    try:
        s.key().verify(base64.b64decode(s.sig), pae(CHECKPOINT_TYPE, body))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint's text: body, a blank line, one line per signature."""
    return cp.body().decode() + "\n" + "".join(f"\u2014 {s.name} ed25519 {s.public_key} {s.sig}\n" for s in cp.signatures)


def parse_checkpoint(data: bytes | str, name: str = "<checkpoint>") -> Checkpoint:
    """Parse checkpoint text strictly (exact lines, bounded size); :class:`SignatureError` names the line."""
    raw = data if isinstance(data, bytes) else data.encode()
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise SignatureError(f"checkpoint is {len(raw)} bytes", file=name, expected=f"at most {MAX_CHECKPOINT_BYTES}")
    text = decode_text(raw, name)
    body, sep, tail = text.partition("\n\n")
    m = _BODY.match(body + "\n") if sep else None
    if m is None:
        raise SignatureError("not a checkpoint body", file=name, line=1,
                             expected=f"the lines '{ORIGIN}', 'round ID', 'size N', 'head HEX64', 'time UTC', then a blank line")
    lines = tail.split("\n")
    if lines[-1] != "":
        raise SignatureError("the last line does not end with a newline", file=name, expected="one signature per line")
    sigs = []
    for i, line in enumerate(lines[:-1], start=7):
        s = _SIG.match(line)
        if s is None:
            raise SignatureError("not a signature line", file=name, line=i,
                                 expected="'\u2014 NAME ed25519 BASE64-KEY BASE64-SIGNATURE'")
        sigs.append(Signature(name=s["name"], public_key=s["key"], sig=s["sig"]))
    if not 1 <= len(sigs) <= MAX_SIGNATURES:
        raise SignatureError(f"{len(sigs)} signatures", file=name, expected=f"1 to {MAX_SIGNATURES}")
    return Checkpoint(round_id=m["round"], size=int(m["size"]), head=m["head"], time=m["time"], signatures=tuple(sigs))


def _sign(cp: Checkpoint, key: Ed25519PrivateKey, name: str) -> Signature:
    if not re.fullmatch(_NAME, name):
        raise SignatureError(f"signer name '{name}'", expected="letters, digits, '_', '.', '-' (at most 64)")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = key.sign(pae(CHECKPOINT_TYPE, cp.body()))
    return Signature(name=name, public_key=base64.b64encode(raw).decode(), sig=base64.b64encode(sig).decode())


def make_checkpoint(ledger_path: str | Path, round_id: str, key: Ed25519PrivateKey, actor: str,
                    time: str | None = None) -> Checkpoint:
    """The coordinator's checkpoint of the ledger as it is now (links checked, read under its lock)."""
    with ledger.locked(ledger_path) as book:
        entries = book.entries
    head = ledger.entry_hash(entries[-1]) if entries else ledger.GENESIS
    cp = Checkpoint(round_id=round_id, size=len(entries), head=head, time=time or utc_now())
    return cp.model_copy(update={"signatures": (_sign(cp, key, actor),)})


def write_checkpoint(round_dir: str | Path, cp: Checkpoint) -> Path:
    """Keep ``cp`` in ``<round>/checkpoints/<size>.txt`` (never overwritten: a second one of that size is kept
    beside it). Witnesses keep their own copies: these are the coordinator's."""
    folder = Path(round_dir) / "checkpoints"
    text = format_checkpoint(cp)
    for n in range(100):
        p = folder / (f"{cp.size:08d}.txt" if n == 0 else f"{cp.size:08d}-{n}.txt")
        if p.exists() and p.read_text(encoding="utf-8") == text:
            return p
        if not p.exists():
            return atomic_write_text(p, text, overwrite=False)
    raise SignatureError("too many checkpoints of one size", file=folder)


def checkpoint_round(round_dir: str | Path, key: Ed25519PrivateKey, actor: str) -> tuple[Path, Checkpoint]:
    """Sign a checkpoint of a round's ledger as the coordinator ``actor`` and keep it under ``checkpoints/``."""
    r = load_round(round_dir)
    require_coordinator(r, actor, key)
    cp = make_checkpoint(r.ledger_path, r.rules.round_id, key, actor)
    return write_checkpoint(r.path, cp), cp


def write_receipts(round_dir: str | Path, sheets: Iterable[tuple[str, str, int]], cp: Checkpoint) -> list[Path]:
    """A receipt per newly collected sheet version ``(reviewer, team, version)``: the checkpoint that covers its
    collection, as ``receipts/<reviewer>/<team>.v<N>.txt``, for the reviewer to keep (and hand to an audit as
    a witness). Existing receipts are kept."""
    out = []
    text = format_checkpoint(cp)
    for reviewer, team, version in sheets:
        p = Path(round_dir) / "receipts" / reviewer / f"{team}.v{version}.txt"
        if not p.exists():
            out.append(atomic_write_text(p, text, overwrite=False))
    return out


def cosign(data: bytes | str, key: Ed25519PrivateKey, name: str) -> str:
    """Add ``name``'s signature to checkpoint text (after checking the signatures already there)."""
    cp = parse_checkpoint(data)
    bad = [s.name for s in cp.signatures if not _verifies(s, cp.body())]
    if bad:
        raise SignatureError(f"signature of {', '.join(bad)} does not verify", expected="a checkpoint as it was signed")
    if any(s.public_key == _sign(cp, key, name).public_key for s in cp.signatures):
        return format_checkpoint(cp)  # signed with this key already
    return format_checkpoint(cp.model_copy(update={"signatures": (*cp.signatures, _sign(cp, key, name))}))


def check_witnessed(entries: list[ledger.Entry], round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
                    checkpoints: Iterable[tuple[str, bytes]]) -> list[tuple[str, str, dict]]:
    """Check the ledger ``entries`` against witnessed checkpoints ``(file name, bytes)``.

    Returns problems ``(file, message, details)``: a checkpoint that does not parse, is of another round, is
    not signed by a roster coordinator, or that the ledger does not extend (shorter, or another entry at
    that position). For the last, the details name the first entry that may differ: one after the largest
    checkpoint the ledger still extends.
    """
    ok_sizes = [0]
    problems: list[tuple[str, str, dict]] = []
    parsed = []
    for name, data in checkpoints:
        try:
            cp = parse_checkpoint(data, name)
        except SignatureError as e:
            problems.append((name, e.message, {"line": e.line}))
            continue
        keys = {key_id(k) for k in coordinators.values()}
        signers = [s for s in cp.signatures if _verifies(s, cp.body())]
        if cp.round_id != round_id:
            problems.append((name, f"checkpoint of round '{cp.round_id}', not '{round_id}'", {}))
        elif not any(key_id(s.key()) in keys for s in signers):
            problems.append((name, "not signed by a coordinator of the roster", {"signers": [s.name for s in signers]}))
        else:
            parsed.append((name, cp, [s.name for s in signers]))
    for name, cp, signers in sorted(parsed, key=lambda x: x[1].size):
        if cp.size <= len(entries) and (ledger.entry_hash(entries[cp.size - 1]) if cp.size else ledger.GENESIS) == cp.head:
            ok_sizes.append(cp.size)
            continue
        first = max(s for s in ok_sizes if s <= cp.size) + 1
        what = (f"the ledger has {len(entries)} entries, fewer than the {cp.size} witnessed on {cp.time}"
                if cp.size > len(entries) else f"entry {cp.size} is not the one witnessed on {cp.time}")
        problems.append((name, f"{what}: history was removed or rewritten at or after entry {first}",
                         {"size": cp.size, "head": cp.head, "first_entry": first, "witnesses": signers}))
    return problems
