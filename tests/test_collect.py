"""Collecting sheets: accepted, rejected with a reason, recorded once in the ledger."""

from __future__ import annotations

import pytest
from coord_helpers import coord_key, make_round, sign_sheet

from workbench.core.errors import RoundError
from workbench.model.round import ledger_keys, load_round
from workbench.model.sheet import COI
from workbench.round.collect import accepted_sheets, collect
from workbench.round.ledger import read_entries, verify_chain


def _by_path(results):
    return {r.path: r for r in results}


def test_accept_and_reject_with_reasons(tmp_path):
    rd = make_round(tmp_path, experts=("e1", "e2", "e3"), teams=("ta", "tb"), coi={"e3": ["tb"]})
    sign_sheet(tmp_path, "e1", "ta")
    sign_sheet(tmp_path, "e2", "ta", key_name="e1")                # signed by another roster member's key
    sign_sheet(tmp_path, "e3", "tb")                                # not assigned (declared conflict)
    sign_sheet(tmp_path, "e1", "tb", round_id="other-round")
    sign_sheet(tmp_path, "e2", "tb", coi=COI(has_conflict=True, statement="former employer"))
    (rd / "sheets" / "e1" / "notes.txt.dsse.json").write_text("{}")
    res = _by_path(collect(rd, coord_key(tmp_path), "coord"))
    assert res["sheets/e1/ta.v1.dsse.json"].decision == "accepted"
    assert "wrong key" in res["sheets/e2/ta.v1.dsse.json"].reason
    assert res["sheets/e3/tb.v1.dsse.json"].reason == "e3 is not assigned to tb"
    assert "round 'other-round'" in res["sheets/e1/tb.v1.dsse.json"].reason
    assert "conflict of interest: former employer" in res["sheets/e2/tb.v1.dsse.json"].reason
    assert "file name" in res["sheets/e1/notes.txt.dsse.json"].reason
    assert sum(r.decision == "accepted" for r in res.values()) == 1
    entries = verify_chain(rd / "ledger.jsonl", ledger_keys(load_round(rd)))
    assert [e.type for e in entries[1:]] == ["submit", "collect"] * 6


def test_collect_is_idempotent_and_catches_replaced_files(tmp_path):
    rd = make_round(tmp_path)
    p = sign_sheet(tmp_path, "e1", "ta")
    collect(rd, coord_key(tmp_path), "coord")
    n = len(read_entries(rd / "ledger.jsonl"))
    again = collect(rd, coord_key(tmp_path), "coord")
    assert [r.new for r in again] == [False] and len(read_entries(rd / "ledger.jsonl")) == n
    p.write_bytes(p.read_bytes() + b"\n")  # still a valid envelope, but not the bytes that were collected
    [r] = collect(rd, coord_key(tmp_path), "coord")
    assert r.decision == "rejected" and "replaced" in r.reason


def test_unsigned_or_tampered_sheet(tmp_path):
    rd = make_round(tmp_path)
    p = sign_sheet(tmp_path, "e1", "ta")
    import base64
    import json

    env = json.loads(p.read_bytes())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["totals"]["total"] = 35.0
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    p.write_text(json.dumps(env))
    [r] = collect(rd, coord_key(tmp_path), "coord")
    assert r.decision == "rejected" and "modified" in r.reason


def test_accepted_sheets_takes_latest_accepted_and_needs_collect(tmp_path):
    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta", version=1)
    sign_sheet(tmp_path, "e1", "ta", version=2)
    sign_sheet(tmp_path, "e1", "ta", version=3, key_name="e2")  # rejected: must not replace v2
    r = load_round(rd)
    with pytest.raises(RoundError, match="not collected yet"):
        accepted_sheets(r)
    collect(rd, coord_key(tmp_path), "coord")
    best, unused = accepted_sheets(r)
    assert list(best) == [("e1", "ta")]
    reasons = {u.path: u.reason for u in unused}
    assert reasons["sheets/e1/ta.v1.dsse.json"] == "superseded by v2"
    assert "wrong key" in reasons["sheets/e1/ta.v3.dsse.json"]


def test_payload_sha256_is_the_signed_payloads_hash_and_sheet_entries_name_the_file(tmp_path):
    """Issue 26: one meaning for a ledger entry's payload_sha256, the signed content (here the sheet's DSSE
    payload, as for freeze, amend and report); the envelope file's hash is data.envelope_sha256. An entry without
    it (written before) reads as before: its payload_sha256 is the file's hash."""
    import base64
    import json

    from workbench.core.files import sha256_bytes
    from workbench.round import ledger

    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta")
    collect(rd, coord_key(tmp_path), "coord")
    f = rd / "sheets" / "e1" / "ta.v1.dsse.json"
    payload = base64.b64decode(json.loads(f.read_bytes())["payload"])
    entries = read_entries(rd / "ledger.jsonl")
    submit, decided = entries[-2], entries[-1]
    for e in (submit, decided):
        assert e.payload_sha256 == sha256_bytes(payload) != sha256_bytes(f.read_bytes())
        assert e.data["envelope_sha256"] == ledger.envelope_sha256(e) == sha256_bytes(f.read_bytes())
    old = submit.model_copy(update={"payload_sha256": sha256_bytes(f.read_bytes()),
                                    "data": {k: v for k, v in submit.data.items() if k != "envelope_sha256"}})
    assert ledger.envelope_sha256(old) == sha256_bytes(f.read_bytes())
    # the freeze entry means the same: the hash of the state its envelope signs
    freeze = entries[0]
    env = json.loads((rd / freeze.data["file"]).read_bytes())
    assert freeze.payload_sha256 == sha256_bytes(base64.b64decode(env["payload"]))
