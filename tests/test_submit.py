"""Submitting: signed, versioned, never overwritten, only with the reviewer's own key."""

from __future__ import annotations

import pytest
from judgments import demo_judgments

from workbench.core.errors import SignatureError
from workbench.core.files import sha256_bytes
from workbench.core.signing import (
    SHEET_TYPE,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    verify_envelope,
)
from workbench.model.sheet import COI, Reviewer, build_sheet, parse_sheet
from workbench.round import submit as submit_mod
from workbench.round.submit import sheet_path, sheet_versions, submit_sheet


@pytest.fixture()
def keyed(tmp_path, user_rubric):
    priv, pub = generate_keypair("user-01", tmp_path / "keys")
    key = load_private_key(priv)
    sheet = build_sheet(user_rubric, round_id="r1", team_id="team-a",
                        reviewer=Reviewer(id="user-01", role="user", key_id=key_id(key.public_key())),
                        judgments=demo_judgments(user_rubric), coi=COI(has_conflict=False), created_at="2026-01-01T00:00:00Z")
    return key, load_public_key(pub), sheet


def test_versions_count_up_and_earlier_ones_stay(tmp_path, keyed):
    key, pub, sheet = keyed
    out = tmp_path / "sheets"
    v1, p1 = submit_sheet(sheet, key, out)
    first = p1.read_bytes()
    v2, p2 = submit_sheet(sheet, key, out)
    assert (v1, v2) == (1, 2)
    assert p2 == out / "user-01" / "team-a.v2.dsse.json" == sheet_path(out, "user-01", "team-a", 2)
    assert p1.read_bytes() == first
    assert sheet_versions(out, "user-01", "team-a") == [1, 2]
    payload = verify_envelope(p2.read_bytes(), pub, SHEET_TYPE)
    # the same sheet, bound to its version and to the file it replaces
    assert parse_sheet(payload) == sheet.model_copy(update={"version": 2, "supersedes": sha256_bytes(first)})


def test_versions_ignore_other_teams_and_stray_files(tmp_path):
    d = tmp_path / "user-01"
    d.mkdir()
    for name in ("team-a.v1.dsse.json", "team-a.v10.dsse.json", "team-ab.v3.dsse.json", "team-a.v0.dsse.json",
                 "team-a.vx.dsse.json", ".team-a.v4.dsse.json.tmp"):
        (d / name).write_text("{}")
    assert sheet_versions(tmp_path, "user-01", "team-a") == [1, 10]
    assert sheet_versions(tmp_path, "nobody", "team-a") == []


def test_a_version_taken_by_a_racing_submission_is_skipped(tmp_path, keyed, monkeypatch):
    key, _, sheet = keyed
    out = tmp_path / "sheets"
    taken = sheet_path(out, "user-01", "team-a", 1)
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"the other submission")
    monkeypatch.setattr(submit_mod, "sheet_versions", lambda *a: [])  # it listed the folder before v1 appeared
    version, path = submit_sheet(sheet, key, out)
    assert version == 2 and taken.read_bytes() == b"the other submission"


def test_someone_elses_key_is_refused(tmp_path, keyed):
    _, _, sheet = keyed
    other = load_private_key(generate_keypair("other", tmp_path / "k2")[0])
    with pytest.raises(SignatureError, match="roster names"):
        submit_sheet(sheet, other, tmp_path / "sheets")
    assert not (tmp_path / "sheets").exists()
