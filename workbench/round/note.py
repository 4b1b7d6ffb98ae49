"""C2SP signed notes, transparency-log checkpoints and witness cosignatures (checkpoint format 2).

A *signed note* (c2sp.org/signed-note) is UTF-8 text ending in a newline, a blank line, then one line per
signature::

    — <key name> base64(4-byte key hash || signature)

The key hash is the first four bytes of ``SHA-256(key name || 0x0A || type || public key)``: type ``0x01`` for
an Ed25519 signature over the note text (what the coordinator signs), ``0x04`` for a timestamped witness
*cosignature* (c2sp.org/tlog-cosignature ``cosignature/v1``), whose signature bytes are an 8-byte big-endian
POSIX time followed by Ed25519 over ``"cosignature/v1\\ntime <t>\\n"`` and the note text. A verifier knows
keys as *vkeys*, ``<name>+<hex key hash>+<base64(type || 32-byte key)>`` (what Go's ``note.NewVerifier``
reads), ignores signatures by keys it does not know, and rejects a note whose known signature fails.

A *checkpoint* (c2sp.org/tlog-checkpoint) is a note whose text is the origin (one log's name), the tree size
in decimal and the base64 RFC 6962 root hash (:mod:`workbench.round.tlog`), then optional extension lines. A
round's log is named :func:`origin_for` ``(round_id)``: ``<authority>/rounds/<round_id>`` with the default
authority ``workbench.example``; the coordinator signs with the origin as key name, witnesses with a name of
their own (:func:`witness_name` suggests one). The keys are the project's Ed25519 keys
(:mod:`workbench.core.signing`). docs/witnesses.md ("C2SP checkpoints (format 2)") shows a file and how to check it
with Go's ``golang.org/x/mod/sumdb/note``.

Notes come from outside (witnesses, teams, the press): parsing is bounded (:data:`MAX_NOTE_BYTES`,
:data:`MAX_SIGNATURES`) and every problem is an :class:`~workbench.core.errors.InputFileError` (malformed) or a
:class:`~workbench.core.errors.SignatureError` (does not verify).

Public API: :data:`ED25519`, :data:`COSIGNATURE_V1`, :data:`DEFAULT_AUTHORITY`, :func:`origin_for`,
:func:`witness_name`, :func:`key_hash`, :class:`VerifierKey`, :func:`verifier_key`, :func:`parse_verifier_key`,
:class:`Checkpoint`, :func:`parse_checkpoint_text`, :class:`NoteSignature`, :class:`SignedNote`,
:func:`parse_note`, :func:`sign`, :func:`cosign`, :func:`verify_signatures`, :func:`sign_checkpoint`,
:func:`open_checkpoint`, :class:`AddCheckpoint`, :func:`format_add_checkpoint`, :func:`parse_add_checkpoint`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.base import ID_PATTERN
from ..core.errors import InputFileError, SignatureError

__all__ = [
    "COSIGNATURE_V1",
    "AddCheckpoint",
    "DEFAULT_AUTHORITY",
    "ED25519",
    "Checkpoint",
    "NoteSignature",
    "SignedNote",
    "VerifierKey",
    "cosign",
    "format_add_checkpoint",
    "key_hash",
    "open_checkpoint",
    "origin_for",
    "parse_add_checkpoint",
    "parse_checkpoint_text",
    "parse_note",
    "parse_verifier_key",
    "sign",
    "sign_checkpoint",
    "verifier_key",
    "verify_signatures",
    "witness_name",
]

ED25519 = 0x01          # signed-note signature type: Ed25519 over the note text
COSIGNATURE_V1 = 0x04   # tlog-cosignature: timestamped Ed25519 witness cosignature
SIGNATURE_TYPES = {ED25519: "Ed25519", COSIGNATURE_V1: "cosignature/v1"}
DEFAULT_AUTHORITY = "workbench.example"
# the spec asks verifiers to accept at least 16 signatures; Go's note.Open stops at 100
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 64 * 1024
MAX_TIMESTAMP = 2**63 - 1
MAX_TREE_SIZE = 2**63 - 1
HASH_SIZE = 32
SIG_PREFIX = "\u2014 "  # em dash, space
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_AUTHORITY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(/[A-Za-z0-9._~-]+)*")


# ---------------------------------------------------------------- names and keys

def _valid_name(name: str) -> bool:
    """A key name: non-empty, no Unicode space, no ``+`` (signed-note; Go's ``isValidName``)."""
    if not name or "+" in name or any(c.isspace() or c < " " for c in name):
        return False
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _authority(authority: str) -> str:
    if not _AUTHORITY.fullmatch(authority):
        raise InputFileError(f"invalid origin authority '{authority}'",
                             expected="a lowercase host name, optionally followed by /path segments")
    return authority


def _id(value: str, what: str) -> str:
    if not re.fullmatch(ID_PATTERN, value):
        raise InputFileError(f"invalid {what} '{value}'", expected="letters, digits, '_', '.', '-'")
    return value


def origin_for(round_id: str, authority: str = DEFAULT_AUTHORITY) -> str:
    """The checkpoint origin (log name) of a round: ``<authority>/rounds/<round_id>``.

    ``authority`` is a schema-less URL a deployment owns (a host name, optionally with a path), so two
    institutions' rounds with the same id are still two logs; it need not be reachable.
    """
    return f"{_authority(authority)}/rounds/{_id(round_id, 'round id')}"


def witness_name(actor: str, authority: str = DEFAULT_AUTHORITY) -> str:
    """A suggested key name for a witness of this deployment: ``<authority>/witnesses/<actor>``."""
    return f"{_authority(authority)}/witnesses/{_id(actor, 'witness id')}"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey, sig_type: int = ED25519) -> bytes:
    """The 4-byte key hash: ``SHA-256(name || 0x0A || sig_type || 32-byte public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + _raw(public_key)).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A known signer: key name, signature type (:data:`ED25519` or :data:`COSIGNATURE_V1`), public key."""

    name: str
    public_key: Ed25519PublicKey
    sig_type: int = ED25519

    @property
    def key_hash(self) -> bytes:
        """The 4-byte key hash signature lines by this key carry."""
        return key_hash(self.name, self.public_key, self.sig_type)

    def vkey(self) -> str:
        """``<name>+<hex key hash>+<base64(type || key)>``: the form Go's ``note.NewVerifier`` reads."""
        return verifier_key(self.name, self.public_key, self.sig_type)


