"""C2SP signed notes, checkpoints and cosignatures (workbench.round.note): formats, key hashes, signing, verifying,
and parsers that refuse rather than crash. Go's note package checks the same files in test_tlog_interop.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import InputFileError, SignatureError, WorkbenchError
from workbench.round import note, tlog

ROOT = tlog.tree_head([tlog.leaf_hash(b"entry %d" % i) for i in range(7)])


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def keys():
    return {"coord": Ed25519PrivateKey.generate(), "w1": Ed25519PrivateKey.generate(),
            "w2": Ed25519PrivateKey.generate()}


def _signed(keys, size=7, root=ROOT) -> tuple[note.Checkpoint, bytes]:
    cp = note.Checkpoint(note.origin_for("demo-2026-stage1"), size, root)
    return cp, note.sign_checkpoint(cp, keys["coord"])


def test_origin_and_names():
    assert note.origin_for("demo-2026-stage1") == "workbench.example/rounds/demo-2026-stage1"
    assert note.origin_for("r1", "eval.gov.example/ai") == "eval.gov.example/ai/rounds/r1"
    assert note.witness_name("auditor-01") == "workbench.example/witnesses/auditor-01"
    for bad in ("", "Eval.example", "https://x.example", "x.example/", "a b", "x+y.example"):
        with pytest.raises(InputFileError, match="authority"):
            note.origin_for("r1", bad)
    with pytest.raises(InputFileError, match="round id"):
        note.origin_for("../r1")


def test_key_hash_and_vkey_follow_the_spec(keys):
    pub = keys["coord"].public_key()
    name = "workbench.example/rounds/r1"
    assert note.key_hash(name, pub) == hashlib.sha256(name.encode() + b"\n\x01" + _raw(keys["coord"])).digest()[:4]
    assert note.key_hash(name, pub, note.COSIGNATURE_V1) == hashlib.sha256(
        name.encode() + b"\n\x04" + _raw(keys["coord"])).digest()[:4]
    vkey = note.verifier_key(name, pub)
    n, h, material = vkey.split("+", 2)
    assert (n, bytes.fromhex(h)) == (name, note.key_hash(name, pub))
    assert base64.b64decode(material) == b"\x01" + _raw(keys["coord"])
    vk = note.parse_verifier_key(vkey)
    assert (vk.name, vk.sig_type, vk.vkey()) == (name, note.ED25519, vkey)
    cos = note.parse_verifier_key(note.verifier_key("w.example/w1", pub, note.COSIGNATURE_V1))
    assert cos.sig_type == note.COSIGNATURE_V1
    type2 = base64.b64encode(bytes([2]) + _raw(keys["coord"])).decode()
    for bad in (vkey.replace(h, "00000000"), vkey + "+x", f"{name}+{h}", f"a b+{h}+{material}",
                f"{name}+{h}+{type2}", f"{name}+{h}+!!!!"):
        with pytest.raises(InputFileError):
            note.parse_verifier_key(bad)


def test_checkpoint_text_is_the_c2sp_body():
    cp = note.Checkpoint("workbench.example/rounds/r1", 7, ROOT, ("ext one",))
    assert cp.text() == f"workbench.example/rounds/r1\n7\n{base64.b64encode(ROOT).decode()}\next one\n"
    assert note.parse_checkpoint_text(cp.text()) == cp
    assert note.parse_checkpoint_text(note.Checkpoint("o", 0, tlog.EMPTY_ROOT).text()).size == 0
    b64 = base64.b64encode(ROOT).decode()
    for text, what in ((f"o\n07\n{b64}\n", "tree size"), (f"o\n-1\n{b64}\n", "tree size"),
                       (f"o\n{2**63}\n{b64}\n", "tree size"), ("o\n7\nAAAA\n", "root hash"),
                       (f"o\n7\n{b64[:-1]}\n", "root hash"), (f"o\n7\n{b64}", "newline"),
                       (f"o\n7\n{b64}\n\next\n", "empty line"), ("o\n7\n", "lines"),
                       (f"o\n 7\n{b64}\n", "tree size")):
        with pytest.raises(InputFileError, match=what):
            note.parse_checkpoint_text(text, "cp.txt")
    with pytest.raises(InputFileError):
        note.Checkpoint("o", 1, b"short")
    with pytest.raises(InputFileError):
        note.Checkpoint("two\nlines", 1, ROOT)


def test_signed_checkpoint_verifies_and_every_change_fails(keys):
    cp, data = _signed(keys)
    text = data.decode()
    assert text.startswith(cp.text() + "\n\u2014 workbench.example/rounds/demo-2026-stage1 ")
    log = note.VerifierKey(cp.origin, keys["coord"].public_key())
    got, parsed, verified = note.open_checkpoint(data, log)
    assert got == cp and verified == {log.vkey(): None}
    # the signature line is base64 of the key hash and the 64-byte Ed25519 signature over the text
    blob = base64.b64decode(text.rsplit(" ", 1)[1])
    assert blob[:4] == log.key_hash and len(blob) == 68
    keys["coord"].public_key().verify(blob[4:], cp.text().encode())
    # another size, another root, another origin: the signature no longer verifies
    for changed in (text.replace("\n7\n", "\n8\n"), text.replace(base64.b64encode(ROOT).decode(),
                                                                  base64.b64encode(tlog.EMPTY_ROOT).decode())):
        with pytest.raises(SignatureError, match="does not verify"):
            note.open_checkpoint(changed, log)
    with pytest.raises(SignatureError, match="no signature by a known key"):   # the log's name changed
        note.open_checkpoint(text.replace("stage1", "stage2"), log)
    # another key under the same name is an unknown key, not a verified one
    other = note.VerifierKey(cp.origin, keys["w1"].public_key())
    with pytest.raises(SignatureError, match="no signature by a known key"):
        note.open_checkpoint(data, other)


def test_cosignature_v1_is_timestamped_and_bound_to_the_whole_text(keys):
    cp, data = _signed(keys)
    signed = note.parse_note(data)
    w1 = note.VerifierKey(note.witness_name("w1"), keys["w1"].public_key(), note.COSIGNATURE_V1)
    w2 = note.VerifierKey(note.witness_name("w2"), keys["w2"].public_key(), note.COSIGNATURE_V1)
    sig = note.cosign(signed.text, w1.name, keys["w1"], 1_767_225_600)
    assert sig.key_hash == w1.key_hash and sig.timestamp == 1_767_225_600
    # the spec's message: header line, time line, then the checkpoint text
    msg = b"cosignature/v1\ntime 1767225600\n" + cp.text().encode()
    keys["w1"].public_key().verify(sig.signature[8:], msg)
    assert sig.signature[:8] == (1_767_225_600).to_bytes(8, "big")
    both = signed.with_signature(sig).with_signature(note.cosign(signed.text, w2.name, keys["w2"], 5))
    log = note.VerifierKey(cp.origin, keys["coord"].public_key())
    _, _, verified = note.open_checkpoint(both.format(), log, [w1, w2])
    assert verified == {log.vkey(): None, w1.vkey(): 1_767_225_600, w2.vkey(): 5}
    # a re-cosign by the same witness replaces its line rather than adding one
    again = both.with_signature(note.cosign(signed.text, w1.name, keys["w1"], 9))
    assert len(again.signatures) == 3 and note.verify_signatures(again, [w1]) == {w1.vkey(): 9}
    # a witness's key used as a plain signer has another key hash: its cosignature is not an Ed25519 note sig
    plain_w1 = note.VerifierKey(w1.name, keys["w1"].public_key())
    with pytest.raises(SignatureError, match="no signature by a known key"):
        note.verify_signatures(note.SignedNote(signed.text, (sig,)), [plain_w1])
    # a changed time makes the cosignature fail, and a known key's failure rejects the whole note
    forged = note.NoteSignature(sig.name, sig.key_hash, (1_767_225_601).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureError, match="cosignature/v1 signature by .*w1.* does not verify"):
        note.open_checkpoint(signed.with_signature(forged).format(), log, [w1])
    short = note.NoteSignature(sig.name, sig.key_hash, sig.signature[:40])
    with pytest.raises(SignatureError):
        note.verify_signatures(note.SignedNote(signed.text, (short,)), [w1])
    # a cosignature alone is not the log's signature
    with pytest.raises(SignatureError, match="not signed by the log key"):
        note.open_checkpoint(note.SignedNote(signed.text, (sig,)).format(), log, [w1])
    with pytest.raises(InputFileError, match="cosignature time"):
        note.cosign(signed.text, w1.name, keys["w1"], -1)


def test_unknown_signatures_are_ignored(keys):
    cp, data = _signed(keys)
    stranger = note.cosign(cp.text(), "stranger.example/w", Ed25519PrivateKey.generate(), 1)
    with_stranger = note.parse_note(data).with_signature(stranger)
    log = note.VerifierKey(cp.origin, keys["coord"].public_key())
    _, parsed, verified = note.open_checkpoint(with_stranger.format(), log)
    assert len(parsed.signatures) == 2 and list(verified) == [log.vkey()]


def test_note_parser_refuses_malformed_notes(keys):
    _, data = _signed(keys)
    text = data.decode()
    cases = {
        "no blank line": text.replace("\n\n", "\n"),
        "not a signature line": text + "-- x AAAAAAA=\n",
        "no final newline": text[:-1],
        "invalid key name": text.replace("\u2014 workbench.example/rounds/demo-2026-stage1",
                                         "\u2014 a+b"),
        "invalid signature": text.rsplit(" ", 1)[0] + " AAAA\n",
        "control character": text.replace("workbench", "work\tbench", 1),
        "not valid UTF-8": data + b"\xff",
        "signatures": text + "".join(note.NoteSignature(f"n{i}", b"abcd", b"x").line() for i in range(100)),
        "bytes": text + "x" * note.MAX_NOTE_BYTES,
    }
    for what, bad in cases.items():
        with pytest.raises(InputFileError, match=what):
            note.parse_note(bad, "cp.txt")
    with pytest.raises(InputFileError, match="at least one signature"):
        note.SignedNote("x\n").format()
    with pytest.raises(InputFileError):
        note.sign("no newline", "n", keys["coord"])


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)
lines = st.lists(st.one_of(st.text(max_size=30), names.map(lambda n: f"\u2014 {n} AAAAAAAAAA==")), max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=400), lines.map("\n".join), st.tuples(lines, lines).map(
    lambda t: "\n".join(t[0]) + "\n\n" + "\n".join(t[1]) + "\n")))
def test_parsers_never_crash(data):
    try:
        parsed = note.parse_note(data)
    except InputFileError:
        return
    with contextlib.suppress(InputFileError):
        note.parse_checkpoint_text(parsed.text)
    with contextlib.suppress(SignatureError):
        note.verify_signatures(parsed, [note.VerifierKey("n", Ed25519PrivateKey.from_private_bytes(b"k" * 32).public_key())])
    # what parses formats back to the same bytes
    assert parsed.format() == (data if isinstance(data, bytes) else data.encode())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_vkey_parser_never_crashes(vkey):
    with contextlib.suppress(WorkbenchError):
        note.parse_verifier_key(vkey)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32),
       st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF), min_size=1, max_size=20),
                max_size=3), st.integers(0, 2**63 - 1))
def test_any_checkpoint_round_trips_signed_and_cosigned(size, root, extensions, t):
    coord, w = Ed25519PrivateKey.from_private_bytes(b"c" * 32), Ed25519PrivateKey.from_private_bytes(b"w" * 32)
    cp = note.Checkpoint("workbench.example/rounds/r1", size, root, tuple(extensions))
    signed = note.parse_note(note.sign_checkpoint(cp, coord))
    signed = signed.with_signature(note.cosign(signed.text, "w.example/w", w, t))
    wk = note.VerifierKey("w.example/w", w.public_key(), note.COSIGNATURE_V1)
    got, _, verified = note.open_checkpoint(signed.format(), note.VerifierKey(cp.origin, coord.public_key()), [wk])
    assert got == cp and verified[wk.vkey()] == t


any_text = st.text(st.characters(blacklist_categories=()), max_size=40)   # lone surrogates included


@settings(max_examples=300, deadline=None)
@given(any_text, any_text, st.integers(-1, 2**64), any_text)
def test_builders_refuse_bad_text_with_an_input_error(origin, name, t, note_text):
    key = Ed25519PrivateKey.from_private_bytes(b"k" * 32)
    with contextlib.suppress(InputFileError):
        cp = note.Checkpoint(origin, 3, ROOT, (name,) if name else ())
        note.parse_checkpoint_text(cp.text())
        note.sign_checkpoint(cp, key, name or None)
    for build in (lambda: note.sign(note_text, name, key), lambda: note.cosign(note_text, name, key, t),
                  lambda: note.verifier_key(name, key.public_key()), lambda: note.parse_note(note_text),
                  lambda: note.SignedNote(note_text, (note.NoteSignature(name, b"abcd", b"s"),)).format(),
                  lambda: note.origin_for(name, origin or "x.example"), lambda: note.witness_name(name)):
        with contextlib.suppress(InputFileError):
            build()
