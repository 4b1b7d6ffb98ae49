"""Ledger checkpoints: the ledger's size and Merkle root (format 2) or head hash (format 1), signed by the
coordinator and countersigned by witnesses who keep a copy outside the round folder.

**Format 2** (what ``workbench checkpoint``, ``collect`` and the report write): a C2SP tlog-checkpoint signed
note (:mod:`workbench.round.note`) whose tree is the ledger's entries as RFC 6962 leaves (:mod:`workbench.round.tlog`)::

    workbench.example/rounds/demo-2026-stage1
    57
    <base64 RFC 6962 root hash of the first 57 entries>

    — workbench.example/rounds/demo-2026-stage1 <base64(key hash || Ed25519 signature)>
    — w1 <base64(key hash || 8-byte time || Ed25519 signature)>

The origin (first line) is :func:`workbench.round.note.origin_for` of the round id; the coordinator signs with the
origin as key name (any coordinator of the roster: the key hash tells which), a witness adds a timestamped
``cosignature/v1`` line under the name the rules list for them. Go's ``sumdb/note``, sigstore-python and
every C2SP witness read these files. A witness checks a *consistency proof* from the checkpoint they last
cosigned before cosigning the next (:func:`cosign_note`, as tlog-witness ``add-checkpoint`` does), so a
witness never needs the ledger; ``workbench checkpoint`` writes that proof beside the checkpoint
(``<size>.from-<old size>.json``) and, with ``--witness-request``, the add-checkpoint request body.

**Format 1** (rounds before format 2; still read, and written by ``workbench checkpoint --format 1``): a body
of fixed lines, a blank line, then one signature line per signer::

    workbench.ledger.checkpoint/1
    round demo-2026-stage1
    size 57
    head 3f1c...e9 (hex SHA-256 of entry 57, as the next entry's "prev" would name it)
    time 2026-01-15T09:30:00Z

    — coord ed25519 <base64 raw public key> <base64 signature>
    — auditor-01 ed25519 <base64 raw public key> <base64 signature>

Each format-1 signature is Ed25519 over the DSSE pre-authentication encoding of the body bytes (payload type
:data:`CHECKPOINT_TYPE`).

:func:`check_checkpoints` reads both formats and proves the current ledger extends a checkpoint (format 2:
with a consistency proof from the checkpoint's tree to the ledger's) or names the first checkpoint it does
not extend. Witnesses are named keys: only the witnesses the rules list (``rules.yaml`` ``witnesses:``, name
and key) count, a checkpoint is *witnessed* with a quorum of them, any other or failing signature line is an
error, and two checkpoints that contradict each other are a split view (docs/witnesses.md).

Public API: :class:`Checkpoint`, :class:`Signature`, :data:`CHECKPOINT_TYPE`, :func:`parse_checkpoint`,
:func:`format_checkpoint`, :func:`sign_head`, :func:`make_checkpoint`, :func:`write_checkpoint`,
:func:`checkpoint_round`, :func:`cosign`, :func:`cosign_round`, :class:`CheckpointFinding`,
:func:`check_checkpoints`, :func:`check_witnessed`, and for format 2: :class:`CheckpointView`,
:func:`describe_checkpoint`, :func:`is_format1`, :func:`sign_tree`, :func:`log_key`, :func:`witness_keys`,
:func:`last_witnessed`, :func:`cosign_note`, :func:`add_cosignatures`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.base import ID_PATTERN, Model, utc_now
from ..core.errors import InputFileError, SignatureError
from ..core.files import atomic_write_bytes, atomic_write_text, decode_text
from ..core.signing import key_id, pae
from ..model.round import load_round, require_coordinator
from . import ledger, note, tlog

__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "CheckpointFinding",
    "CheckpointView",
    "Signature",
    "add_cosignatures",
    "check_checkpoints",
    "check_witnessed",
    "checkpoint_round",
    "cosign_note",
    "describe_checkpoint",
    "is_format1",
    "last_witnessed",
    "log_key",
    "sign_tree",
    "write_tree_checkpoint",
    "witness_keys",
    "cosign",
    "cosign_round",
    "format_checkpoint",
    "make_checkpoint",
    "parse_checkpoint",
    "sign_head",
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


def is_format1(data: bytes | str) -> bool:
    """Whether checkpoint text is format 1 (the hash-chain form); anything else is read as a format-2 note."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    return raw.startswith(ORIGIN.encode() + b"\n")


