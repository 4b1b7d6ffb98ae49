"""Checked by code nobody here wrote: the workbench's C2SP checkpoints, cosignatures and Merkle proofs as Go's
golang.org/x/mod/sumdb/note and sumdb/tlog and sigstore-python read them (also the files a witnessed round
writes: `workbench checkpoint`, `cosign` and the consistency proof between two checkpoints), and the three DSSE
envelope variants (standard, URL-safe base64, unknown fields) as securesystemslib verifies them.

tests/go/tlogcheck/main.go is built here against Debian's golang-golang-x-mod-dev (no network: GOPATH mode,
GOPROXY=off). Go computes the tree heads and proofs itself from the leaves (so its answers are the known
answers ours must equal) and checks ours with CheckRecord/CheckTree; note.Open verifies the coordinator's
signature with a vkey from note.NewVerifier and each witness's cosignature/v1 with the C2SP algorithm
written in Go (x/mod has no cosignature code). Under CI=true a missing go, x/mod, sigstore or securesystemslib
fails the tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, require, require_module
from coord_helpers import coord_key, make_round, sign_sheet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.round import note, tlog
from workbench.round.collect import collect
from workbench.round.ledger import read_entries

XMOD = Path("/usr/share/gocode")
GO_SOURCE = ROOT / "tests" / "go" / "tlogcheck" / "main.go"
W1 = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
W2 = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _raw(key) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory) -> Path:
    """The Go checker, built into a folder of this test's own (its build cache too)."""
    go = shutil.which("go")
    require(go and (XMOD / "src/golang.org/x/mod/sumdb/note/note.go").is_file(),
            "Go and golang.org/x/mod are not installed (apt-get install golang-go golang-golang-x-mod-dev)")
    work = tmp_path_factory.mktemp("go")
    src = work / "src" / "tlogcheck"
    src.mkdir(parents=True)
    shutil.copyfile(GO_SOURCE, src / "main.go")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "GOPATH": f"{work}:{XMOD}", "GO111MODULE": "off",
           "GOPROXY": "off", "GOFLAGS": "", "GOCACHE": str(work / "cache"), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
    out = subprocess.run([go, "build", "-o", str(work / "tlogcheck"), "."], cwd=src, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return work / "tlogcheck"


def run_go(binary: Path, request: dict) -> dict:
    out = subprocess.run([str(binary)], input=json.dumps(request), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def ledger_round(tmp_path_factory):
    """A real round: frozen, two sheets collected, then two more (the ledger grows between two checkpoints)."""
    base = tmp_path_factory.mktemp("round")
    rd = make_round(base)
    sign_sheet(base, "e1", "ta")
    sign_sheet(base, "e2", "ta")
    collect(rd, coord_key(base), "coord")
    first = len(read_entries(rd / "ledger.jsonl"))
    sign_sheet(base, "e1", "tb")
    sign_sheet(base, "e2", "tb")
    collect(rd, coord_key(base), "coord")
    return SimpleNamespace(rd=rd, key=coord_key(base), first=first, leaves=tlog.ledger_leaves(rd / "ledger.jsonl"))


def _checkpoint(leaves: list[bytes], size: int, key, witnesses=((W1, "w1", 1_767_225_600), (W2, "w2", 1_767_225_660))):
    """Format 2: the coordinator's signed checkpoint of the first ``size`` leaves, cosigned by witnesses."""
    hs = [tlog.leaf_hash(x) for x in leaves]
    cp = note.Checkpoint(note.origin_for("test-1"), size, tlog.tree_head(hs, size))
    signed = note.parse_note(note.sign_checkpoint(cp, key))
    for wkey, wid, t in witnesses:
        signed = signed.with_signature(note.cosign(signed.text, note.witness_name(wid), wkey, t))
    return cp, signed.format()


def _request(cp_bytes: bytes, key, leaves: list[bytes], inclusion=(), consistency=()) -> dict:
    return {"Leaves": [b64(x) for x in leaves], "Note": cp_bytes.decode(),
            "Vkey": note.verifier_key(note.origin_for("test-1"), key.public_key()),
            "Cosigners": {note.witness_name("w1"): b64(_raw(W1.public_key())),
                          note.witness_name("w2"): b64(_raw(W2.public_key()))},
            "Inclusion": list(inclusion), "Consistency": list(consistency)}


def _inclusion(hs, i, n, proof=None):
    return {"Index": i, "Size": n, "Root": b64(tlog.tree_head(hs, n)), "Leaf": b64(hs[i]),
            "Hashes": [b64(h) for h in (tlog.inclusion_proof(hs, i, n) if proof is None else proof)]}


def _consistency(hs, m, n, proof=None, new_root=None):
    return {"Old": m, "New": n, "OldRoot": b64(tlog.tree_head(hs, m)),
            "NewRoot": b64(new_root or tlog.tree_head(hs, n)),
            "Hashes": [b64(h) for h in (tlog.consistency_proof(hs, m, n) if proof is None else proof)]}


def test_go_reads_and_verifies_a_checkpoint_and_proofs_of_a_real_ledger(tlogcheck, ledger_round):
    leaves, key, n, m = ledger_round.leaves, ledger_round.key, len(ledger_round.leaves), ledger_round.first
    assert 0 < m < n
    hs = [tlog.leaf_hash(x) for x in leaves]
    cp, data = _checkpoint(leaves, n, key)
    incl = [_inclusion(hs, i, n) for i in range(n)]
    cons = [_consistency(hs, k, n) for k in range(1, n + 1)]
    out = run_go(tlogcheck, _request(data, key, leaves, incl, cons))
    # note.Open: the coordinator's Ed25519 signature and both cosignature/v1 lines verify
    assert out["vkey_error"] == "" and out["open_error"] == ""
    assert sorted(out["signers"]) == sorted([cp.origin, note.witness_name("w1"), note.witness_name("w2")])
    assert out["text"] == cp.text() and out["origin"] == "workbench.example/rounds/test-1"
    # tlog.ParseTree reads our size and root hash lines
    assert out["tree_error"] == "" and out["tree"] == {"N": n, "Hash": b64(cp.root_hash)}
    # Go's own tree over the ledger's entries: the same heads, the same proofs, and ours check
    assert out["roots"] == [b64(tlog.tree_head(hs, k)) for k in range(1, n + 1)]
    for mine, go in zip(incl, out["inclusion"], strict=True):
        assert go["prove_error"] == "" and go["check"] == "" and go["go"] == mine["Hashes"], mine
    for mine, go in zip(cons, out["consistency"], strict=True):
        assert go["prove_error"] == "" and go["check"] == "" and (go["go"] or []) == mine["Hashes"], mine
    # the witnessed checkpoint of the first collection, and the proof from it to today's head, as Go sees them
    old_cp, _ = _checkpoint(leaves, m, key)
    proof = tlog.ConsistencyProof.make(hs, m, n)
    proof.verify(old_cp.root_hash, cp.root_hash)
    assert out["consistency"][m - 1]["check"] == ""


def test_go_checks_the_proofs_the_cli_writes_with_only_the_checkpoint_and_the_entry(tlogcheck, ledger_round, tmp_path):
    """A reviewer's receipt: `workbench tlog prove-inclusion` and `prove-consistency` write JSON proofs; Go
    checks them knowing only the checkpoints' heads and the entry's line, never the ledger."""
    from workbench.cli.app import main

    leaves, key, n, m = ledger_round.leaves, ledger_round.key, len(ledger_round.leaves), ledger_round.first
    ledger_path = str(ledger_round.rd / "ledger.jsonl")
    old_cp, _ = _checkpoint(leaves, m, key)
    cp, data = _checkpoint(leaves, n, key)
    incl_file, cons_file = tmp_path / "incl.json", tmp_path / "cons.json"
    assert main(["tlog", "prove-inclusion", ledger_path, "--entry", str(m), "-o", str(incl_file)]) == 0
    assert main(["tlog", "prove-consistency", ledger_path, "--old-size", str(m), "-o", str(cons_file)]) == 0
    incl, cons = tlog.parse_proof(incl_file.read_bytes()), tlog.parse_proof(cons_file.read_bytes())
    assert isinstance(incl, tlog.InclusionProof) and isinstance(cons, tlog.ConsistencyProof)
    entry_line = (ledger_round.rd / "ledger.jsonl").read_bytes().splitlines()[m - 1]
    request = {"Note": data.decode(), "Vkey": note.verifier_key(cp.origin, key.public_key()), "Leaves": [],
               "Inclusion": [{"Index": incl.index, "Size": incl.size, "Root": b64(cp.root_hash),
                              "Leaf": b64(tlog.leaf_hash(entry_line)), "Hashes": incl.hashes}],
               "Consistency": [{"Old": cons.old_size, "New": cons.new_size, "OldRoot": b64(old_cp.root_hash),
                                "NewRoot": b64(cp.root_hash), "Hashes": cons.hashes}]}
    out = run_go(tlogcheck, request)
    assert out["open_error"] == "" and out["tree"] == {"N": n, "Hash": b64(cp.root_hash)}
    assert out["inclusion"][0]["check"] == "" and out["consistency"][0]["check"] == ""


def test_go_agrees_on_every_size_index_and_old_size_up_to_33(tlogcheck, ledger_round):
    """The known answers: Go's TreeHash, ProveRecord and ProveTree over the same leaves equal ours for every
    (index, size) and (old, new) pair of trees up to 33 leaves; Go's CheckRecord/CheckTree accept ours."""
    leaves = [b"leaf %d" % i for i in range(33)]
    hs = [tlog.leaf_hash(x) for x in leaves]
    incl = [_inclusion(hs, i, n) for n in range(1, 34) for i in range(n)]
    cons = [_consistency(hs, a, b) for b in range(1, 34) for a in range(1, b + 1)]
    out = run_go(tlogcheck, {"Leaves": [b64(x) for x in leaves], "Inclusion": incl, "Consistency": cons})
    assert out["roots"] == [b64(tlog.tree_head(hs, k)) for k in range(1, 34)]
    assert [(g["go"], g["check"]) for g in out["inclusion"]] == [(p["Hashes"], "") for p in incl]
    assert [(g["go"] or [], g["check"]) for g in out["consistency"]] == [(p["Hashes"], "") for p in cons]


def test_go_refuses_what_was_tampered_with(tlogcheck, ledger_round):
    leaves, key, n, m = ledger_round.leaves, ledger_round.key, len(ledger_round.leaves), ledger_round.first
    hs = [tlog.leaf_hash(x) for x in leaves]
    _, data = _checkpoint(leaves, n, key)
    text = data.decode()
    flip = lambda h: bytes([h[0] ^ 1]) + h[1:]  # noqa: E731
    # a rewritten ledger: entry 2 edited after the witnessed checkpoint of size m
    forged = [*hs[:1], tlog.leaf_hash(leaves[1] + b" "), *hs[2:]]
    bad_incl = [_inclusion(hs, 2, n, [flip(h) if k == 0 else h for k, h in enumerate(tlog.inclusion_proof(hs, 2, n))])]
    bad_cons = [_consistency(hs, m, n, tlog.consistency_proof(forged, m, n), new_root=tlog.tree_head(forged)),
                _consistency(hs, m, n, list(reversed(tlog.consistency_proof(hs, m, n))))]
    out = run_go(tlogcheck, _request(data, key, leaves, bad_incl, bad_cons))
    assert out["open_error"] == ""   # the note itself is fine
    assert out["inclusion"][0]["check"] == "invalid transparency proof"
    assert all(c["check"] for c in out["consistency"]), out["consistency"]
    # a changed size: note.Open refuses the coordinator's signature
    out = run_go(tlogcheck, _request(text.replace(f"\n{n}\n", f"\n{n + 1}\n").encode(), key, []))
    assert "invalid signature" in out["open_error"]
    # a cosignature whose time was changed: Go's cosignature/v1 verifier refuses it
    lines = text.splitlines(keepends=True)
    name, sig = lines[-1].rsplit(" ", 1)
    blob = bytearray(base64.b64decode(sig))
    blob[4 + 7] ^= 1
    out = run_go(tlogcheck, _request(("".join(lines[:-1]) + f"{name} {b64(bytes(blob))}\n").encode(), key, []))
    assert "invalid signature" in out["open_error"] and note.witness_name("w2") in out["open_error"]


def test_sigstore_python_parses_our_checkpoint_and_checks_signature_and_inclusion(ledger_round):
    require_module("sigstore", "sigstore-python is not installed (pip install sigstore)")
    from sigstore._internal.merkle import verify_merkle_inclusion
    from sigstore._internal.rekor.checkpoint import SignedCheckpoint
    from sigstore._internal.trust import Keyring
    from sigstore.errors import VerificationError
    from sigstore_models.common import v1 as common_v1

    leaves, key, n = ledger_round.leaves, ledger_round.key, len(ledger_round.leaves)
    hs = [tlog.leaf_hash(x) for x in leaves]
    cp, data = _checkpoint(leaves, n, key)
    parsed = SignedCheckpoint.from_text(data.decode())
    assert parsed.checkpoint.origin == cp.origin
    assert parsed.checkpoint.log_size == n
    assert parsed.checkpoint.log_hash == cp.root_hash.hex()
    assert parsed.checkpoint.other_content == []
    assert [s.name for s in parsed.signed_note.signatures] == [cp.origin, note.witness_name("w1"),
                                                              note.witness_name("w2")]
    log_hash = note.key_hash(cp.origin, key.public_key())
    assert parsed.signed_note.signatures[0].sig_hash == log_hash
    # sigstore's note verifier: it picks the line by key hash and checks Ed25519 over the note text
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    keyring = Keyring([common_v1.PublicKey(raw_bytes=base64.b64encode(der),
                                           key_details=common_v1.PublicKeyDetails.PKIX_ED25519)])
    parsed.signed_note.verify(keyring, log_hash + bytes(28))
    tampered = SignedCheckpoint.from_text(data.decode().replace(f"\n{n}\n", f"\n{n - 1}\n"))
    with pytest.raises(VerificationError, match="invalid signature"):
        tampered.signed_note.verify(keyring, log_hash + bytes(28))
    # sigstore's RFC 6962 inclusion check (written for Rekor entries) accepts each entry's proof against our head
    for i, leaf in enumerate(leaves):
        proof = SimpleNamespace(log_index=i, tree_size=n, hashes=tlog.inclusion_proof(hs, i), root_hash=cp.root_hash)
        verify_merkle_inclusion(SimpleNamespace(_inner=SimpleNamespace(inclusion_proof=proof, canonicalized_body=leaf)))
    with pytest.raises(VerificationError):
        verify_merkle_inclusion(SimpleNamespace(_inner=SimpleNamespace(inclusion_proof=proof,
                                                                       canonicalized_body=leaves[0])))


# ---------------------------------------------------------------- the files a round writes, as others read them

@pytest.fixture(scope="module")
def witnessed_round(tmp_path_factory):
    """A round with two listed witnesses, checkpointed by `workbench checkpoint` after each of two collections,
    each checkpoint cosigned by both witnesses with `workbench cosign` (the second from the add-checkpoint
    request and their first copy: the consistency proof path); the files are what Go and sigstore read."""
    from workbench.cli.app import main
    from workbench.core.signing import generate_keypair, load_public_key, public_key_pem

    base = tmp_path_factory.mktemp("witnessed")
    keys = base / "keys"
    for n in ("w1", "w2"):
        generate_keypair(n, keys)
    rd = make_round(base, witnesses={"quorum": 2, "keys": [
        {"name": n, "public_key": public_key_pem(load_public_key(keys / f"{n}.pub"))} for n in ("w1", "w2")]})
    kept = base / "witnesses"
    kept.mkdir()
    files = []
    for i, (reviewer, team) in enumerate((("e1", "ta"), ("e2", "tb")), start=1):
        sign_sheet(base, reviewer, team)
        assert main(["collect", str(rd), "--key", str(keys / "coord.key")]) == 0
        assert main(["checkpoint", str(rd), "--key", str(keys / "coord.key"),
                     "--witness-request", str(kept / f"req-{i}")]) == 0
        cp = rd / "checkpoints" / f"{len(read_entries(rd / 'ledger.jsonl')):08d}.txt"
        src = kept / f"req-{i}"
        for w in ("w1", "w2"):
            last = ["--last", str(kept / f"{w}-{i - 1}.txt")] if i > 1 else []
            assert main(["cosign", str(src), "--key", str(keys / f"{w}.key"), "--name", w, "-o",
                         str(kept / f"{w}-{i}.txt"), "--log-key", str(keys / "coord.pub"), *last]) == 0
            if w == "w1":  # w2 cosigns w1's copy (the same request): both lines end up on one file
                body = src.read_bytes()
                src = kept / f"req-{i}-w1"
                src.write_bytes(body[: body.index(b"\n\n") + 2] + (kept / f"w1-{i}.txt").read_bytes())
        cp.write_bytes((kept / f"w2-{i}.txt").read_bytes())  # the coordinator keeps the witnessed copy
        files.append(cp)
    return SimpleNamespace(rd=rd, base=base, files=files, coord=load_public_key(keys / "coord.pub"),
                           witnesses={n: load_public_key(keys / f"{n}.pub") for n in ("w1", "w2")})


def test_a_rounds_witnessed_checkpoints_and_consistency_proof_verify_in_go(tlogcheck, witnessed_round):
    w = witnessed_round
    origin = note.origin_for("test-1")
    first, second = (note.parse_checkpoint_text(note.parse_note(f.read_bytes()).text) for f in w.files)
    proof = tlog.parse_proof(next((w.rd / "checkpoints").glob("*.from-*.json")).read_bytes())
    assert (proof.old_size, proof.new_size) == (first.size, second.size)
    for f in w.files:
        request = {"Note": f.read_text(), "Vkey": note.verifier_key(origin, w.coord), "Leaves": [],
                   "Cosigners": {n: b64(_raw(k)) for n, k in w.witnesses.items()},
                   "Consistency": [{"Old": proof.old_size, "New": proof.new_size, "OldRoot": b64(first.root_hash),
                                    "NewRoot": b64(second.root_hash), "Hashes": proof.hashes}]}
        out = run_go(tlogcheck, request)
        tree = note.parse_checkpoint_text(note.parse_note(f.read_bytes()).text)
        assert out["open_error"] == "" and sorted(out["signers"]) == sorted([origin, "w1", "w2"])
        assert out["origin"] == origin and out["tree"] == {"N": tree.size, "Hash": b64(tree.root_hash)}
        # Go's tlog.CheckTree accepts the proof `workbench checkpoint` wrote between the two checkpoints
        assert out["consistency"][0]["check"] == ""
    # a ledger rewritten under the first checkpoint: Go refuses the proof against the witnessed root
    forged = {"Old": proof.old_size, "New": proof.new_size, "OldRoot": b64(bytes(32)),
              "NewRoot": b64(second.root_hash), "Hashes": proof.hashes}
    out = run_go(tlogcheck, {"Leaves": [], "Consistency": [forged]})
    assert out["consistency"][0]["check"] != ""


def test_a_rounds_witnessed_checkpoint_verifies_with_sigstore_python(witnessed_round):
    require_module("sigstore", "sigstore-python is not installed (pip install sigstore)")
    from sigstore._internal.rekor.checkpoint import SignedCheckpoint
    from sigstore._internal.trust import Keyring
    from sigstore_models.common import v1 as common_v1

    w = witnessed_round
    origin = note.origin_for("test-1")
    for f in w.files:
        tree = note.parse_checkpoint_text(note.parse_note(f.read_bytes()).text)
        parsed = SignedCheckpoint.from_text(f.read_text())
        assert (parsed.checkpoint.origin, parsed.checkpoint.log_size) == (origin, tree.size)
        assert parsed.checkpoint.log_hash == tree.root_hash.hex()
        assert [s.name for s in parsed.signed_note.signatures] == [origin, "w1", "w2"]
        der = w.coord.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        keyring = Keyring([common_v1.PublicKey(raw_bytes=base64.b64encode(der),
                                               key_details=common_v1.PublicKeyDetails.PKIX_ED25519)])
        parsed.signed_note.verify(keyring, note.key_hash(origin, w.coord) + bytes(28))


@pytest.mark.parametrize("variant", ["standard", "url-safe", "unknown-fields"])
def test_the_three_dsse_variants_verify_with_securesystemslib_and_workbench_verify(tmp_path, variant):
    require_module("securesystemslib", "securesystemslib is not installed (pip install securesystemslib)")
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    from workbench.cli.app import main
    from workbench.core.signing import SHEET_TYPE, key_id, public_key_pem, sign_payload

    # a payload whose base64 holds '+' and '/': the URL-safe alphabet spells it otherwise
    env = sign_payload(b'{"a sheet": ">>>???"}', SHEET_TYPE, W1)
    if variant == "url-safe":
        env = {**env, "payload": base64.urlsafe_b64encode(base64.b64decode(env["payload"])).decode(),
               "signatures": [{**s, "sig": base64.urlsafe_b64encode(base64.b64decode(s["sig"])).decode()}
                              for s in env["signatures"]]}
        assert "-" in env["payload"] or "_" in env["payload"]
    elif variant == "unknown-fields":
        env = {**env, "note": "from another tool", "signatures": [{**s, "cert": ""} for s in env["signatures"]]}
    (tmp_path / "e.json").write_text(json.dumps(env))
    (tmp_path / "w.pub").write_text(public_key_pem(W1.public_key()))
    assert main(["verify", str(tmp_path / "e.json"), "--pubkey", str(tmp_path / "w.pub")]) == 0
    key = SSlibKey.from_crypto(W1.public_key(), keyid=key_id(W1.public_key()))
    verified = Envelope.from_dict(json.loads(json.dumps(env))).verify([key], 1)
    assert list(verified) == [key_id(W1.public_key())]
    other = SSlibKey.from_crypto(W2.public_key(), keyid=key_id(W1.public_key()))
    from securesystemslib.exceptions import VerificationError
    with pytest.raises(VerificationError):
        Envelope.from_dict(json.loads(json.dumps(env))).verify([other], 1)
