"""A whole stage on one hub (issue 24): what one reviewer's folder may do to the round, and what collect,
``hub accounts`` and ``hub serve`` do about it.

The collect tests are pure (no root). The rest create operating-system accounts through the fixtures of
tests/test_hub.py (a distinctive prefix; everything made is removed afterwards) and need root: CI runs them as
root, elsewhere they skip (or fail under CI=true).
"""

from __future__ import annotations

import logging
import os
import shutil

from coord_helpers import coord_key, make_round, sign_sheet

from workbench import collect as collect_mod
from workbench.collect import collect
from workbench.ledger import read_entries


def _to_outbox(rd, path):
    box = rd / "outbox" / path.parent.name
    box.mkdir(parents=True, exist_ok=True)
    return shutil.move(path, box / path.name)


def test_one_outbox_full_of_junk_is_one_note_and_never_reaches_the_ledger(tmp_path, monkeypatch, caplog):
    """198 junk files named as sheets, a link to a system file, a pipe and a file of another name: one note
    for the coordinator, nothing signed into the ledger; real sheets beyond the cap wait for the next collect."""
    rd = make_round(tmp_path)
    good = [_to_outbox(rd, sign_sheet(tmp_path, "e1", t)) for t in ("ta", "tb")]
    box = rd / "outbox" / "e1"
    for i in range(2, 200):
        (box / f"ta.v{i}.dsse.json").write_text('{"payloadType": "junk"}')
    (box / "tb.v2.dsse.json").symlink_to("/etc/passwd")
    os.mkfifo(box / "tb.v3.dsse.json")
    (box / "notes.txt").write_text("x")
    before = len(read_entries(rd / "ledger.jsonl"))
    monkeypatch.setattr(collect_mod, "MAX_PICKUP_PER_REVIEWER", 1)
    with caplog.at_level(logging.WARNING, logger="workbench"):
        res = collect(rd, coord_key(tmp_path), "coord")
    assert [(r.path, r.decision) for r in res] == [("sheets/e1/ta.v1.dsse.json", "accepted")]
    assert len(read_entries(rd / "ledger.jsonl")) == before + 2  # one submit and one collect entry
    [note] = [m for m in caplog.messages if m.startswith("outbox/e1")]
    assert "outbox/e1: 202 file(s) not taken" in note
    for part in ("198 not signed with e1's roster key", "1 link(s), never followed", "1 not regular file(s)",
                 "1 not named <team>.v<N>.dsse.json", "1 over the 1 taken per collection"):
        assert part in note, note
    assert os.readlink(box / "tb.v2.dsse.json") == "/etc/passwd" and not (rd / "sheets/e1/tb.v2.dsse.json").exists()
    res = collect(rd, coord_key(tmp_path), "coord")  # the next collection takes the sheet that waited
    assert sorted(r.path for r in res if r.new) == ["sheets/e1/tb.v1.dsse.json"] and good


def test_collect_after_publication_does_not_touch_the_outboxes(tmp_path, caplog):
    """Published (outboxes now the auditors'): one clear line, no PermissionError, the sheets still checked."""
    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta")
    _to_outbox(rd, sign_sheet(tmp_path, "e1", "tb"))
    (rd / "report").mkdir()
    (rd / "report" / "report.dsse.json").write_text("{}")
    (rd / "outbox").chmod(0o000)  # as the coordinator sees it after publication (root passes anyway)
    try:
        with caplog.at_level(logging.WARNING, logger="workbench"):
            res = collect(rd, coord_key(tmp_path), "coord")
    finally:
        (rd / "outbox").chmod(0o755)
    assert [r.path for r in res] == ["sheets/e1/ta.v1.dsse.json"]
    assert "the round is published: outboxes are not picked up any more" in caplog.text