def log_key(round_id: str, public_key: Ed25519PublicKey) -> note.VerifierKey:
    """A coordinator's key as the round's log key: the origin as key name, an Ed25519 note signature."""
    return note.VerifierKey(note.origin_for(round_id), public_key, note.ED25519)


def witness_keys(name: str, public_key: Ed25519PublicKey) -> tuple[note.VerifierKey, note.VerifierKey]:
    """A listed witness's keys: a ``cosignature/v1`` (what witnesses sign) and, for witnesses of the older Go
    checksum-database kind, a plain Ed25519 note signature; both under the name the rules list."""
    return (note.VerifierKey(name, public_key, note.COSIGNATURE_V1), note.VerifierKey(name, public_key, note.ED25519))


class NoteLine(Model):
    """One signature line of a checkpoint as read (not verified): the signer's name and, for format 2, the key
    hash (hex) and a cosignature's time; for format 1, the raw public key (base64)."""

    name: str
    key_hash: str | None = None
    timestamp: int | None = None
    public_key: str | None = None


class CheckpointView(Model):
    """A checkpoint file as data, either format (``workbench tlog show FILE`` prints it; shipped schema
    ``checkpoint``): for format 2 the origin and base64 RFC 6962 root hash, for format 1 the hex head and time."""

    schema_version: Literal[1] = 1
    format: Literal[1, 2]
    round_id: str | None
    origin: str
    size: int
    root_hash: str | None = None
    head: str | None = None
    time: str | None = None
    extensions: tuple[str, ...] = ()
    signatures: tuple[NoteLine, ...]


def _round_of(origin: str) -> str | None:
    """The round id an origin names (``<authority>/rounds/<round id>``), or None."""
    head, sep, rid = origin.rpartition("/rounds/")
    return rid if sep and head and re.fullmatch(ID_PATTERN, rid) else None


def describe_checkpoint(data: bytes | str, name: str = "<checkpoint>") -> CheckpointView:
    """Parse a checkpoint of either format (without verifying it) into a :class:`CheckpointView`; a malformed
    one is an :class:`InputFileError` or :class:`SignatureError` naming ``name`` and the line."""
    if is_format1(data):
        cp = parse_checkpoint(data, name)
        return CheckpointView(format=1, round_id=cp.round_id, origin=ORIGIN, size=cp.size, head=cp.head,
                              time=cp.time, signatures=tuple(NoteLine(name=s.name, public_key=s.public_key)
                                                             for s in cp.signatures))
    signed = note.parse_note(data, name)
    tree = note.parse_checkpoint_text(signed.text, name)
    return CheckpointView(format=2, round_id=_round_of(tree.origin), origin=tree.origin, size=tree.size,
                          root_hash=base64.b64encode(tree.root_hash).decode(), extensions=tree.extensions,
                          signatures=tuple(NoteLine(name=s.name, key_hash=s.key_hash.hex(), timestamp=s.timestamp)
                                           for s in signed.signatures))


def sign_tree(round_id: str, leaf_hashes: list[bytes] | tlog.MerkleTree, key: Ed25519PrivateKey,
              size: int | None = None) -> bytes:
    """The coordinator's format-2 checkpoint of the first ``size`` leaves (all by default) of a round's log."""
    hashes = leaf_hashes.leaf_hashes if isinstance(leaf_hashes, tlog.MerkleTree) else leaf_hashes
    n = len(hashes) if size is None else size
    root = leaf_hashes.head(n) if isinstance(leaf_hashes, tlog.MerkleTree) else tlog.tree_head(hashes, n)
    return note.sign_checkpoint(note.Checkpoint(note.origin_for(round_id), n, root), key)


