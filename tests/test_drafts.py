"""The draft store: atomic saves, restore, corrupt drafts set aside, throttled autosave."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import WorkbenchError
from workbench.model.sheet import COI, Judgment
from workbench.notebook.drafts import Autosaver, Draft, DraftStore, Submission, parse_draft

SHA = "a" * 64


def _draft(**kw) -> Draft:
    base = {"round_id": "r1", "reviewer_id": "expert-01", "team_id": "team-a", "rubric_sha256": SHA}
    return Draft(**{**base, **kw})


def test_save_then_load_restores_everything(tmp_path):
    store = DraftStore(tmp_path)
    d = _draft(judgments={"x.a": Judgment(level=3, comment="그럭저럭"), "x.g": Judgment(verdict="pass", comment="ok")},
               coi=COI(has_conflict=True, statement="advised them in 2024"),
               orphans={"old.id": Judgment(level=2)},
               submitted=[Submission(version=1, file="sheets/expert-01/team-a.v1.dsse.json", sha256="b" * 64)])
    path = store.save(d)
    assert path == tmp_path / "drafts" / "expert-01" / "team-a.json"
    loaded = store.load("expert-01", "team-a")
    assert loaded.draft == d and loaded.corrupt_file is None
    # a human-readable file, with Hangul kept as text
    assert "그럭저럭" in path.read_text(encoding="utf-8")


def test_missing_draft_is_none(tmp_path):
    loaded = DraftStore(tmp_path).load("expert-01", "team-a")
    assert loaded.draft is None and loaded.corrupt_file is None and loaded.problem is None


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"schema": "workbench.draft/1"}', b"\xff\xfe"])
def test_corrupt_draft_is_set_aside_and_reported(tmp_path, content):
    store = DraftStore(tmp_path)
    p = store.path("expert-01", "team-a")
    p.parent.mkdir(parents=True)
    p.write_bytes(content)
    loaded = store.load("expert-01", "team-a")
    assert loaded.draft is None
    assert loaded.corrupt_file == p.with_name("team-a.json.corrupt-1")
    assert loaded.corrupt_file.read_bytes() == content  # kept, byte for byte
    assert not p.exists() and str(p) in loaded.problem


def test_second_corrupt_draft_never_replaces_the_first(tmp_path):
    store = DraftStore(tmp_path)
    p = store.path("expert-01", "team-a")
    p.parent.mkdir(parents=True)
    for i in (1, 2):
        p.write_text(f"broken {i}")
        assert store.load("expert-01", "team-a").corrupt_file.name == f"team-a.json.corrupt-{i}"
    assert p.with_name("team-a.json.corrupt-1").read_text() == "broken 1"


def test_draft_of_another_reviewer_is_not_restored(tmp_path):
    store = DraftStore(tmp_path)
    p = store.path("expert-02", "team-a")
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(_draft().to_json()))  # says expert-01
    loaded = store.load("expert-02", "team-a")
    assert loaded.draft is None and "belongs to expert-01/team-a" in loaded.problem


def test_ids_that_would_leave_the_drafts_folder_are_refused(tmp_path):
    with pytest.raises(WorkbenchError, match="invalid id"):
        DraftStore(tmp_path).path("../x", "team-a")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parse_draft_fails_only_with_a_workbench_error(data):
    try:
        parse_draft(data, "d.json")
    except WorkbenchError as e:
        assert str(e).startswith("d.json")


ids = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z0-9_]{1,8}){0,2}", fullmatch=True)
judgments = st.builds(Judgment, level=st.none() | st.integers(-5, 9), verdict=st.none() | st.sampled_from(["pass", "fail"]),
                      comment=st.text(max_size=40))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(ids, judgments, max_size=5), st.none() | st.booleans(), st.text(max_size=40))
def test_draft_bytes_round_trip(js, conflict, statement):
    d = _draft(judgments=js, coi=COI(has_conflict=conflict, statement=statement))
    assert parse_draft(json.dumps(d.to_json(), ensure_ascii=False).encode()) == d


# ---------------------------------------------------------------- autosave
# The autosaver's clock and timers belong to the test (``autosave_clock``): no sleeping, no wall-clock bounds.

class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.saved: list[Draft] = []
        self.fail = fail

    def __call__(self, d: Draft) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.saved.append(d)


def test_an_isolated_change_is_saved_at_once(autosave_clock):
    rec = _Recorder()
    a = Autosaver(rec, interval=0.2)
    d = _draft(coi=COI(has_conflict=False))
    a.schedule(d)
    assert rec.saved == [d] and a.saves == 1 and autosave_clock.timers == []
    autosave_clock.now += 0.2  # a later isolated change, once the interval has passed: at once again
    a.schedule(e := _draft(coi=COI(has_conflict=True)))
    assert rec.saved == [d, e] and autosave_clock.timers == []


def test_a_burst_is_coalesced_and_the_last_state_saved_one_interval_after_the_first_write(autosave_clock):
    rec = _Recorder()
    a = Autosaver(rec, interval=0.2)
    states = [_draft(coi=COI(statement="x" * i)) for i in range(1, 30)]
    first_write = autosave_clock.now
    for d in states:  # a reviewer typing: a change every 5 ms
        a.schedule(d)
        autosave_clock.now += 0.005
    assert rec.saved == [states[0]]  # the first at once, the rest wait for the interval
    [timer] = autosave_clock.timers  # one pending write for the whole burst
    assert timer.started and timer.due == pytest.approx(first_write + 0.2)
    autosave_clock.now = timer.due
    timer.fire()
    assert rec.saved == [states[0], states[-1]] and a.saves == 2
    a.flush()  # nothing left pending
    assert rec.saved == [states[0], states[-1]]
    autosave_clock.now += 0.01  # a change soon after that write waits for the next interval
    a.schedule(late := _draft(coi=COI(statement="late")))
    assert rec.saved[-1] == states[-1] and autosave_clock.timers[-1].due == pytest.approx(timer.due + 0.2)
    autosave_clock.timers[-1].fire()
    assert rec.saved[-1] == late and a.saves == 3


def test_flush_writes_the_pending_state_now(autosave_clock):
    rec = _Recorder()
    a = Autosaver(rec, interval=10)
    a.schedule(_draft())
    a.schedule(last := _draft(coi=COI(has_conflict=True)))
    a.flush()
    assert rec.saved[-1] == last and len(rec.saved) == 2
    assert autosave_clock.timers[0].cancelled  # the flush took the timer's write


def test_a_failed_save_is_reported_and_retried(autosave_clock):
    rec = _Recorder(fail=True)
    a = Autosaver(rec, interval=0)
    a.schedule(d := _draft())
    assert isinstance(a.error, OSError) and a.saves == 0
    rec.fail = False
    a.flush()  # the state was kept for the retry
    assert a.error is None and rec.saved[-1] == d
