"""Ledger checkpoints of format 1 (the hash-chain form of rounds before C2SP checkpoints, still read and, with
`--format 1`, written): the format, countersigning, and an audit that catches erased or rewritten history.
Format 2 (C2SP) has its own tests in test_checkpoint_c2sp.py."""

from __future__ import annotations

import shutil

import pytest
from coord_helpers import coord_key, make_round, sign_sheet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from workbench.audit.checks import audit_round
from workbench.cli.app import main
from workbench.core.errors import SignatureError
from workbench.core.signing import key_id, public_key_pem
from workbench.model.round import ledger_keys, load_round
from workbench.round.checkpoint import (
    Checkpoint,
    check_witnessed,
    checkpoint_round,
    cosign,
    format_checkpoint,
    make_checkpoint,
    parse_checkpoint,
)
from workbench.round.collect import collect
from workbench.round.ledger import read_entries, verify_chain

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WITNESS = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def _witness_findings(res):
    return [f for f in res.findings if f.check == "ledger.witness" and f.severity == "error"]


@pytest.fixture
def collected(tmp_path):
    rd = make_round(tmp_path, witnesses={"quorum": 1, "keys": [{"name": "auditor-01",
                                                                "public_key": public_key_pem(WITNESS.public_key())}]})
    sign_sheet(tmp_path, "e1", "ta")
    sign_sheet(tmp_path, "e2", "ta")
    collect(rd, coord_key(tmp_path), "coord")
    return rd


def test_format_round_trips_and_signatures_verify(collected, tmp_path):
    path, cp = checkpoint_round(collected, coord_key(tmp_path), "coord", fmt=1)[:2]
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"workbench.ledger.checkpoint/1\nround test-1\nsize 5\nhead {cp.head}\ntime ")
    assert parse_checkpoint(text).head == cp.head and cp.format == 1 and format_checkpoint(parse_checkpoint(text)) == text
    both = cosign(text, WITNESS, "auditor-01")
    assert parse_checkpoint(both).signers() == ["coord", "auditor-01"]
    assert cosign(both, WITNESS, "auditor-01") == both  # the same key signs once


def test_a_changed_byte_is_refused_when_countersigning(collected, tmp_path):
    path, _ = checkpoint_round(collected, coord_key(tmp_path), "coord", fmt=1)[:2]
    text = path.read_text(encoding="utf-8").replace("size 5", "size 4")
    with pytest.raises(SignatureError, match="signature of coord does not verify"):
        cosign(text, WITNESS, "auditor-01")


def test_truncated_history_fails_against_a_witnessed_checkpoint(collected, tmp_path):
    path, _ = checkpoint_round(collected, coord_key(tmp_path), "coord", fmt=1)[:2]
    kept = tmp_path / "auditor-copy.txt"
    kept.write_text(cosign(path.read_text(encoding="utf-8"), WITNESS, "auditor-01"), encoding="utf-8")
    assert _witness_findings(audit_round(collected, witnesses=[kept])) == []
    # the attacker drops the last submit/collect pair, the sheet and the folder's checkpoint: no key needed
    led = collected / "ledger.jsonl"
    led.write_bytes(b"".join(led.read_bytes().splitlines(keepends=True)[:-2]))
    (collected / "sheets" / "e2" / "ta.v1.dsse.json").unlink()
    path.unlink()
    res = audit_round(collected)  # alone, the folder cannot tell: clean, with a warning that says so
    assert res.clean and [f.severity for f in res.findings if f.check == "ledger.witness"] == ["warning"]
    found = _witness_findings(audit_round(collected, witnesses=[kept]))
    assert [f.message for f in found] == ["the ledger has 3 entries, fewer than the 5 witnessed on "
                                          f"{parse_checkpoint(kept.read_text()).time}: history was removed or "
                                          "rewritten at or after entry 1"]
    assert found[0].file.endswith("auditor-copy.txt") and found[0].detail["first_entry"] == 1