def write_tree_checkpoint(round_dir: str | Path, data: bytes, size: int) -> Path:
    """Keep a format-2 checkpoint as ``checkpoints/<size, 8 digits>.txt``: a file of that size holding the same
    tree (perhaps already cosigned) is kept as it is; another tree of that size goes beside it (``-1``...)."""
    folder = Path(round_dir) / "checkpoints"
    text = note.parse_note(data).text
    for n in range(100):
        p = folder / (f"{size:08d}.txt" if n == 0 else f"{size:08d}-{n}.txt")
        if not p.exists():
            return atomic_write_bytes(p, data, overwrite=False, mode=0o644)
        try:
            if note.parse_note(p.read_bytes()).text == text:
                return p
        except (InputFileError, SignatureError, OSError):
            continue
    raise SignatureError("too many checkpoints of one size", file=folder)


def _witness_map(r) -> tuple[dict[str, Ed25519PublicKey], int]:
    policy = r.rules.witnesses
    return (policy.by_name() if policy is not None else {}), (policy.quorum if policy is not None else 1)


def last_witnessed(round_dir: str | Path, size: int | None = None) -> tuple[Path, note.Checkpoint] | None:
    """The largest format-2 checkpoint under ``checkpoints/`` (at most ``size``) that a quorum of the listed
    witnesses cosigned and a coordinator signed, or None: where the next consistency proof starts."""
    r = load_round(round_dir)
    listed, quorum = _witness_map(r)
    if not listed:
        return None
    coords = {c.id: c.key() for c in r.coordinators()}
    best: tuple[Path, note.Checkpoint] | None = None
    for p in sorted((r.path / "checkpoints").glob("*.txt")):
        try:
            data = p.read_bytes()
            if is_format1(data):
                continue
            tree, coords_ok, wits, bad = _sort_note(p.name, data, r.rules.round_id, coords, listed)
        except (InputFileError, SignatureError, OSError):
            continue
        if (coords_ok and not bad and len(wits) >= quorum and (size is None or tree.size <= size)
                and (best is None or tree.size > best[1].size)):
            best = (p, tree)
    return best


def checkpoint_round(round_dir: str | Path, key: Ed25519PrivateKey, actor: str, fmt: int = 2,
                     old_size: int | None = None) -> tuple[Path, CheckpointView, Path | None, bytes | None]:
    """Sign a checkpoint of a round's ledger as the coordinator ``actor`` and keep it under ``checkpoints/``.

    Format 2 (the default) also writes the consistency proof from the last witnessed checkpoint (or from
    ``old_size``) as ``checkpoints/<size>.from-<old size>.json`` and returns it with the tlog-witness
    ``add-checkpoint`` request body that starts there: ``(checkpoint file, its view, proof file, request)``.
    Format 1 writes the older hash-chain form and no proof."""
    r = load_round(round_dir)
    require_coordinator(r, actor, key)
    if fmt == 1:
        cp = make_checkpoint(r.ledger_path, r.rules.round_id, key, actor)
        path = write_checkpoint(r.path, cp)
        return path, describe_checkpoint(path.read_bytes(), str(path)), None, None
    with ledger.locked(r.ledger_path) as book:
        tree = tlog.MerkleTree([tlog.leaf_hash(tlog.entry_leaf(e)) for e in book.entries])
    data = sign_tree(r.rules.round_id, tree, key)
    path = write_tree_checkpoint(r.path, data, len(tree))
    if old_size is None:
        last = last_witnessed(r.path, len(tree))
        old_size = last[1].size if last is not None else 0
    if not 0 <= old_size <= len(tree):
        raise SignatureError(f"old size {old_size}", expected=f"0..{len(tree)} (the size a witness last cosigned)")
    proof = tree.consistency(old_size)
    proof_path = None
    if old_size:
        proof_path = atomic_write_bytes(path.parent / f"{len(tree):08d}.from-{old_size:08d}.json",
                                        proof.model_dump_json(indent=2).encode() + b"\n", mode=0o644)
    request = note.format_add_checkpoint(old_size, [base64.b64decode(h) for h in proof.hashes], data)
    return path, describe_checkpoint(data, str(path)), proof_path, request


def _read_last(last: bytes | None, log: Sequence[note.VerifierKey], name: str) -> note.Checkpoint | None:
    """The checkpoint a witness last cosigned (their own copy): still signed by the log."""
    if last is None:
        return None
    signed = note.parse_note(last, name)
    tree = note.parse_checkpoint_text(signed.text, name)
    note.verify_signatures(signed, log)
    return tree


