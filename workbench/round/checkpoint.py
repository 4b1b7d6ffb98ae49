"""Ledger checkpoints: the ledger's size and head hash, signed by the coordinator and countersigned by
witnesses who keep a copy outside the round folder.

A ledger is a hash chain, so anyone holding the hash of entry ``n`` can later tell whether the ledger still
begins with those ``n`` entries: a truncated or rewritten history no longer has that head, whoever holds the
coordinator's key. A checkpoint is a small text file in the spirit of transparency-log checkpoints (C2SP
signed notes): a body of fixed lines, a blank line, then one signature line per signer::

    workbench.round.ledger.checkpoint/1
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
:func:`check_checkpoints` proves the current ledger extends a checkpoint or names the first checkpoint it
does not extend. Witnesses are named keys: only the witnesses the rules list (``rules.yaml`` ``witnesses:``, name
and key) count, a checkpoint is *witnessed* with a quorum of them, any other or failing signature line is an
error, and two checkpoints that contradict each other are a split view (docs/witnesses.md).

Public API: :class:`Checkpoint`, :class:`Signature`, :data:`CHECKPOINT_TYPE`, :func:`parse_checkpoint`,
:func:`format_checkpoint`, :func:`sign_head`, :func:`make_checkpoint`, :func:`write_checkpoint`, :func:`checkpoint_round`,
:func:`write_receipts`, :func:`cosign`, :func:`cosign_round`, :class:`CheckpointFinding`,
:func:`check_checkpoints`, :func:`check_witnessed`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.base import ID_PATTERN, Model, utc_now
from ..core.errors import SignatureError
from ..core.files import atomic_write_text, decode_text
from ..core.signing import key_id, pae
from ..model.round import load_round, require_coordinator
from . import ledger

__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "CheckpointFinding",
    "Signature",
    "check_checkpoints",
    "check_witnessed",
    "checkpoint_round",
    "write_receipts",
    "cosign",
    "cosign_round",
    "format_checkpoint",
    "make_checkpoint",
    "parse_checkpoint",
    "sign_head",
    "write_checkpoint",
]

CHECKPOINT_TYPE = "application/vnd.workbench.checkpoint"
ORIGIN = "workbench.round.ledger.checkpoint/1"
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
        # one spelling per key and signature: base64 with non-zero unused bits decodes to the same bytes, so a
        # changed character there would otherwise leave a line that still verifies
        if any(base64.b64encode(base64.b64decode(s[g])).decode() != s[g] for g in ("key", "sig")):
            raise SignatureError("the key or signature is not in canonical base64", file=name, line=i,
                                 expected="the line as the signer wrote it")
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


def sign_head(round_id: str, size: int, head: str, key: Ed25519PrivateKey, actor: str,
              time: str | None = None) -> Checkpoint:
    """A checkpoint of ``size`` entries ending in ``head``, signed by ``actor`` (for a caller already holding the
    ledger's lock)."""
    cp = Checkpoint(round_id=round_id, size=size, head=head, time=time or utc_now())
    return cp.model_copy(update={"signatures": (_sign(cp, key, actor),)})


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


def cosign_round(round_dir: str | Path, data: bytes | str, key: Ed25519PrivateKey, name: str) -> str:
    """:func:`cosign` as a witness of a round: refused unless the rules list ``name`` with this very key, the
    checkpoint is of this round, and the round's ledger has exactly that head at that size."""
    r = load_round(round_dir)
    listed = r.rules.witnesses.by_name() if r.rules.witnesses is not None else {}
    mine = key_id(key.public_key())
    if name not in listed or key_id(listed[name]) != mine:
        who = ", ".join(f"{n} (key {key_id(k)[:16]})" for n, k in listed.items()) or "none"
        raise SignatureError(f"'{name}' with key {mine[:16]} is not a witness of round {r.rules.round_id}",
                             file=r.path / "rules.yaml", place="witnesses.keys",
                             expected=f"a listed witness name and its key; listed: {who}")
    cp = parse_checkpoint(data)
    if cp.round_id != r.rules.round_id:
        raise SignatureError(f"checkpoint of round '{cp.round_id}'", expected=f"one of round '{r.rules.round_id}'")
    entries = ledger.read_entries(r.ledger_path)
    if _head_at(entries, cp.size) != cp.head:
        raise SignatureError(f"the ledger you see does not have this head at entry {cp.size}", file=r.ledger_path,
                             expected="a checkpoint of the ledger as it is (a witness cosigns only what they saw)")
    return cosign(data, key, name)


class CheckpointFinding(Model):
    """What :func:`check_checkpoints` found about one checkpoint file (or, with ``file`` empty, all of them)."""

    severity: Literal["error", "warning", "info"]
    file: str
    message: str
    detail: dict[str, Any] = {}


class _Seen(Model):
    """A checkpoint whose signatures were sorted out: who signed it, and whether it counts."""

    file: str
    cp: Checkpoint
    coordinators: tuple[str, ...]
    witnesses: tuple[str, ...]  # listed witnesses whose cosignature verifies under their own name and key
    witnessed: bool  # a quorum of listed witnesses
    given: bool  # handed in by a witness (not the folder's own copy)


def _key_id_of(s: Signature) -> str | None:
    try:
        return key_id(s.key())
    except ValueError:  # 32 bytes that are not a point of the curve
        return None


def _sort_signatures(name: str, cp: Checkpoint, coordinators: Mapping[str, Ed25519PublicKey],
                     witnesses: Mapping[str, Ed25519PublicKey]) -> tuple[list[str], list[str], list[CheckpointFinding]]:
    """The coordinators and listed witnesses whose lines verify, and an error for every other line: a line that
    does not verify, a name the rules do not list, or a listed name with another key (or the reverse)."""
    coord_ids = {key_id(k): cid for cid, k in coordinators.items()}
    witness_ids = {key_id(k): wname for wname, k in witnesses.items()}
    coords: list[str] = []
    wits: list[str] = []
    bad: list[CheckpointFinding] = []
    body = cp.body()

    def error(message: str, s: Signature, kid: str | None) -> None:
        bad.append(CheckpointFinding(severity="error", file=name, message=message,
                                     detail={"size": cp.size, "signer": s.name, "key_id": kid}))

    for s in cp.signatures:
        kid = _key_id_of(s)
        ok = kid is not None and _verifies(s, body)
        if kid in coord_ids:
            if ok and s.name != coord_ids[kid]:
                error(f"signed with coordinator {coord_ids[kid]}'s key under another name, '{s.name}'", s, kid)
            elif ok:
                coords.append(coord_ids[kid])
            else:
                error(f"the signature of coordinator {coord_ids[kid]} does not verify (the checkpoint or its line "
                      "was changed)", s, kid)
        elif kid in witness_ids:
            wname = witness_ids[kid]
            if not ok:
                error(f"the cosignature of witness {wname} does not verify (the checkpoint or its line was changed)",
                      s, kid)
            elif s.name != wname:
                error(f"cosigned with witness {wname}'s key under another name, '{s.name}'", s, kid)
            elif wname not in wits:
                wits.append(wname)
        elif s.name in witnesses:
            error(f"cosigned as witness {s.name} with a key that is not theirs (key id {kid or '(not a key)'}): "
                  "the rules list another key for that name", s, kid)
        else:
            error(f"unknown cosigner '{s.name}' (key id {kid or '(not a key)'}): "
                  + ("not a witness the rules list" if witnesses else "the rules list no witnesses"), s, kid)
    return coords, wits, bad


def _names(seen: _Seen) -> str:
    return ", ".join(seen.witnesses) if seen.witnesses else "no listed witness (coordinator only)"


def check_checkpoints(entries: list[ledger.Entry], round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
                      given: Iterable[tuple[str, bytes]], own: Iterable[tuple[str, bytes]] = (),
                      witnesses: Mapping[str, Ed25519PublicKey] | None = None,
                      quorum: int = 1) -> list[CheckpointFinding]:
    """Check the ledger ``entries`` against checkpoints ``(file name, bytes)``: ``given`` by witnesses, ``own``
    kept in the round folder.

    ``witnesses`` (name -> key, from the rules) are the only cosigners that count; a checkpoint is *witnessed*
    when at least ``quorum`` of them verify on it. Errors: a checkpoint that does not parse, is of another round,
    carries a signature line that does not verify or whose name or key the rules do not list (for a witness:
    that exact name with that exact key), is signed neither by a coordinator nor by a quorum, or that the ledger
    does not extend. When two checkpoints contradict each other (the ledger matches one, not the other, and the
    one it matches is as long or longer; or two of one size with different heads), that is a *split view*: the
    finding names both and the entries between which the histories part (see :func:`_bounds`). Info: who
    witnessed each checkpoint given. Warning: a checkpoint given that no quorum witnessed.
    """
    witnesses = dict(witnesses or {})
    out: list[CheckpointFinding] = []
    seen: list[_Seen] = []
    for is_given, batch in ((True, given), (False, own)):
        for name, data in batch:
            try:
                cp = parse_checkpoint(data, name)
            except SignatureError as e:
                out.append(CheckpointFinding(severity="error", file=name, message=e.message, detail={"line": e.line}))
                continue
            if cp.round_id != round_id:
                out.append(CheckpointFinding(severity="error", file=name,
                                             message=f"checkpoint of round '{cp.round_id}', not '{round_id}'"))
                continue
            coords, wits, bad = _sort_signatures(name, cp, coordinators, witnesses)
            out += bad
            witnessed = bool(witnesses) and len(wits) >= quorum
            if not coords and not witnessed:
                out.append(CheckpointFinding(severity="error", file=name,
                                             message="not signed by a coordinator of the roster",
                                             detail={"size": cp.size, "signers": [s.name for s in cp.signatures]}))
                continue
            seen.append(_Seen(file=name, cp=cp, coordinators=tuple(coords), witnesses=tuple(wits),
                              witnessed=witnessed, given=is_given))
            if not is_given:
                continue
            if witnessed:
                out.append(CheckpointFinding(
                    severity="info", file=name,
                    message=f"checkpoint of size {cp.size} witnessed by {', '.join(wits)} (quorum {quorum})",
                    detail={"size": cp.size, "head": cp.head, "witnesses": wits, "quorum": quorum}))
            else:
                why = (f"cosigned by {len(wits)} of the {quorum} listed witness(es) needed" if witnesses
                       else "the rules list no witnesses")
                out.append(CheckpointFinding(
                    severity="warning", file=name,
                    message=f"checkpoint of size {cp.size} is not witnessed ({why}): it counts as the "
                            f"coordinator's own commitment only", detail={"size": cp.size, "witnesses": wits,
                                                                          "quorum": quorum}))
    out += _consistency(entries, seen)
    return out


def _head_at(entries: list[ledger.Entry], n: int) -> str | None:
    if n > len(entries):
        return None
    return ledger.entry_hash(entries[n - 1]) if n else ledger.GENESIS


def _consistency(entries: list[ledger.Entry], seen: list[_Seen]) -> list[CheckpointFinding]:
    """An error for every checkpoint the ledger does not extend: a split view when another checkpoint contradicts
    it, else history removed or rewritten."""
    matched = [s for s in seen if _head_at(entries, s.cp.size) == s.cp.head]
    missed = sorted((s for s in seen if _head_at(entries, s.cp.size) != s.cp.head), key=lambda s: (s.cp.size, s.file))
    out = []
    for x in missed:
        others = sorted([y for y in matched if y.cp.size >= x.cp.size]
                        + [y for y in missed if y.cp.size == x.cp.size and y.cp.head != x.cp.head],
                        key=lambda y: (y.cp.size != x.cp.size, y.cp.size, not y.witnessed, y.file))
        detail: dict[str, Any] = {"size": x.cp.size, "head": x.cp.head, "witnesses": list(x.witnesses)}
        if not others:
            first = max((y.cp.size for y in matched if y.cp.size < x.cp.size), default=0) + 1
            what = (f"the ledger has {len(entries)} entries, fewer than the {x.cp.size} witnessed on {x.cp.time}"
                    if x.cp.size > len(entries) else f"entry {x.cp.size} is not the one witnessed on {x.cp.time}")
            out.append(CheckpointFinding(severity="error", file=x.file, message=f"{what}: history was removed or "
                                         f"rewritten at or after entry {first}", detail={**detail, "first_entry": first}))
            continue
        y = others[0]
        first, last = _bounds(x, matched, missed)
        where = f"at entry {first}" if first == last else f"between entry {first} and entry {last}"
        follows = "follows it" if y in matched else "follows neither"
        out.append(CheckpointFinding(
            severity="error", file=x.file,
            message=f"split view: this checkpoint (size {x.cp.size}, {_names(x)}) and {y.file} (size {y.cp.size}, "
                    f"{_names(y)}) record different ledgers; the ledger here {follows} and first differs from this "
                    f"one {where}",
            detail={**detail, "first_entry": first, "last_entry": last, "other": y.file, "other_size": y.cp.size,
                    "other_witnesses": list(y.witnesses), "contradicts": [o.file for o in others]}))
    return out


def _bounds(x: _Seen, matched: list[_Seen], missed: list[_Seen]) -> tuple[int, int]:
    """The entries between which the ledger parts from the history ``x`` was cut from.

    The last one: the smallest checkpoint the ledger does not extend among ``x``, every witnessed one and those
    sharing a listed witness with ``x`` (the earliest entry where the ledger stops matching a witnessed
    history). The first one: one after the largest checkpoint below it that the ledger does extend and that a
    witness of either cosigned. Witnesses bound it, not the coordinator: a witness cosigns one history (each
    checkpoint extending the last they saw), while a coordinator who shows two histories signs both. (For a
    checkpoint nobody witnessed, every checkpoint bounds it, as for a rewrite.)"""
    mine = set(x.witnesses)
    z = min([y for y in missed if y.witnessed or mine & set(y.witnesses)] + [x], key=lambda y: y.cp.size)
    theirs = mine | set(z.witnesses)
    lo = max((y.cp.size for y in matched if y.cp.size < z.cp.size and (not theirs or theirs & set(y.witnesses))),
             default=0)
    return lo + 1, z.cp.size


def check_witnessed(entries: list[ledger.Entry], round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
                    checkpoints: Iterable[tuple[str, bytes]],
                    witnesses: Mapping[str, Ed25519PublicKey] | None = None,
                    quorum: int = 1) -> list[tuple[str, str, dict]]:
    """The errors of :func:`check_checkpoints` for ``checkpoints`` (all given), as ``(file, message, details)``."""
    return [(f.file, f.message, f.detail) for f in check_checkpoints(entries, round_id, coordinators, checkpoints,
                                                                     witnesses=witnesses, quorum=quorum)
            if f.severity == "error"]