def test_a_consistent_rewrite_with_the_coordinators_key_fails_too(collected, tmp_path):
    from workbench.round.ledger import append

    early, _ = checkpoint_round(collected, coord_key(tmp_path), "coord", fmt=1)[:2]
    kept_early = tmp_path / "early.txt"
    kept_early.write_text(early.read_text())
    sign_sheet(tmp_path, "e1", "tb")
    collect(collected, coord_key(tmp_path), "coord")
    late, _ = checkpoint_round(collected, coord_key(tmp_path), "coord", fmt=1)[:2]
    kept_late = tmp_path / "late.txt"
    kept_late.write_text(late.read_text())
    # the coordinator rewrites everything after the first 5 entries, re-signing every line
    led = collected / "ledger.jsonl"
    entries = read_entries(led)
    led.write_bytes(b"".join(led.read_bytes().splitlines(keepends=True)[:5]))
    for e in entries[5:]:
        append(led, actor="coord", key=coord_key(tmp_path), type=e.type, payload_sha256=e.payload_sha256,
               data={**e.data, "reason": "rewritten"})
    shutil.rmtree(collected / "checkpoints")  # ...and removes the checkpoints the folder kept
    verify_chain(led, ledger_keys(load_round(collected)))  # a valid chain...
    assert audit_round(collected).clean
    found = _witness_findings(audit_round(collected, witnesses=[kept_early, kept_late]))
    assert len(found) == 1 and found[0].file.endswith("late.txt")
    assert "entry 7 is not the one witnessed" in found[0].message and found[0].detail["first_entry"] == 6


def test_checkpoints_of_strangers_or_other_rounds_are_findings(collected, tmp_path):
    entries = read_entries(collected / "ledger.jsonl")
    keys = {"coord": coord_key(tmp_path).public_key()}
    stranger = make_checkpoint(collected / "ledger.jsonl", "test-1", KEY, "mallory")
    other = make_checkpoint(collected / "ledger.jsonl", "other", coord_key(tmp_path), "coord")
    problems = check_witnessed(entries, "test-1", keys, [("s.txt", format_checkpoint(stranger).encode()),
                                                         ("o.txt", format_checkpoint(other).encode()),
                                                         ("x.txt", b"not a checkpoint")])
    assert [(p[0], p[1]) for p in problems] == [("s.txt", "unknown cosigner 'mallory' (key id "
                                                         f"{key_id(KEY.public_key())}): the rules list no witnesses"),
                                               ("s.txt", "not signed by a coordinator of the roster"),
                                               ("o.txt", "checkpoint of round 'other', not 'test-1'"),
                                               ("x.txt", "no blank line before the signatures")]


def test_cli_checkpoint_cosign_and_audit_witness(collected, tmp_path, capsys):
    keys = tmp_path / "keys"
    assert main(["checkpoint", str(collected), "--key", str(keys / "coord.key"), "--format", "1"]) == 0
    cp_file = next((collected / "checkpoints").glob("*.txt"))
    kept = tmp_path / "witness" / "kept.txt"
    assert main(["cosign", str(cp_file), "--key", str(keys / "e1.key"), "--name", "e1", "-o", str(kept)]) == 0
    assert "signed by coord, e1" in capsys.readouterr().out
    led = collected / "ledger.jsonl"
    led.write_bytes(b"".join(led.read_bytes().splitlines(keepends=True)[:-1]))
    cp_file.unlink()
    assert main(["audit", str(collected), "--witness", str(kept)]) == 1
    assert "ledger.witness" in capsys.readouterr().out


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(round_id=names, size=st.integers(0, 10**9), head=st.binary(min_size=32, max_size=32), signer=names)
def test_property_format_and_parse_are_inverse(round_id, size, head, signer):
    from workbench.round.checkpoint import _sign
    cp = Checkpoint(round_id=round_id, size=size, head=head.hex(), time="2026-01-15T09:30:00Z")
    cp = cp.model_copy(update={"signatures": (_sign(cp, KEY, signer),)})
    assert parse_checkpoint(format_checkpoint(cp)) == cp and cp.signers() == [signer]


@given(st.one_of(st.binary(max_size=600), st.text(max_size=600).map(str.encode)))
def test_property_random_input_gives_a_typed_error_or_a_checkpoint(data):
    from workbench.core.errors import WorkbenchError
    try:
        cp = parse_checkpoint(data)
    except WorkbenchError:
        return
    assert format_checkpoint(cp).encode() == data  # the only texts accepted are canonical ones


def test_an_unreadable_checkpoint_in_the_folder_is_a_finding_not_a_crash(collected):
    import os
    (collected / "checkpoints").mkdir(exist_ok=True)
    os.mkfifo(collected / "checkpoints" / "00000099.txt")
    found = _witness_findings(audit_round(collected))
    assert [(f.file, f.message) for f in found] == [("checkpoints/00000099.txt",
                                                      "not a regular file (a pipe, device or socket)")]