def _signed_by(data: bytes, key: note.VerifierKey) -> bool:
    try:
        note.open_checkpoint(data, key)
    except (SignatureError, InputFileError):
        return False
    return True


def cosign_note(request: bytes, key: Ed25519PrivateKey, name: str, log_keys: Sequence[note.VerifierKey],
                last: bytes | None = None, timestamp: int | None = None) -> bytes:
    """A witness's cosignature on a format-2 checkpoint, as a C2SP witness answers ``add-checkpoint``:
    ``request`` is the request body (``old <size>``, the consistency proof, the signed checkpoint) or a bare
    checkpoint (then ``last`` must be absent: nothing to be consistent with); the checkpoint must verify with
    one of ``log_keys`` and extend ``last`` (the checkpoint this witness last cosigned, by its proof). Returns
    the checkpoint with this witness's ``cosignature/v1`` line added (replacing an earlier line of this key)."""
    if not request.startswith(b"old "):
        request = note.format_add_checkpoint(0, [], request)
    req = note.parse_add_checkpoint(request)
    prev = _read_last(last, log_keys, "<last checkpoint>")
    lk = next((k for k in log_keys if _signed_by(req.checkpoint, k)), None)  # any coordinator: the key hash says
    if lk is None:
        names = ", ".join(sorted({k.name for k in log_keys})) or "none given"
        raise SignatureError("the checkpoint is not signed by the coordinator key(s) given",
                             expected=f"a checkpoint signed by the log key of: {names}")
    tlog.witness_check(req, lk, prev)
    signed = note.parse_note(req.checkpoint)
    t = int(datetime.now(UTC).timestamp()) if timestamp is None else timestamp
    return signed.with_signature(note.cosign(signed.text, name, key, t)).format()


def add_cosignatures(data: bytes, *copies: bytes) -> bytes:
    """The format-2 checkpoint ``data`` with every signature line of ``copies`` (witnesses' cosigned copies of
    the same checkpoint) added once: what the coordinator keeps under ``checkpoints/`` and publishes. A copy of
    another text is refused (it would be a signature over something else)."""
    signed = note.parse_note(data)
    for c in copies:
        other = note.parse_note(c)
        if other.text != signed.text:
            raise SignatureError("a cosigned copy of another checkpoint", expected="the same origin, size and root")
        for sig in other.signatures:
            if sig not in signed.signatures:
                signed = signed.with_signature(sig)
    return signed.format()


def cosign(data: bytes | str, key: Ed25519PrivateKey, name: str) -> str:
    """Add ``name``'s signature to format-1 checkpoint text (after checking the signatures already there)."""
    cp = parse_checkpoint(data)
    bad = [s.name for s in cp.signatures if not _verifies(s, cp.body())]
    if bad:
        raise SignatureError(f"signature of {', '.join(bad)} does not verify", expected="a checkpoint as it was signed")
    if any(s.public_key == _sign(cp, key, name).public_key for s in cp.signatures):
        return format_checkpoint(cp)  # signed with this key already
    return format_checkpoint(cp.model_copy(update={"signatures": (*cp.signatures, _sign(cp, key, name))}))


