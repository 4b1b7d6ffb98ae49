"""Ed25519 keys and DSSE envelopes.

An envelope is ``{"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}``; the signature
covers DSSE's pre-authentication encoding ``PAE(type, payload)``, so neither the payload nor its type can be
swapped. A key id is the SHA-256 of the raw 32-byte public key. Verification takes the public key from the
caller (the roster), never from the envelope: the envelope's ``keyid`` only helps to explain a mismatch.

Public API: :func:`generate_keypair`, :func:`load_private_key`, :func:`load_public_key`, :func:`key_id`,
:func:`pae`, :func:`sign_payload`, :func:`verify_envelope`, :func:`parse_envelope`, :data:`PAYLOAD_TYPES`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError, SignatureError
from .files import atomic_write_bytes, canonical_json, parse_json, read_bounded

__all__ = [
    "AMENDMENT_TYPE",
    "PAYLOAD_TYPES",
    "REPORT_TYPE",
    "RULES_TYPE",
    "SHEET_TYPE",
    "envelope_bytes",
    "envelope_payload",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "pae",
    "parse_envelope",
    "sign_payload",
    "verify_envelope",
]

SHEET_TYPE = "application/vnd.workbench.scoresheet+json"
RULES_TYPE = "application/vnd.workbench.rules+json"
REPORT_TYPE = "application/vnd.workbench.report+json"
LEDGER_TYPE = "application/vnd.workbench.ledger-entry+json"
# a coordinator's co-signature of a proposed amendment (workbench.round.authority: m of n coordinators)
AMENDMENT_TYPE = "application/vnd.workbench.amendment+json"
PAYLOAD_TYPES = frozenset({SHEET_TYPE, RULES_TYPE, REPORT_TYPE, LEDGER_TYPE, AMENDMENT_TYPE})
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
MAX_KEY_BYTES = 64 * 1024
ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


# ---------------------------------------------------------------- keys

def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's fingerprint: hex SHA-256 of its raw 32 bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keypair(key_name: str, directory: str | Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write ``NAME.key`` (PKCS#8 PEM, mode 0600, encrypted when a passphrase is given) and ``NAME.pub``.

    Existing files are never overwritten: a reviewer's key is their identity in the roster.
    """
    if not key_name or not set(key_name) <= ID_CHARS or key_name.startswith("."):
        raise KeyFileError(f"invalid key name '{key_name}'", expected="letters, digits, '_', '.', '-'")
    d = Path(directory)
    priv_path, pub_path = d / f"{key_name}.key", d / f"{key_name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise KeyFileError("key file exists and is never overwritten", file=p)
    key = Ed25519PrivateKey.generate()
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write_bytes(priv_path, priv, mode=0o600, overwrite=False)
    atomic_write_bytes(pub_path, pub, mode=0o644, overwrite=False)
    return priv_path, pub_path


def is_encrypted(path: str | Path) -> bool:
    """Whether a private key file needs a passphrase."""
    return b"ENCRYPTED" in read_bounded(path, MAX_KEY_BYTES)


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load an Ed25519 private key; a wrong or missing passphrase is a :class:`KeyFileError`."""
    data = read_bounded(path, MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError:
        if passphrase:
            raise KeyFileError("key is not encrypted but a passphrase was given", file=path) from None
        raise KeyFileError("key is encrypted", file=path, expected="its passphrase") from None
    except ValueError:
        if b"ENCRYPTED" in data:
            raise KeyFileError("cannot decrypt key: wrong passphrase", file=path) from None
        raise KeyFileError("not a PEM private key", file=path, expected="an Ed25519 key from 'workbench keys new'") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"key type is {type(key).__name__}", file=path, expected="Ed25519")
    if os.name == "posix" and Path(path).stat().st_mode & 0o077:
        # a readable private key is a leak, not a syntax problem: refuse rather than warn
        raise KeyFileError("private key is readable by others", file=path, expected="file mode 0600 (chmod 600)")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key (PEM)."""
    data = read_bounded(path, MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError("not a PEM public key", file=path, expected="an Ed25519 public key ('*.pub')") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"key type is {type(key).__name__}", file=path, expected="Ed25519")
    return key


