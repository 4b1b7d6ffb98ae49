"""C2SP checkpoints (format 2) wired into a round, through the CLI: `workbench checkpoint` signs a tlog-checkpoint
of the ledger's Merkle tree and writes the consistency proof from the last witnessed one and the add-checkpoint
request; a witness cosigns with only that request, their last cosigned checkpoint and the coordinator's public
key (never the ledger) and refuses a rewritten log; a rewritten ledger fails the audit's consistency check
against a witnessed checkpoint; `collect` gives each reviewer a receipt that proves inclusion without the
ledger; the parser is total (hypothesis)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT
from coord_helpers import make_round, sign_sheet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli.app import main
from workbench.core.errors import SignatureError, WorkbenchError
from workbench.core.signing import generate_keypair, load_private_key, load_public_key, public_key_pem
from workbench.model.schemas import json_schema
from workbench.round import note, tlog
from workbench.round.checkpoint import check_checkpoints, describe_checkpoint, sign_tree
from workbench.round.ledger import append, read_entries
from workbench.round.receipt import verify_receipt

ORIGIN = "workbench.example/rounds/test-1"


def _round(base: Path, quorum: int = 1) -> Path:
    keys = base / "keys"
    for n in ("w1", "w2"):
        generate_keypair(n, keys)
    policy = {"quorum": quorum, "keys": [{"name": n, "public_key": public_key_pem(load_public_key(keys / f"{n}.pub"))}
                                         for n in ("w1", "w2")]}
    rd = make_round(base, witnesses=policy)
    sign_sheet(base, "e1", "ta")
    assert main(["collect", str(rd), "--key", str(keys / "coord.key")]) == 0
    return rd


def _checkpoint(rd: Path, base: Path, request: Path | None = None) -> Path:
    extra = ["--witness-request", str(request)] if request else []
    assert main(["checkpoint", str(rd), "--key", str(base / "keys" / "coord.key"), *extra]) == 0
    return rd / "checkpoints" / f"{len(read_entries(rd / 'ledger.jsonl')):08d}.txt"


def _cosign(base: Path, src: Path, witness: str, out: Path, last: Path | None = None) -> int:
    return main(["cosign", str(src), "--key", str(base / "keys" / f"{witness}.key"), "--name", witness,
                 "-o", str(out), "--log-key", str(base / "keys" / "coord.pub"),
                 *(["--last", str(last)] if last else [])])


def _witness_errors(rd: Path, *kept: Path, receipts=()) -> tuple[int, list[dict]]:
    rc = main(["audit", str(rd), *[a for k in kept for a in ("--witness", str(k))],
               *[a for r in receipts for a in ("--receipt", str(r))]])
    found = json.loads((rd / "audit" / "audit.json").read_text())["findings"]
    return rc, [f for f in found if f["check"] in ("ledger.witness", "ledger.receipt")]


def _rewrite_entry_2(rd: Path, base: Path) -> None:
    """The coordinator rewrites ledger entry 2 and re-signs every later line: a valid chain, another history."""
    key = load_private_key(base / "keys" / "coord.key")
    led = rd / "ledger.jsonl"
    entries = read_entries(led)
    led.write_bytes(b"".join(led.read_bytes().splitlines(keepends=True)[:1]))
    for e in entries[1:]:
        append(led, actor=e.actor, key=key, type=e.type, payload_sha256=e.payload_sha256,
               data={**e.data, "reason": "rewritten"} if e.seq == 2 else e.data)


def test_checkpoint_is_a_c2sp_note_of_the_ledgers_merkle_tree(tmp_path, capsys):
    rd = _round(tmp_path)
    path = _checkpoint(rd, tmp_path)
    text = path.read_text()
    entries = read_entries(rd / "ledger.jsonl")
    hs = [tlog.leaf_hash(line) for line in (rd / "ledger.jsonl").read_bytes().splitlines()]
    root = base64.b64encode(tlog.tree_head(hs)).decode()
    assert text.startswith(f"{ORIGIN}\n{len(entries)}\n{root}\n\n\u2014 {ORIGIN} ")
    coord = load_public_key(tmp_path / "keys" / "coord.pub")
    tree, _, verified = note.open_checkpoint(text, note.VerifierKey(ORIGIN, coord))
    assert tree.size == len(entries) and list(verified) == [note.verifier_key(ORIGIN, coord)]
    # `tlog show` prints the parsed checkpoint, valid against the shipped schema
    capsys.readouterr()
    assert main(["tlog", "show", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    jsonschema.validate(shown, json_schema("checkpoint"))
    assert shown["format"] == 2 and shown["round_id"] == "test-1" and shown["root_hash"] == root


def test_a_witness_follows_the_log_with_proofs_only_and_refuses_a_rewritten_one(tmp_path):
    rd = _round(tmp_path)
    witness = tmp_path / "witness"  # the witness's own folder: never the ledger
    witness.mkdir()
    first = _checkpoint(rd, tmp_path, request=witness / "req-1")
    assert (witness / "req-1").read_bytes().startswith(b"old 0\n\n")  # nothing witnessed yet: from 0
    assert _cosign(tmp_path, witness / "req-1", "w1", witness / "cp-1.txt") == 0
    shutil.copyfile(witness / "cp-1.txt", first)  # the coordinator keeps the cosigned copy
    old = describe_checkpoint(first.read_bytes()).size
    sign_sheet(tmp_path, "e2", "ta")
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    second = _checkpoint(rd, tmp_path, request=witness / "req-2")
    new = describe_checkpoint(second.read_bytes()).size
    # the request starts from the last witnessed checkpoint, and the proof file is kept beside the checkpoint
    req = note.parse_add_checkpoint((witness / "req-2").read_bytes())
    assert req.old_size == old < new and req.proof
    proof = tlog.parse_proof((rd / "checkpoints" / f"{new:08d}.from-{old:08d}.json").read_bytes())
    assert [base64.b64decode(h) for h in proof.hashes] == list(req.proof)
    # with the witness's folder alone (its last checkpoint, the request, the coordinator's public key): cosigned
    assert _cosign(tmp_path, witness / "req-2", "w1", witness / "cp-2.txt", last=witness / "cp-1.txt") == 0
    lines = describe_checkpoint((witness / "cp-2.txt").read_bytes()).signatures
    assert [x.name for x in lines] == [ORIGIN, "w1"] and lines[1].timestamp is not None
    # a request that does not start where the witness stopped is refused
    assert _cosign(tmp_path, witness / "req-2", "w1", witness / "x.txt") == 1
    # the coordinator rewrites entry 2 (re-signing every later line) and asks for a cosignature of the new tree,
    # with a proof made from the rewritten ledger: the witness's check of the proof fails, nothing is written
    _rewrite_entry_2(rd, tmp_path)
    forged = _checkpoint(rd, tmp_path, request=witness / "req-3")
    assert main(["checkpoint", str(rd), "--key", str(tmp_path / "keys" / "coord.key"), "--old-size", str(new),
                 "--witness-request", str(witness / "req-3")]) == 0
    assert _cosign(tmp_path, witness / "req-3", "w1", witness / "cp-3.txt", last=witness / "cp-2.txt") == 1
    assert not (witness / "cp-3.txt").exists() and forged.exists()


def test_cosign_reports_a_failed_proof_in_words(tmp_path, capsys):
    rd = _round(tmp_path)
    witness = tmp_path / "witness"
    witness.mkdir()
    _checkpoint(rd, tmp_path, request=witness / "req-1")
    assert _cosign(tmp_path, witness / "req-1", "w1", witness / "cp-1.txt") == 0
    sign_sheet(tmp_path, "e2", "ta")
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    old = describe_checkpoint((witness / "cp-1.txt").read_bytes()).size
    assert main(["checkpoint", str(rd), "--key", str(tmp_path / "keys" / "coord.key"), "--old-size", str(old),
                 "--witness-request", str(witness / "req-2")]) == 0
    body = (witness / "req-2").read_bytes().split(b"\n")
    body[1] = base64.b64encode(bytes(32))  # one proof hash replaced
    (witness / "req-2").write_bytes(b"\n".join(body))
    capsys.readouterr()
    assert _cosign(tmp_path, witness / "req-2", "w1", witness / "cp-2.txt", last=witness / "cp-1.txt") == 1
    assert "does not extend the one this witness cosigned" in capsys.readouterr().err


def test_a_rewritten_ledger_fails_the_consistency_check_against_a_witnessed_checkpoint(tmp_path):
    rd = _round(tmp_path)
    kept = tmp_path / "w1-kept.txt"
    assert _cosign(tmp_path, _checkpoint(rd, tmp_path), "w1", kept) == 0
    rc, found = _witness_errors(rd, kept)
    assert rc == 0 and [f["severity"] for f in found if f["file"].endswith("w1-kept.txt")] == ["info"]
    # the coordinator re-signs a consistent, valid chain whose entry 2 differs, and drops the folder's checkpoints
    _rewrite_entry_2(rd, tmp_path)
    shutil.rmtree(rd / "checkpoints")
    shutil.rmtree(rd / "receipts")
    rc, found = _witness_errors(rd, kept)
    errors = [f for f in found if f["severity"] == "error"]
    assert rc == 1 and len(errors) == 1 and errors[0]["file"].endswith("w1-kept.txt")
    assert "not the tree witnessed" in errors[0]["message"] and "consistency proof" in errors[0]["message"]
    # the same with the library call: a witnessed checkpoint the rewritten ledger does not extend
    coords = {"coord": load_public_key(tmp_path / "keys" / "coord.pub")}
    out = check_checkpoints(read_entries(rd / "ledger.jsonl"), "test-1", coords, [("k", kept.read_bytes())],
                            witnesses={"w1": load_public_key(tmp_path / "keys" / "w1.pub")})
    assert [f.severity for f in out] == ["info", "error"]


def test_an_edited_consistency_proof_file_is_an_audit_error(tmp_path):
    rd = _round(tmp_path)
    first = _checkpoint(rd, tmp_path)
    assert _cosign(tmp_path, first, "w1", tmp_path / "kept.txt") == 0
    shutil.copyfile(tmp_path / "kept.txt", first)
    sign_sheet(tmp_path, "e2", "ta")
    assert main(["collect", str(rd), "--key", str(tmp_path / "keys" / "coord.key")]) == 0
    proof_file = next((rd / "checkpoints").glob("*.from-*.json"))
    assert _witness_errors(rd, tmp_path / "kept.txt")[0] == 0
    proof = json.loads(proof_file.read_text())
    proof["hashes"][0] = base64.b64encode(bytes(32)).decode()
    proof_file.write_text(json.dumps(proof))
    rc, found = _witness_errors(rd, tmp_path / "kept.txt")
    assert rc == 1 and [f["file"] for f in found if f["severity"] == "error"] == [f"checkpoints/{proof_file.name}"]


def test_collect_gives_each_reviewer_a_receipt_that_proves_inclusion_without_the_ledger(tmp_path):
    rd = _round(tmp_path)
    receipt = rd / "receipts" / "e1" / "ta.v1.json"
    data = json.loads(receipt.read_text())
    jsonschema.validate(data, json_schema("receipt"))
    assert [x["entry"]["type"] for x in data["entries"]] == ["submit", "collect"]
    # a folder holding only the receipt and the coordinator's public key, and a fresh process
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(receipt, alone / "receipt.json")
    shutil.copyfile(tmp_path / "keys" / "coord.pub", alone / "coord.pub")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "workbench", "verify-receipt", "receipt.json", "--key", "coord.pub",
                          "--json"], cwd=alone, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    proved = json.loads(out.stdout)
    assert proved["sheet"] == "sheets/e1/ta.v1.dsse.json" and proved["decision"] == "accepted"
    assert proved["seqs"] == [2, 3] and proved["origin"] == ORIGIN
    assert sorted(p.name for p in alone.iterdir()) == ["coord.pub", "receipt.json"]
    # with the sheet file: its hash is the one recorded
    sheet = rd / "sheets" / "e1" / "ta.v1.dsse.json"
    keys = [load_public_key(tmp_path / "keys" / "coord.pub")]
    assert verify_receipt(receipt.read_bytes(), keys, sheet=sheet.read_bytes()).version == 1
    with pytest.raises(SignatureError, match="SHA-256 is not the one recorded"):
        verify_receipt(receipt.read_bytes(), keys, sheet=sheet.read_bytes() + b" ")


@pytest.mark.parametrize("tamper", ["decision", "proof", "checkpoint", "key", "swap"])
def test_a_tampered_receipt_or_another_key_fails(tmp_path, tamper):
    rd = _round(tmp_path)
    data = json.loads((rd / "receipts" / "e1" / "ta.v1.json").read_text())
    keys = [load_public_key(tmp_path / "keys" / "coord.pub")]
    if tamper == "decision":
        data["entries"][1]["entry"]["data"]["decision"] = "rejected"
    elif tamper == "proof":
        data["entries"][0]["proof"]["hashes"][0] = base64.b64encode(bytes(32)).decode()
    elif tamper == "checkpoint":
        lines = data["checkpoint"].split("\n")
        lines[1] = str(int(lines[1]) - 1)  # the size, with the coordinator's signature as it was
        data["checkpoint"] = "\n".join(lines)
    elif tamper == "key":
        keys = [load_public_key(tmp_path / "keys" / "w1.pub")]
    else:  # the proofs of the two entries exchanged
        a, b = data["entries"]
        a["proof"], b["proof"] = b["proof"], a["proof"]
    with pytest.raises(WorkbenchError):
        verify_receipt(json.dumps(data).encode(), keys)


def test_the_audit_checks_receipts_against_the_ledger(tmp_path):
    rd = _round(tmp_path)
    kept = tmp_path / "ta.v1.json"
    shutil.copyfile(rd / "receipts" / "e1" / "ta.v1.json", kept)
    rc, found = _witness_errors(rd, receipts=[kept])
    assert rc == 0 and any(f["message"].startswith("2 receipt(s) verified") for f in found), found
    # the collection the receipt covers is removed (no key needed), with the folder's own evidence of it
    led = rd / "ledger.jsonl"
    led.write_bytes(b"".join(led.read_bytes().splitlines(keepends=True)[:1]))
    shutil.rmtree(rd / "receipts")
    shutil.rmtree(rd / "checkpoints")
    (rd / "sheets" / "e1" / "ta.v1.dsse.json").unlink()
    rc, found = _witness_errors(rd, receipts=[kept])
    errors = [f for f in found if f["severity"] == "error"]
    assert rc == 1 and [f["check"] for f in errors] == ["ledger.receipt"]
    assert "does not hold the entries 2, 3" in errors[0]["message"]


# ---------------------------------------------------------------- the parser (hypothesis)



def _fixed_note() -> tuple[bytes, dict]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    coord = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    w = Ed25519PrivateKey.from_private_bytes(bytes(range(3, 35)))
    hs = [tlog.leaf_hash(b"leaf %d" % i) for i in range(5)]
    signed = note.parse_note(sign_tree("r", hs, coord))
    signed = signed.with_signature(note.cosign(signed.text, "w1", w, 1_767_225_600))
    return signed.format(), {"coord": coord, "w": w, "hs": hs}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 10_000), char=st.sampled_from("AZaz09+/=- \n\u2014x."))
def test_property_any_one_character_change_of_a_witnessed_c2sp_checkpoint_is_never_silently_witnessed(pos, char):
    data, k = _fixed_note()
    text = data.decode()
    i = pos % len(text)
    changed = text[:i] + char + text[i + 1:]
    entries_ok = []  # the log's leaves are not ledger entries here: compare against the tree itself
    found = check_checkpoints(entries_ok, "r", {"coord": k["coord"].public_key()}, [("x.txt", changed.encode())],
                              witnesses={"w1": k["w"].public_key()}, quorum=1)
    witnessed = [f for f in found if f.severity == "info"]
    errors = [f for f in found if f.severity == "error"]
    if changed == text:
        assert witnessed  # (and an error: an empty ledger does not extend a tree of 5)
        return
    assert errors, (i, char, found)
    try:
        view = describe_checkpoint(changed.encode())
    except WorkbenchError:
        return
    if view.root_hash != describe_checkpoint(data).root_hash or view.size != 5:
        assert not witnessed, (i, char, found)


@given(st.one_of(st.binary(max_size=800), st.text(max_size=800).map(str.encode)))
def test_property_random_input_gives_a_typed_error_or_a_checkpoint_view(data):
    try:
        view = describe_checkpoint(data)
    except WorkbenchError:
        return
    assert view.size >= 0 and view.signatures


@given(size=st.integers(0, 40), rid=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
       t=st.integers(0, 2**40))
def test_property_signed_checkpoints_round_trip_and_verify(size, rid, t):
    _, k = _fixed_note()
    hs = [tlog.leaf_hash(b"%d" % i) for i in range(size)]
    data = sign_tree(rid, hs, k["coord"])
    signed = note.parse_note(data)
    data = signed.with_signature(note.cosign(signed.text, "w1", k["w"], t)).format()
    view = describe_checkpoint(data)
    assert (view.round_id, view.size, view.root_hash) == (rid, size, base64.b64encode(tlog.tree_head(hs)).decode())
    assert [s.timestamp for s in view.signatures] == [None, t]
    out = check_checkpoints([], rid, {"c": k["coord"].public_key()}, [("x", data)],
                            witnesses={"w1": k["w"].public_key()})
    assert [f.severity for f in out][:1] == ["info"]


def test_witnesses_who_each_return_only_their_own_line_together_make_the_quorum(tmp_path):
    rd = _round(tmp_path, quorum=2)
    cp = _checkpoint(rd, tmp_path)
    one, two = tmp_path / "w1.txt", tmp_path / "w2.txt"
    assert _cosign(tmp_path, cp, "w1", one) == 0 and _cosign(tmp_path, cp, "w2", two) == 0
    rc, found = _witness_errors(rd, one)
    assert rc == 0 and any("is not witnessed (cosigned by 1 of the 2" in f["message"] for f in found)
    rc, found = _witness_errors(rd, one, two)
    assert rc == 0 and [f["severity"] for f in found if f["check"] == "ledger.witness"].count("warning") == 0
    assert [f["message"] for f in found if f["file"].endswith("w1.txt")] == [
        f"checkpoint of size {describe_checkpoint(cp.read_bytes()).size} witnessed by w1, w2 (quorum 2)"]


def test_cosign_refuses_a_checkpoint_not_signed_by_the_key_it_was_given(tmp_path, capsys):
    rd = _round(tmp_path)
    cp = _checkpoint(rd, tmp_path)
    out = tmp_path / "copy.txt"
    capsys.readouterr()
    assert main(["cosign", str(cp), "--key", str(tmp_path / "keys" / "w1.key"), "--name", "w1", "-o", str(out),
                 "--log-key", str(tmp_path / "keys" / "w2.pub")]) == 1
    assert "not signed by the coordinator key(s) given" in capsys.readouterr().err and not out.exists()
    # the coordinator's verifier key (vkey) works as well as their PEM file
    vkey = note.verifier_key(ORIGIN, load_public_key(tmp_path / "keys" / "coord.pub"))
    assert main(["cosign", str(cp), "--key", str(tmp_path / "keys" / "w1.key"), "--name", "w1", "-o", str(out),
                 "--log-key", vkey]) == 0 and out.exists()


def test_the_reports_inclusion_proof_is_checked_by_the_audit(tmp_path):
    from test_report_pages import published_round

    from workbench.audit.checks import audit_round

    rd, paths = published_round(tmp_path)
    proof = tlog.parse_proof(paths["inclusion"].read_bytes())
    tree = note.parse_checkpoint_text(note.parse_note(paths["checkpoint"].read_bytes()).text)
    entries = read_entries(rd / "ledger.jsonl")
    assert entries[proof.index].type == "report" and proof.size == tree.size == len(entries)
    proof.verify(tree.root_hash, tlog.entry_leaf(entries[proof.index]))
    files = [f for f in audit_round(rd).findings if f.check == "report.files"]
    assert files == []
    doc = json.loads(paths["inclusion"].read_text())
    doc["hashes"][-1] = base64.b64encode(bytes(32)).decode()
    paths["inclusion"].write_text(json.dumps(doc))
    files = [f for f in audit_round(rd).findings if f.check == "report.files"]
    assert [f.severity for f in files] == ["error"] and "inclusion proof does not hold" in files[0].message