def cosign_round(round_dir: str | Path, data: bytes | str, key: Ed25519PrivateKey, name: str,
                 last: bytes | None = None) -> str:
    """Cosign as a witness of a round: refused unless the rules list ``name`` with this very key, the
    checkpoint is of this round, and the round's ledger (the witness's copy) has exactly that head (format 1)
    or tree (format 2) at that size. A format-2 request's consistency proof from ``last`` is checked too."""
    r = load_round(round_dir)
    listed = r.rules.witnesses.by_name() if r.rules.witnesses is not None else {}
    mine = key_id(key.public_key())
    if name not in listed or key_id(listed[name]) != mine:
        who = ", ".join(f"{n} (key {key_id(k)[:16]})" for n, k in listed.items()) or "none"
        raise SignatureError(f"'{name}' with key {mine[:16]} is not a witness of round {r.rules.round_id}",
                             file=r.path / "rules.yaml", place="witnesses.keys",
                             expected=f"a listed witness name and its key; listed: {who}")
    raw = data if isinstance(data, bytes) else data.encode()
    entries = ledger.read_entries(r.ledger_path)
    if is_format1(raw):
        cp = parse_checkpoint(raw)
        if cp.round_id != r.rules.round_id:
            raise SignatureError(f"checkpoint of round '{cp.round_id}'", expected=f"one of round '{r.rules.round_id}'")
        if _head_at(entries, cp.size) != cp.head:
            raise SignatureError(f"the ledger you see does not have this head at entry {cp.size}", file=r.ledger_path,
                                 expected="a checkpoint of the ledger as it is (a witness cosigns only what they saw)")
        return cosign(raw, key, name)
    body = raw if raw.startswith(b"old ") else note.format_add_checkpoint(0, [], raw)
    tree = note.parse_checkpoint_text(note.parse_note(note.parse_add_checkpoint(body).checkpoint).text)
    if tree.origin != note.origin_for(r.rules.round_id):
        raise SignatureError(f"checkpoint of the log '{tree.origin}'",
                             expected=f"one of round '{r.rules.round_id}' ({note.origin_for(r.rules.round_id)})")
    hashes = [tlog.leaf_hash(tlog.entry_leaf(e)) for e in entries]
    if tree.size > len(hashes) or tlog.tree_head(hashes, tree.size) != tree.root_hash:
        raise SignatureError(f"the ledger you see does not have this tree at size {tree.size}", file=r.ledger_path,
                             expected="a checkpoint of the ledger as it is (a witness cosigns only what they saw)")
    logs = [log_key(r.rules.round_id, c.key()) for c in r.coordinators()]
    return cosign_note(body, key, name, logs, last).decode()


class CheckpointFinding(Model):
    """What :func:`check_checkpoints` found about one checkpoint file (or, with ``file`` empty, all of them)."""

    severity: Literal["error", "warning", "info"]
    file: str
    message: str
    detail: dict[str, Any] = {}


class _Seen(Model):
    """A checkpoint whose signatures were sorted out: who signed it, and whether it counts. Format 1 commits to
    the ledger by ``head`` (hex hash of entry ``size``), format 2 by ``root`` (RFC 6962 root of ``size`` leaves)."""

    file: str
    size: int
    head: str | None = None
    root: bytes | None = None
    time: str
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


def _sort_note(name: str, data: bytes, round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
               witnesses: Mapping[str, Ed25519PublicKey]
               ) -> tuple[note.Checkpoint, list[str], list[str], list[CheckpointFinding]]:
    """Format 2: the tree, the coordinators and listed witnesses whose lines verify, and an error for every
    other line. A line is matched to a key by name and key hash (signed-note): the origin's name with a
    coordinator's key, or a listed witness's name with their key (``cosignature/v1`` or Ed25519). A line by a
    key the rules do not list is an error here (the rules say who may witness), not silently ignored."""
    signed = note.parse_note(data, name)
    tree = note.parse_checkpoint_text(signed.text, name)
    if tree.origin != note.origin_for(round_id):
        raise SignatureError(f"checkpoint of the log '{tree.origin}', not '{note.origin_for(round_id)}'", file=name,
                             expected=f"a checkpoint of round '{round_id}'")
    known: dict[tuple[str, bytes], tuple[str, str, note.VerifierKey]] = {}
    for cid, k in coordinators.items():
        vk = log_key(round_id, k)
        known[(vk.name, vk.key_hash)] = ("coordinator", cid, vk)
    for wname, k in witnesses.items():
        for vk in witness_keys(wname, k):
            known[(vk.name, vk.key_hash)] = ("witness", wname, vk)
    coords: list[str] = []
    wits: list[str] = []
    bad: list[CheckpointFinding] = []
    for sig in signed.signatures:
        detail = {"size": tree.size, "signer": sig.name, "key_hash": sig.key_hash.hex()}
        role, who, vk = known.get((sig.name, sig.key_hash), ("", "", None))
        if vk is None:
            if sig.name == tree.origin:
                message = (f"signed under the log's name with a key that is no coordinator's (key hash "
                           f"{sig.key_hash.hex()})")
            elif sig.name in witnesses:
                message = (f"cosigned as witness {sig.name} with a key that is not theirs (key hash "
                           f"{sig.key_hash.hex()}): the rules list another key for that name")
            else:
                message = (f"unknown cosigner '{sig.name}' (key hash {sig.key_hash.hex()}): "
                           + ("not a witness the rules list" if witnesses else "the rules list no witnesses"))
            bad.append(CheckpointFinding(severity="error", file=name, message=message, detail=detail))
            continue
        try:
            note.verify_signatures(note.SignedNote(signed.text, (sig,)), [vk])
        except SignatureError:
            what = f"signature of coordinator {who}" if role == "coordinator" else f"cosignature of witness {who}"
            bad.append(CheckpointFinding(severity="error", file=name, detail=detail,
                                         message=f"the {what} does not verify (the checkpoint or its line was changed)"))
            continue
        group = coords if role == "coordinator" else wits
        if who not in group:
            group.append(who)
    return tree, coords, wits, bad