def verifier_key(name: str, public_key: Ed25519PublicKey, sig_type: int = ED25519) -> str:
    """The vkey string of a key: ``<name>+<8 hex digits key hash>+<base64(sig_type || 32-byte key)>``."""
    if not _valid_name(name):
        raise InputFileError(f"invalid key name '{name}'", expected="non-empty, without spaces or '+'")
    if sig_type not in SIGNATURE_TYPES:
        raise InputFileError(f"unsupported signature type 0x{sig_type:02x}", expected="0x01 or 0x04")
    material = base64.b64encode(bytes([sig_type]) + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key, sig_type).hex()}+{material}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """A :class:`VerifierKey` from a vkey string; the key hash must match the name and key."""
    if len(vkey) > 1024:
        raise InputFileError(f"verifier key is {len(vkey)} characters", expected="at most 1024")
    parts = vkey.split("+", 2)  # base64 key material may itself hold "+"
    if len(parts) != 3 or not _valid_name(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise InputFileError("malformed verifier key", expected="<name>+<8 hex digits>+<base64 key>")
    name, hash_hex, material = parts
    try:
        raw = base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
        raise InputFileError("verifier key material is not base64", expected="base64(type || 32-byte key)") from None
    if len(raw) != 33 or raw[0] not in SIGNATURE_TYPES:
        raise InputFileError("verifier key is not an Ed25519 key of a known type",
                             expected="base64 of 0x01 or 0x04 and 32 bytes")
    try:
        vk = VerifierKey(name, Ed25519PublicKey.from_public_bytes(raw[1:]), raw[0])
    except ValueError:
        raise InputFileError("verifier key is not an Ed25519 public key") from None
    if vk.key_hash.hex() != hash_hex:
        raise InputFileError(f"verifier key hash {hash_hex} does not match its name and key",
                             expected=vk.key_hash.hex())
    return vk


# ---------------------------------------------------------------- checkpoints

@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: the log's origin, its size, its RFC 6962 root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or not _no_controls(self.origin) or not _utf8(self.origin):
            raise InputFileError("invalid checkpoint origin", expected="one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise InputFileError(f"invalid tree size {self.size}", expected=f"0..{MAX_TREE_SIZE}")
        if len(self.root_hash) != HASH_SIZE:
            raise InputFileError(f"root hash is {len(self.root_hash)} bytes", expected=f"{HASH_SIZE}")
        for ext in self.extensions:
            if not ext or "\n" in ext or not _no_controls(ext) or not _utf8(ext):
                raise InputFileError("invalid checkpoint extension line", expected="non-empty lines")

    def text(self) -> str:
        """The note text: one line each for origin, size and base64 root hash, then the extensions."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _no_controls(text: str) -> bool:
    return not any(c < " " and c != "\n" for c in text)


def parse_checkpoint_text(text: str, name: str = "<checkpoint>") -> Checkpoint:
    """A :class:`Checkpoint` from a note's text (as :attr:`SignedNote.text` holds it, final newline included)."""
    if not text.endswith("\n"):
        raise InputFileError("checkpoint text does not end with a newline", file=name)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InputFileError(f"checkpoint has {len(lines)} lines", file=name,
                             expected="origin, tree size and root hash lines")
    for i, line in enumerate(lines, start=1):
        if not line:
            raise InputFileError("empty line in the checkpoint text", file=name, line=i)
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size) or int(size) > MAX_TREE_SIZE:
        raise InputFileError(f"invalid tree size '{size[:40]}'", file=name, line=2,
                             expected="a decimal number without leading zeroes")
    try:
        digest = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
        digest = b""
    if len(digest) != HASH_SIZE or base64.b64encode(digest).decode() != root:
        raise InputFileError("invalid root hash", file=name, line=3, expected="standard base64 of 32 bytes")
    return Checkpoint(origin, int(size), digest, tuple(extensions))


# ---------------------------------------------------------------- signed notes

@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, the 4-byte key hash, and the signature bytes after it (for a
    cosignature: the 8-byte time and the Ed25519 signature)."""

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not _valid_name(self.name) or len(self.key_hash) != 4 or not self.signature:
            raise InputFileError("invalid note signature", expected="a key name, a 4-byte key hash, a signature")

    def line(self) -> str:
        """``— <name> base64(key hash || signature)`` with its newline."""
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(self.key_hash + self.signature).decode()}\n"

    @property
    def timestamp(self) -> int | None:
        """The cosignature's time, if this is a well-formed ``cosignature/v1`` (else ``None``)."""
        return int.from_bytes(self.signature[:8], "big") if len(self.signature) == 8 + 64 else None


@dataclass(frozen=True)
class SignedNote:
    """A note's text (final newline included) and its signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _utf8(self.text)

    def format(self) -> bytes:
        """The note as a file holds it: text, blank line, signature lines."""
        if not self.signatures:
            raise InputFileError("a signed note needs at least one signature")
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def with_signature(self, sig: NoteSignature) -> SignedNote:
        """The note with ``sig`` added, replacing an earlier line by the same key (name and key hash)."""
        kept = tuple(s for s in self.signatures if (s.name, s.key_hash) != (sig.name, sig.key_hash))
        return SignedNote(self.text, (*kept, sig))


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 note can hold it
        raise InputFileError("note text is not valid Unicode", expected="UTF-8 text") from None


def _check_text(text: str) -> None:
    if not text.endswith("\n") or not _no_controls(text):
        raise InputFileError("note text must end with a newline and hold no control characters")
    if len(_utf8(text)) > MAX_NOTE_BYTES:
        raise InputFileError("note text is too long", expected=f"at most {MAX_NOTE_BYTES} bytes")


def parse_note(data: bytes | str, name: str = "<note>") -> SignedNote:
    """Parse a signed note as Go's ``note.Open`` does (without verifying): UTF-8 without control characters
    other than newline, text and signatures split at the last blank line, one well-formed line per signature."""
    raw = _utf8(data) if isinstance(data, str) else data
    if len(raw) > MAX_NOTE_BYTES:
        raise InputFileError(f"note is {len(raw)} bytes", file=name, expected=f"at most {MAX_NOTE_BYTES}")
    try:
        msg = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError("note is not valid UTF-8", file=name, line=raw[: e.start].count(b"\n") + 1) from None
    for i, line in enumerate(msg.split("\n"), start=1):
        if not _no_controls(line):
            raise InputFileError("control character in the note", file=name, line=i,
                                 expected="printable text and newlines only")
    split = msg.rfind("\n\n")
    if split < 0:
        raise InputFileError("no blank line before the signatures", file=name,
                             expected="text, a blank line, then signature lines")
    text, sigs = msg[: split + 1], msg[split + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise InputFileError("no signature lines after the blank line, or no final newline", file=name)
    first = text.count("\n") + 2
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InputFileError(f"note has {len(lines)} signatures", file=name, expected=f"at most {MAX_SIGNATURES}")
    out: list[NoteSignature] = []
    for i, line in enumerate(lines, start=first):
        if not line.startswith(SIG_PREFIX):
            raise InputFileError("not a signature line", file=name, line=i, expected="'— <key name> <base64>'")
        key_name, _, b64 = line[len(SIG_PREFIX):].partition(" ")
        if not _valid_name(key_name):
            raise InputFileError(f"invalid key name '{key_name[:40]}'", file=name, line=i,
                                 expected="non-empty, without spaces or '+'")
        try:
            blob = base64.b64decode(b64, validate=True) if b64 else b""
        except (binascii.Error, ValueError):
            blob = b""
        if len(blob) < 5:
            raise InputFileError("invalid signature", file=name, line=i,
                                 expected="standard base64 of a 4-byte key hash and a signature")
        out.append(NoteSignature(key_name, blob[:4], blob[4:]))
    return SignedNote(text, tuple(out))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def sign(text: str, name: str, key: Ed25519PrivateKey) -> NoteSignature:
    """The signer's Ed25519 note signature (type 0x01) over ``text``."""
    _check_text(text)
    if not _valid_name(name):
        raise InputFileError(f"invalid key name '{name}'", expected="non-empty, without spaces or '+'")
    return NoteSignature(name, key_hash(name, key.public_key(), ED25519), key.sign(text.encode()))


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> NoteSignature:
    """A witness's ``cosignature/v1`` (type 0x04) over ``text`` at POSIX time ``timestamp``."""
    _check_text(text)
    if not _valid_name(name):
        raise InputFileError(f"invalid key name '{name}'", expected="non-empty, without spaces or '+'")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InputFileError(f"invalid cosignature time {timestamp}", expected=f"0..{MAX_TIMESTAMP}")
    sig = key.sign(_cosigned_message(text, timestamp))
    return NoteSignature(name, key_hash(name, key.public_key(), COSIGNATURE_V1), timestamp.to_bytes(8, "big") + sig)


def _verify_one(note: SignedNote, sig: NoteSignature, vk: VerifierKey) -> int | None:
    try:
        if vk.sig_type == ED25519:
            vk.public_key.verify(sig.signature, note.text.encode())
            return None
        if len(sig.signature) != 8 + 64:
            raise InvalidSignature
        t = int.from_bytes(sig.signature[:8], "big")
        if t > MAX_TIMESTAMP:
            raise InvalidSignature
        vk.public_key.verify(sig.signature[8:], _cosigned_message(note.text, t))
        return t
    except InvalidSignature:
        kind = SIGNATURE_TYPES[vk.sig_type]
        raise SignatureError(f"{kind} signature by '{vk.name}' does not verify (note text or signature modified)",
                             expected="a signature over this exact text") from None


def verify_signatures(note: SignedNote, keys: Sequence[VerifierKey]) -> dict[str, int | None]:
    """Verify every signature by a known key, as the signed-note spec says: lines by unknown keys (name or
    key hash differ) are ignored, a known key's bad signature rejects the note, and at least one known
    signature must verify. Returns the verified keys' vkey strings (:meth:`VerifierKey.vkey`), each with its
    cosignature time (``None`` for a plain Ed25519 signature)."""
    known = {(vk.name, vk.key_hash): vk for vk in keys}
    verified: dict[str, int | None] = {}
    for sig in note.signatures:
        vk = known.get((sig.name, sig.key_hash))
        if vk is not None:
            verified[vk.vkey()] = _verify_one(note, sig, vk)
    if not verified:
        names = ", ".join(sorted({vk.name for vk in keys})) or "none"
        raise SignatureError("no signature by a known key", expected=f"a signature by one of: {names}")
    return verified


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey, name: str | None = None) -> bytes:
    """The checkpoint as a signed note, signed by the log (key name: the origin unless ``name`` is given)."""
    text = checkpoint.text()
    return SignedNote(text, (sign(text, name or checkpoint.origin, key),)).format()