def public_key_from_pem(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text (as stored in a roster)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise KeyFileError("not a PEM public key", expected="an Ed25519 public key in PEM") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"key type is {type(key).__name__}", expected="Ed25519")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    """PEM text of a public key."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# ---------------------------------------------------------------- DSSE

def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_payload(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` signed by ``key``."""
    if payload_type not in PAYLOAD_TYPES:
        raise SignatureError(f"unknown payload type '{payload_type}'", expected=", ".join(sorted(PAYLOAD_TYPES)))
    sig = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of an envelope (as written to disk)."""
    return canonical_json(envelope)


_STD_B64 = re.compile(r"[A-Za-z0-9+/]*")
_URL_B64 = re.compile(r"[A-Za-z0-9_-]*")


def _b64(value: Any, what: str, name: str) -> bytes:
    """Base64 as the DSSE spec says verifiers must accept it: the standard or the URL-safe alphabet (one of them,
    not a mix), with or without padding (when present, the right amount). Anything else is refused."""
    if not isinstance(value, str):
        raise SignatureError(f"malformed envelope: {what} is not a string", file=name, expected="base64 text")
    body = value.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        if value in (body, padded) and _STD_B64.fullmatch(body):
            return base64.b64decode(padded, validate=True)
        if value in (body, padded) and _URL_B64.fullmatch(body):
            return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        pass
    raise SignatureError(f"malformed envelope: {what} is not valid base64", file=name,
                         expected="standard or URL-safe base64, with or without padding")


def parse_envelope(data: bytes | str | dict[str, Any], name: str = "<envelope>") -> dict[str, Any]:
    """Check an envelope's structure (not its signature); return it."""
    if isinstance(data, bytes | str):
        if len(data) > MAX_ENVELOPE_BYTES:
            raise SignatureError("malformed envelope: too large", file=name, expected=f"at most {MAX_ENVELOPE_BYTES} bytes")
        try:
            data = parse_json(data, name)
        except Exception as e:  # InputFileError: report as an envelope problem, same one line
            raise SignatureError(f"malformed envelope: {getattr(e, 'message', e)}", file=name) from None
    # fields the spec does not define are ignored, as DSSE verifiers must (they are never read, let alone trusted)
    if not isinstance(data, dict) or not {"payloadType", "payload", "signatures"} <= set(data):
        raise SignatureError("malformed envelope", file=name, expected="an object with payloadType, payload, signatures")
    if not isinstance(data["payloadType"], str):
        raise SignatureError("malformed envelope: payloadType is not a string", file=name)
    _b64(data["payload"], "payload", name)
    sigs = data["signatures"]
    if not isinstance(sigs, list) or not sigs or len(sigs) > 16:
        raise SignatureError("malformed envelope: signatures", file=name, expected="a list of 1 to 16 signatures")
    for i, s in enumerate(sigs):
        if not isinstance(s, dict) or "sig" not in s:
            raise SignatureError(f"malformed envelope: signature {i}", file=name, expected="an object with keyid and sig")
        if "keyid" in s and not isinstance(s["keyid"], str):
            raise SignatureError(f"malformed envelope: signature {i} keyid", file=name, expected="a string")
        _b64(s["sig"], f"signature {i}", name)
    return data


def envelope_payload(data: bytes | str | dict[str, Any], name: str = "<envelope>") -> bytes:
    """An envelope's payload bytes, structure checked but signature not verified (for hashing what was signed)."""
    return _b64(parse_envelope(data, name)["payload"], "payload", name)


def verify_envelope(
    envelope: bytes | str | dict[str, Any],
    public_key: Ed25519PublicKey,
    expected_type: str | None = None,
    name: str = "<envelope>",
) -> bytes:
    """Verify an envelope with the caller's public key; return the payload bytes.

    Raises :class:`SignatureError` naming the reason: malformed envelope, unknown or unexpected payload
    type, signed by another key, or payload/signature modified.
    """
    env = parse_envelope(envelope, name)
    ptype = env["payloadType"]
    if ptype not in PAYLOAD_TYPES:
        raise SignatureError(f"unknown payload type '{ptype}'", file=name, expected=", ".join(sorted(PAYLOAD_TYPES)))
    if expected_type and ptype != expected_type:
        raise SignatureError(f"payload type is '{ptype}'", file=name, expected=expected_type)
    payload = _b64(env["payload"], "payload", name)
    message = pae(ptype, payload)
    want = key_id(public_key)
    for s in env["signatures"]:
        try:
            public_key.verify(_b64(s["sig"], "signature", name), message)
            return payload
        except InvalidSignature:
            continue
    claimed = [s.get("keyid", "") for s in env["signatures"]]
    if want not in claimed:
        raise SignatureError(
            f"wrong key: signed by {', '.join(c[:16] or '?' for c in claimed)}, not by the given key {want[:16]}",
            file=name,
        )
    raise SignatureError("signature does not match: payload or signature was modified", file=name)