def _cosigned_at(data: bytes) -> str:
    """The latest cosignature time of a format-2 note (UTC, as format 1 writes times), or ''."""
    times = [s.timestamp for s in note.parse_note(data).signatures if s.timestamp is not None]
    if not times:
        return ""
    try:
        return datetime.fromtimestamp(max(times), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):  # a time no calendar holds (years past 9999): say the number
        return f"POSIX time {max(times)}"


def _names(seen: _Seen) -> str:
    return ", ".join(seen.witnesses) if seen.witnesses else "no listed witness (coordinator only)"


def check_checkpoints(entries: list[ledger.Entry], round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
                      given: Iterable[tuple[str, bytes]], own: Iterable[tuple[str, bytes]] = (),
                      witnesses: Mapping[str, Ed25519PublicKey] | None = None,
                      quorum: int = 1, proofs: Iterable[tuple[str, bytes]] = ()) -> list[CheckpointFinding]:
    """Check the ledger ``entries`` against checkpoints ``(file name, bytes)`` of either format: ``given`` by
    witnesses, ``own`` kept in the round folder; and every consistency proof file in ``proofs``
    (``<new size>.from-<old size>.json``) against the two ``own`` checkpoints it names.

    ``witnesses`` (name -> key, from the rules) are the only cosigners that count; a checkpoint is *witnessed*
    when at least ``quorum`` of them verify on it (on this file or on another copy of the same checkpoint: a
    witness who returns only their own line counts with the others'). Errors: a checkpoint that does not parse, is of another round,
    carries a signature line that does not verify or whose name or key the rules do not list (for a witness:
    that exact name with that exact key), is signed neither by a coordinator nor by a quorum, or that the ledger
    does not extend (format 2: the consistency proof from its tree to the ledger's fails). When two checkpoints
    contradict each other (the ledger matches one, not the other, and the one it matches is as long or longer;
    or two of one size with different heads), that is a *split view*: the finding names both and the entries
    between which the histories part (see :func:`_bounds`). Info: who witnessed each checkpoint given. Warning:
    a checkpoint given that no quorum witnessed.
    """
    witnesses = dict(witnesses or {})
    out: list[CheckpointFinding] = []
    seen: list[_Seen] = []
    for is_given, batch in ((True, given), (False, own)):
        for name, data in batch:
            try:
                if is_format1(data):
                    cp = parse_checkpoint(data, name)
                    if cp.round_id != round_id:
                        out.append(CheckpointFinding(severity="error", file=name,
                                                     message=f"checkpoint of round '{cp.round_id}', not '{round_id}'"))
                        continue
                    coords, wits, bad = _sort_signatures(name, cp, coordinators, witnesses)
                    commit: dict[str, Any] = {"size": cp.size, "head": cp.head, "time": cp.time}
                else:
                    tree, coords, wits, bad = _sort_note(name, data, round_id, coordinators, witnesses)
                    commit = {"size": tree.size, "root": tree.root_hash, "time": _cosigned_at(data)}
            except (SignatureError, InputFileError) as e:
                out.append(CheckpointFinding(severity="error", file=name, message=e.message, detail={"line": e.line}))
                continue
            out += bad
            size = commit["size"]
            witnessed = bool(witnesses) and len(wits) >= quorum
            if not coords and not witnessed:
                out.append(CheckpointFinding(severity="error", file=name,
                                             message="not signed by a coordinator of the roster",
                                             detail={"size": size, "signers": _signer_names(data)}))
                continue
            seen.append(_Seen(file=name, **commit, coordinators=tuple(coords), witnesses=tuple(wits),
                              witnessed=witnessed, given=is_given))
    # copies of one tree (one witness's line each, or the coordinator's copy with every line) pool their verified
    # cosignatures: a quorum counts whichever files the lines arrived in
    pooled: dict[tuple, list[str]] = {}
    for x in seen:
        names = pooled.setdefault((x.size, x.head, x.root), [])
        names += [w for w in x.witnesses if w not in names]
    seen = [x.model_copy(update={"witnesses": tuple(pooled[(x.size, x.head, x.root)]),
                                 "witnessed": bool(witnesses) and len(pooled[(x.size, x.head, x.root)]) >= quorum})
            for x in seen]
    for x in seen:
        if not x.given:
            continue
        wits = list(x.witnesses)
        if x.witnessed:
            out.append(CheckpointFinding(
                severity="info", file=x.file,
                message=f"checkpoint of size {x.size} witnessed by {', '.join(wits)} (quorum {quorum})",
                detail={"size": x.size, **_commitment(x), "witnesses": wits, "quorum": quorum}))
        else:
            why = (f"cosigned by {len(wits)} of the {quorum} listed witness(es) needed" if witnesses
                   else "the rules list no witnesses")
            out.append(CheckpointFinding(
                severity="warning", file=x.file,
                message=f"checkpoint of size {x.size} is not witnessed ({why}): it counts as the "
                        f"coordinator's own commitment only", detail={"size": x.size, "witnesses": wits,
                                                                      "quorum": quorum}))
    out += _consistency(entries, seen)
    out += _proof_files(proofs, {s.file: s for s in seen if not s.given})
    return out