def open_checkpoint(data: bytes | str, log_key: VerifierKey, witnesses: Sequence[VerifierKey] = (),
                    name: str = "<checkpoint>") -> tuple[Checkpoint, SignedNote, dict[str, int | None]]:
    """Parse and verify a checkpoint: the log's signature must be there and verify, every known witness's
    cosignature that is there must verify. Returns the checkpoint, the note and the verified signers (as
    :func:`verify_signatures`)."""
    note = parse_note(data, name)
    checkpoint = parse_checkpoint_text(note.text, name)
    try:
        verified = verify_signatures(note, [log_key, *witnesses])
    except SignatureError as e:
        raise SignatureError(e.message, file=name, expected=e.expected) from None
    if log_key.sig_type != ED25519 or log_key.vkey() not in verified:
        raise SignatureError(f"checkpoint is not signed by the log key '{log_key.name}'", file=name,
                             expected="the coordinator's signature line")
    return checkpoint, note, verified


# ---------------------------------------------------------------- the witness protocol's request (c2sp.org/tlog-witness)

MAX_WITNESS_PROOF_LINES = 63


@dataclass(frozen=True)
class AddCheckpoint:
    """The body of a tlog-witness ``add-checkpoint`` request: the size of the checkpoint the witness last
    cosigned, the consistency proof from it, and the new signed checkpoint (as its bytes)."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
    """``old <size>``, one base64 hash per line, a blank line, the signed checkpoint: what a C2SP witness's
    ``POST <prefix>/add-checkpoint`` reads (``workbench checkpoint --witness-request`` is to write it)."""
    if not 0 <= old_size <= MAX_TREE_SIZE:
        raise InputFileError(f"invalid old size {old_size}", expected=f"0..{MAX_TREE_SIZE}")
    if len(proof) > MAX_WITNESS_PROOF_LINES or any(len(h) != HASH_SIZE for h in proof):
        raise InputFileError("invalid consistency proof", expected=f"at most {MAX_WITNESS_PROOF_LINES} hashes of 32 bytes")
    parse_note(checkpoint)
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "".join(line + "\n" for line in lines).encode() + b"\n" + checkpoint


def parse_add_checkpoint(data: bytes, name: str = "<add-checkpoint>") -> AddCheckpoint:
    """An :class:`AddCheckpoint` from a request body (untrusted: bounded, every line checked; the checkpoint
    is parsed as a note but not verified: :func:`workbench.round.tlog.witness_check` does that)."""
    limit = MAX_NOTE_BYTES + 64 * (MAX_WITNESS_PROOF_LINES + 1)
    if len(data) > limit:
        raise InputFileError(f"request is {len(data)} bytes", file=name, expected=f"at most {limit}")
    head, sep, checkpoint = data.partition(b"\n\n")
    if not sep:
        raise InputFileError("no blank line before the checkpoint", file=name,
                             expected="'old <size>', proof lines, a blank line, the checkpoint")
    lines = head.split(b"\n")
    m = re.fullmatch(rb"old (0|[1-9][0-9]{0,18})", lines[0])
    if not m or int(m[1]) > MAX_TREE_SIZE:
        raise InputFileError("invalid old size line", file=name, line=1, expected="'old <decimal size>'")
    if len(lines) - 1 > MAX_WITNESS_PROOF_LINES:
        raise InputFileError(f"{len(lines) - 1} consistency proof lines", file=name,
                             expected=f"at most {MAX_WITNESS_PROOF_LINES}")
    proof = []
    for i, line in enumerate(lines[1:], start=2):
        try:
            h = base64.b64decode(line, validate=True)
        except binascii.Error:
            h = b""
        if len(h) != HASH_SIZE:
            raise InputFileError("invalid consistency proof line", file=name, line=i, expected="base64 of 32 bytes")
        proof.append(h)
    parse_note(checkpoint, name)
    return AddCheckpoint(int(m[1]), tuple(proof), checkpoint)
