"""Ed25519 keys and DSSE envelopes: every modification fails verification with its reason."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli.app import main
from workbench.core.errors import KeyFileError, SignatureError
from workbench.core.signing import (
    SHEET_TYPE,
    envelope_bytes,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    pae,
    sign_payload,
    verify_envelope,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_keypair("alice", d)
    generate_keypair("mallory", d)
    return {n: (load_private_key(d / f"{n}.key"), load_public_key(d / f"{n}.pub")) for n in ("alice", "mallory")}


PAYLOAD = b'{"round_id":"r1","totals":{"total":24.6}}'


def test_pae_matches_dsse_spec():
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_sign_and_verify(keys):
    priv, pub = keys["alice"]
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    assert env["signatures"][0]["keyid"] == key_id(pub) and len(key_id(pub)) == 64
    assert verify_envelope(envelope_bytes(env), pub, SHEET_TYPE) == PAYLOAD


def test_wrong_key(keys):
    env = sign_payload(PAYLOAD, SHEET_TYPE, keys["mallory"][0])
    with pytest.raises(SignatureError, match="wrong key: signed by"):
        verify_envelope(env, keys["alice"][1])


def test_key_inside_envelope_is_never_trusted(keys):
    # mallory signs and claims alice's key id: still refused, since only the caller's key is used
    env = sign_payload(PAYLOAD, SHEET_TYPE, keys["mallory"][0])
    env["signatures"][0]["keyid"] = key_id(keys["alice"][1])
    with pytest.raises(SignatureError, match="payload or signature was modified"):
        verify_envelope(env, keys["alice"][1])


def test_modified_payload(keys):
    priv, pub = keys["alice"]
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    env["payload"] = base64.b64encode(PAYLOAD.replace(b"24.6", b"34.6")).decode()
    with pytest.raises(SignatureError, match="payload or signature was modified"):
        verify_envelope(env, pub)


def test_unknown_and_swapped_payload_type(keys):
    priv, pub = keys["alice"]
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    env["payloadType"] = "application/x-evil"
    with pytest.raises(SignatureError, match="unknown payload type 'application/x-evil'"):
        verify_envelope(env, pub)
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    env["payloadType"] = "application/vnd.workbench.report+json"  # known type, but not what was signed
    with pytest.raises(SignatureError, match="modified"):
        verify_envelope(env, pub)
    with pytest.raises(SignatureError, match="payload type is"):
        verify_envelope(sign_payload(PAYLOAD, SHEET_TYPE, priv), pub, expected_type="application/vnd.workbench.report+json")


@pytest.mark.parametrize(
    "env",
    [
        b"not json",
        b"[]",
        b'{"payloadType": "x", "payload": "", "signatures": []}',
        b'{"payloadType": 1, "payload": "", "signatures": [{"sig": ""}]}',
        b'{"payloadType": "x", "payload": "***", "signatures": [{"sig": ""}]}',
        b'{"payloadType": "x", "payload": "YQ=", "signatures": [{"sig": ""}]}',  # wrong padding
        b'{"payloadType": "x", "payload": "YQ", "signatures": [{"sig": "-/"}]}',  # two alphabets mixed
        b'{"payload": "", "signatures": [{"sig": ""}]}',
        b"[" * 5000,
    ],
)
def test_malformed_envelopes(keys, env):
    with pytest.raises(SignatureError, match="malformed envelope"):
        verify_envelope(env, keys["alice"][1])


def _reencode(b64: str, urlsafe: bool, padded: bool) -> str:
    raw = base64.b64decode(b64)
    out = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    return out if padded else out.rstrip("=")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300), urlsafe=st.booleans(), padded=st.booleans(),
       extra=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ("payloadType", "payload",
                                                                                      "signatures")),
                             st.integers() | st.text(max_size=20), max_size=3),
       sig_extra=st.dictionaries(st.sampled_from(["key", "cert", "note"]), st.text(max_size=20), max_size=2))
def test_envelopes_the_dsse_spec_says_verifiers_must_accept(keys, payload, urlsafe, padded, extra, sig_extra):
    """Issue 26: URL-safe base64, missing padding and unknown fields are valid DSSE; the payload is the same, and
    a field nobody defined is never read (a key put there is not trusted: the caller's key decides)."""
    priv, pub = keys["alice"]
    env = sign_payload(payload, SHEET_TYPE, priv)
    env = {**extra, **env, "payload": _reencode(env["payload"], urlsafe, padded),
           "signatures": [{**sig_extra, **s, "sig": _reencode(s["sig"], urlsafe, padded)} for s in env["signatures"]]}
    assert verify_envelope(json.dumps(env).encode(), pub) == payload
    with pytest.raises(SignatureError):
        verify_envelope(json.dumps(env).encode(), keys["mallory"][1])  # another key: refused, whatever the extras say


def test_cli_verify_accepts_url_safe_unpadded_envelopes_with_unknown_fields(keys, tmp_path, capsys):
    from workbench.core.signing import public_key_pem

    priv, pub = keys["alice"]
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    env = {**env, "payload": _reencode(env["payload"], True, False), "note": "from another tool",
           "signatures": [{**env["signatures"][0], "sig": _reencode(env["signatures"][0]["sig"], True, False)}]}
    (tmp_path / "e.json").write_text(json.dumps(env))
    (tmp_path / "a.pub").write_text(public_key_pem(pub))
    assert main(["verify", str(tmp_path / "e.json"), "--pubkey", str(tmp_path / "a.pub")]) == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_payload_or_signature_byte_fails(keys, data):
    priv, pub = keys["alice"]
    env = sign_payload(PAYLOAD, SHEET_TYPE, priv)
    field = data.draw(st.sampled_from(["payload", "sig"]))
    raw = bytearray(base64.b64decode(env["payload"] if field == "payload" else env["signatures"][0]["sig"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    enc = base64.b64encode(bytes(raw)).decode()
    if field == "payload":
        env["payload"] = enc
    else:
        env["signatures"][0]["sig"] = enc
    with pytest.raises(SignatureError):
        verify_envelope(env, pub)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_envelope_byte_fails(keys, data):
    priv, pub = keys["alice"]
    b = bytearray(envelope_bytes(sign_payload(PAYLOAD, SHEET_TYPE, priv)))
    i = data.draw(st.integers(0, len(b) - 1))
    b[i] ^= data.draw(st.integers(1, 255))
    try:
        out = verify_envelope(bytes(b), pub)
    except SignatureError:
        return
    # only base64 padding-irrelevant or JSON-insignificant edits can survive, and then the payload is intact
    assert out == PAYLOAD


def test_private_key_mode_and_no_overwrite(tmp_path):
    priv, pub = generate_keypair("bob", tmp_path)
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    with pytest.raises(KeyFileError, match="never overwritten"):
        generate_keypair("bob", tmp_path)


def test_encrypted_key(tmp_path):
    priv, _ = generate_keypair("carol", tmp_path, b"correct horse")
    assert b"ENCRYPTED" in priv.read_bytes()
    assert load_private_key(priv, b"correct horse")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private_key(priv, b"wrong")
    with pytest.raises(KeyFileError, match="key is encrypted, expected its passphrase"):
        load_private_key(priv)


def test_world_readable_key_refused(tmp_path):
    priv, _ = generate_keypair("dave", tmp_path)
    os.chmod(priv, 0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_private_key(priv)


def test_cli_keys_sign_verify(tmp_path, capsys, monkeypatch, expert_rubric):
    from judgments import demo_judgments

    from workbench.model.sheet import COI, Reviewer, build_sheet, sheet_bytes

    monkeypatch.setenv("PASS_FOR_TEST", "s3cret phrase")
    assert main(["keys", "new", "erin", "--dir", str(tmp_path), "--passphrase-env", "PASS_FOR_TEST"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "encrypted" in out
    kid = key_id(load_public_key(tmp_path / "erin.pub"))
    sheet = build_sheet(expert_rubric, round_id="r", team_id="t", reviewer=Reviewer(id="erin", role="expert", key_id=kid),
                        judgments=demo_judgments(expert_rubric), coi=COI(has_conflict=False))
    (tmp_path / "s.json").write_bytes(sheet_bytes(sheet))
    env = tmp_path / "s.dsse.json"
    args = ["sign", str(tmp_path / "s.json"), "--key", str(tmp_path / "erin.key"), "--passphrase-env", "PASS_FOR_TEST",
            "--rubric", "rubrics/expert.yaml", "-o", str(env)]
    assert main(args) == 0
    assert main(["verify", str(env), "--pubkey", str(tmp_path / "erin.pub")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"valid: {env}")
    # tamper and verify again: one line, exit 1, the reason
    e = json.loads(env.read_bytes())
    e["payload"] = base64.b64encode(base64.b64decode(e["payload"]).replace(b'"total":', b'"total":1')).decode()
    env.write_text(json.dumps(e))
    assert main(["verify", str(env), "--pubkey", str(tmp_path / "erin.pub")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "modified" in err and "Traceback" not in err


def test_cli_sign_refuses_someone_elses_key(tmp_path, capsys, expert_rubric):
    from judgments import demo_judgments

    from workbench.model.sheet import COI, Reviewer, build_sheet, sheet_bytes

    generate_keypair("frank", tmp_path)
    sheet = build_sheet(expert_rubric, round_id="r", team_id="t", reviewer=Reviewer(id="erin", role="expert", key_id="0" * 64),
                        judgments=demo_judgments(expert_rubric), coi=COI(has_conflict=False))
    (tmp_path / "s.json").write_bytes(sheet_bytes(sheet))
    assert main(["sign", str(tmp_path / "s.json"), "--key", str(tmp_path / "frank.key"), "-o", str(tmp_path / "o.json")]) == 1
    assert "the reviewer's own key" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_cli_passphrase_never_from_argv():
    from workbench.cli.app import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["keys", "new", "x", "--passphrase", "oops"])