def _signer_names(data: bytes) -> list[str]:
    if is_format1(data):
        return [s.name for s in parse_checkpoint(data).signatures]
    return [s.name for s in note.parse_note(data).signatures]


def _commitment(s: _Seen) -> dict[str, str]:
    return {"head": s.head} if s.head is not None else {"root_hash": base64.b64encode(s.root or b"").decode()}


_PROOF_NAME = re.compile(r"(?P<new>[0-9]{8})\.from-(?P<old>[0-9]{8})\.json\Z")


def _proof_files(proofs: Iterable[tuple[str, bytes]], own: Mapping[str, _Seen]) -> list[CheckpointFinding]:
    """Check each consistency proof file against the folder's own format-2 checkpoints of its two sizes."""
    out = []
    by_size: dict[int, list[_Seen]] = {}
    for s in own.values():
        if s.root is not None:
            by_size.setdefault(s.size, []).append(s)
    for name, data in proofs:
        m = _PROOF_NAME.search(name)
        try:
            proof = tlog.parse_proof(data, name)
        except InputFileError as e:
            out.append(CheckpointFinding(severity="error", file=name, message=e.message))
            continue
        if not isinstance(proof, tlog.ConsistencyProof) or m is None or (
                int(m["old"]), int(m["new"])) != (proof.old_size, proof.new_size):
            out.append(CheckpointFinding(severity="error", file=name, message="not the consistency proof its name says",
                                         detail={"expected": "<new size>.from-<old size>.json"}))
            continue
        olds, news = by_size.get(proof.old_size, []), by_size.get(proof.new_size, [])
        if not olds or not news:
            continue  # a proof whose checkpoints are gone proves nothing either way
        failed = []
        for o in olds:
            for n in news:
                try:
                    proof.verify(o.root or b"", n.root or b"")
                except SignatureError as e:
                    failed.append((o.file, n.file, e.message))
        if len(failed) == len(olds) * len(news):
            o_file, n_file, why = failed[0]
            out.append(CheckpointFinding(severity="error", file=name,
                                         message=f"the consistency proof from {o_file} to {n_file} fails: {why}",
                                         detail={"old_size": proof.old_size, "new_size": proof.new_size}))
    return out


