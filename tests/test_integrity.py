"""Attacks on a round by someone with write access to its folder but no reviewer's key (issue 13)."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil

from coord_helpers import coord_key, make_round, sign_sheet

from workbench.model.round import load_round
from workbench.model.sheet import COI, parse_sheet
from workbench.round.collect import accepted_sheets, choose_versions, collect


def _payload(path):
    return json.loads(base64.b64decode(json.loads(path.read_bytes())["payload"]))


def _by_path(results):
    return {r.path: r for r in results}


def test_an_old_version_copied_as_a_new_one_is_refused(tmp_path):
    rd = make_round(tmp_path)
    sheets = rd / "sheets" / "e1"
    sign_sheet(tmp_path, "e1", "ta", version=1)
    sign_sheet(tmp_path, "e1", "ta", version=2)
    collect(rd, coord_key(tmp_path), "coord")
    # the attacker copies v1 (a better score, say) to v3: no key needed
    shutil.copyfile(sheets / "ta.v1.dsse.json", sheets / "ta.v3.dsse.json")
    res = _by_path(collect(rd, coord_key(tmp_path), "coord"))
    v3 = res["sheets/e1/ta.v3.dsse.json"]
    assert v3.decision == "rejected" and v3.check == "sheet.chain"
    assert "signed as version 1 but filed as v3" in v3.reason
    best, _ = accepted_sheets(load_round(rd))
    assert best[("e1", "ta")].version == 2


def test_a_version_whose_predecessor_was_removed_is_refused(tmp_path):
    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta", version=1)
    sign_sheet(tmp_path, "e1", "ta", version=2)
    (rd / "sheets" / "e1" / "ta.v1.dsse.json").unlink()
    res = _by_path(collect(rd, coord_key(tmp_path), "coord"))
    v2 = res["sheets/e1/ta.v2.dsse.json"]
    assert v2.check == "sheet.chain" and "ta.v1.dsse.json is missing" in v2.reason


def test_versions_are_signed_with_their_number_and_predecessor(tmp_path):
    rd = make_round(tmp_path)
    v1 = sign_sheet(tmp_path, "e1", "ta", version=1)
    v2 = sign_sheet(tmp_path, "e1", "ta", version=2)
    p1, p2 = parse_sheet(json.dumps(_payload(v1))), parse_sheet(json.dumps(_payload(v2)))
    assert (p1.version, p1.supersedes) == (1, None)
    from workbench.core.files import sha256_file
    assert (p2.version, p2.supersedes) == (2, sha256_file(v1))
    assert all(r.decision == "accepted" for r in collect(rd, coord_key(tmp_path), "coord"))


def test_a_later_conflict_declaration_withdraws_the_earlier_sheet(tmp_path):
    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta", version=1)
    sign_sheet(tmp_path, "e1", "ta", version=2, coi=COI(has_conflict=True, statement="I advised this team"))
    sign_sheet(tmp_path, "e2", "ta", version=1)
    collect(rd, coord_key(tmp_path), "coord")
    best, unused = accepted_sheets(load_round(rd))
    assert ("e1", "ta") not in best and ("e2", "ta") in best
    reasons = {u.path: u.reason for u in unused}
    assert reasons["sheets/e1/ta.v1.dsse.json"] == "withdrawn by v2, which declares a conflict of interest"


def test_choose_versions_rule():
    best, dropped = choose_versions([(("r", "t"), 1, "a"), (("r", "t"), 3, "c"), (("r", "u"), 1, "x")],
                                    withdrawals=[(("r", "u"), 2)])
    assert best == {("r", "t"): (3, "c")}
    assert sorted(dropped) == [("a", 3, False), ("x", 2, True)]
    # a version signed after the withdrawal counts again
    best, _ = choose_versions([(("r", "t"), 3, "c")], withdrawals=[(("r", "t"), 2)])
    assert best == {("r", "t"): (3, "c")}


def test_signed_parameters_must_be_the_sheets_identity(tmp_path):
    from workbench.core.files import atomic_write_bytes
    from workbench.core.signing import SHEET_TYPE, envelope_bytes, key_id, load_private_key, sign_payload
    from workbench.model.rubric import load_rubric
    from workbench.model.sheet import Reviewer, build_sheet, sheet_bytes

    rd = make_round(tmp_path)
    key = load_private_key(tmp_path / "keys" / "e1.key")
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    from judgments import demo_judgments
    sheet = build_sheet(rubric, round_id="test-1", team_id="ta",
                        reviewer=Reviewer(id="e1", role="expert", key_id=key_id(key.public_key())),
                        judgments=demo_judgments(rubric), coi=COI(has_conflict=False),
                        parameters={"reviewer_id": "e1", "team_id": "../../../tmp/x/evil", "role": "expert"})
    atomic_write_bytes(rd / "sheets" / "e1" / "ta.v1.dsse.json",
                       envelope_bytes(sign_payload(sheet_bytes(sheet), SHEET_TYPE, key)))
    res = _by_path(collect(rd, coord_key(tmp_path), "coord"))["sheets/e1/ta.v1.dsse.json"]
    assert res.decision == "rejected" and res.check == "sheet.identity"
    assert "parameter team_id='../../../tmp/x/evil'" in res.reason


def _collect_in_process(base: str) -> int:
    from pathlib import Path
    return sum(r.new for r in collect(Path(base) / "round", coord_key(Path(base)), "coord"))


def test_two_collections_at_once_record_each_sheet_once(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from workbench.round.ledger import read_entries
    rd = make_round(tmp_path, experts=("e1", "e2"), teams=("ta", "tb"))
    for e in ("e1", "e2"):
        for t in ("ta", "tb"):
            sign_sheet(tmp_path, e, t)
    with ProcessPoolExecutor(2) as pool:
        new = list(pool.map(_collect_in_process, [str(tmp_path)] * 2))
    assert sum(new) == 4  # one of the two recorded each sheet, the other saw it recorded
    entries = read_entries(rd / "ledger.jsonl")
    paths = [e.data["path"] for e in entries if e.type == "submit"]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 4


def test_a_full_disk_leaves_the_ledger_whole_and_a_retry_records_once(tmp_path):
    import os
    import subprocess

    import pytest
    from conftest import require

    from workbench.core.errors import InputFileError
    from workbench.model.round import ledger_keys
    from workbench.round.ledger import read_entries, verify_chain

    base = tmp_path / "small"
    base.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(base)], capture_output=True).returncode == 0
    require(mounted, "mounting a small tmpfs needs root (CI runs as root)")
    try:
        make_round(base)
        for t in ("ta", "tb"):
            sign_sheet(base, "e1", t)
        rd = base / "round"
        before = (rd / "ledger.jsonl").read_bytes()
        filler = base / "filler"
        with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):  # fill the disk to the last block
            while True:
                fh.write(b"\0" * 4096)
        with pytest.raises(InputFileError, match=r"ledger.jsonl: cannot write \(No space left on device\)"):
            collect(rd, coord_key(base), "coord")
        assert (rd / "ledger.jsonl").read_bytes() == before
        assert not [f for f in os.listdir(rd) if f.endswith(".tmp")]
        filler.unlink()
        collect(rd, coord_key(base), "coord")
        entries = verify_chain(rd / "ledger.jsonl", ledger_keys(load_round(rd)))
        assert [e.type for e in entries] == ["freeze"] + ["submit", "collect"] * 2
        assert oct((rd / "ledger.jsonl").stat().st_mode & 0o777) == "0o644"
        assert read_entries(rd / "ledger.jsonl") == entries
    finally:
        subprocess.run(["umount", "-l", str(base)], check=False)


def test_a_non_canonical_payload_is_refused(tmp_path):
    from workbench.core.signing import SHEET_TYPE, envelope_bytes, load_private_key, sign_payload
    rd = make_round(tmp_path)
    good = sign_sheet(tmp_path, "e1", "ta")
    pretty = json.dumps(_payload(good), indent=1).encode()  # the same sheet, other bytes, validly signed
    key = load_private_key(tmp_path / "keys" / "e1.key")
    good.unlink()
    good.write_bytes(envelope_bytes(sign_payload(pretty, SHEET_TYPE, key)))
    res = _by_path(collect(rd, coord_key(tmp_path), "coord"))["sheets/e1/ta.v1.dsse.json"]
    assert res.check == "sheet.format" and "canonical JSON" in res.reason


def test_a_mistyped_passphrase_option_is_not_echoed(capsys):
    import pytest

    from workbench.cli.app import main
    for argv in (["audit", "r", "--passphrase", "s3cret-pass"], ["audit", "r", "--passphrase=s3cret-pass"]):
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert "unrecognized arguments: --passphrase" in err and "s3cret" not in err


def test_draft_temporaries_left_by_a_killed_kernel_are_swept(tmp_path):
    import os
    import time

    from workbench.notebook.drafts import STALE_TMP_SECONDS, DraftStore
    store = DraftStore(tmp_path)
    p = store.path("e1", "ta")
    p.parent.mkdir(parents=True)
    stale, fresh = p.parent / ".ta.json.abc123.tmp", p.parent / ".ta.json.def456.tmp"
    stale.write_text("{half")
    fresh.write_text("{half")
    old = time.time() - STALE_TMP_SECONDS - 5
    os.utime(stale, (old, old))
    assert store.load("e1", "ta").draft is None
    assert not stale.exists() and fresh.exists()  # a save in flight elsewhere is left alone