def _head_at(entries: list[ledger.Entry], n: int) -> str | None:
    if n > len(entries):
        return None
    return ledger.entry_hash(entries[n - 1]) if n else ledger.GENESIS


def _consistency(entries: list[ledger.Entry], seen: list[_Seen]) -> list[CheckpointFinding]:
    """An error for every checkpoint the ledger does not extend: a split view when another checkpoint contradicts
    it, else history removed or rewritten. A format-2 checkpoint is extended when the consistency proof from its
    tree to the ledger's whole tree (made from the ledger, checked against the checkpoint's root) holds."""
    tree = tlog.MerkleTree([tlog.leaf_hash(tlog.entry_leaf(e)) for e in entries])

    def extends(s: _Seen) -> bool:
        if s.root is None:
            return _head_at(entries, s.size) == s.head
        if s.size > len(tree):
            return False
        try:
            tree.consistency(s.size).verify(s.root, tree.head())
        except SignatureError:
            return False
        return True

    def same(a: _Seen, b: _Seen) -> bool:
        return (a.head, a.root) == (b.head, b.root) if (a.root is None) == (b.root is None) else True

    matched = [s for s in seen if extends(s)]
    missed = sorted((s for s in seen if not extends(s)), key=lambda s: (s.size, s.file))
    out = []
    for x in missed:
        others = sorted([y for y in matched if y.size >= x.size]
                        + [y for y in missed if y.size == x.size and not same(y, x)],
                        key=lambda y: (y.size != x.size, y.size, not y.witnessed, not y.given, y.file))
        detail: dict[str, Any] = {"size": x.size, **_commitment(x), "witnesses": list(x.witnesses)}
        if not others:
            first = max((y.size for y in matched if y.size < x.size), default=0) + 1
            when = f" on {x.time}" if x.time else ""
            what = (f"the ledger has {len(entries)} entries, fewer than the {x.size} witnessed{when}"
                    if x.size > len(entries) else f"entry {x.size} is not the one witnessed{when}"
                    if x.root is None else f"the ledger's first {x.size} entries are not the tree witnessed{when} "
                    "(its consistency proof to the ledger fails)")
            out.append(CheckpointFinding(severity="error", file=x.file, message=f"{what}: history was removed or "
                                         f"rewritten at or after entry {first}", detail={**detail, "first_entry": first}))
            continue
        y = others[0]
        first, last = _bounds(x, matched, missed)
        where = f"at entry {first}" if first == last else f"between entry {first} and entry {last}"
        follows = "follows it" if y in matched else "follows neither"
        out.append(CheckpointFinding(
            severity="error", file=x.file,
            message=f"split view: this checkpoint (size {x.size}, {_names(x)}) and {y.file} (size {y.size}, "
                    f"{_names(y)}) record different ledgers; the ledger here {follows} and first differs from this "
                    f"one {where}",
            detail={**detail, "first_entry": first, "last_entry": last, "other": y.file, "other_size": y.size,
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
    z = min([y for y in missed if y.witnessed or mine & set(y.witnesses)] + [x], key=lambda y: y.size)
    theirs = mine | set(z.witnesses)
    lo = max((y.size for y in matched if y.size < z.size and (not theirs or theirs & set(y.witnesses))),
             default=0)
    return lo + 1, z.size


def check_witnessed(entries: list[ledger.Entry], round_id: str, coordinators: Mapping[str, Ed25519PublicKey],
                    checkpoints: Iterable[tuple[str, bytes]],
                    witnesses: Mapping[str, Ed25519PublicKey] | None = None,
                    quorum: int = 1) -> list[tuple[str, str, dict]]:
    """The errors of :func:`check_checkpoints` for ``checkpoints`` (all given), as ``(file, message, details)``."""
    return [(f.file, f.message, f.detail) for f in check_checkpoints(entries, round_id, coordinators, checkpoints,
                                                                     witnesses=witnesses, quorum=quorum)
            if f.severity == "error"]
