"""The dossier cache: computed once, loaded after its key is checked, rebuilt on any change, never trusted by
the audit, never unpickled."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import pytest
import yaml
from coord_helpers import coord_key, demo_evidence_round, make_round, with_results
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench.evidence.dossier_cache as dc
from workbench.audit.checks import audit_round
from workbench.cli.app import main
from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json, file_lock
from workbench.evidence.dossier import build_dossier
from workbench.model.round import load_round
from workbench.round.lifecycle import freeze

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_round(tmp_path_factory) -> Path:
    """The shipped demo teams and evidence (weights, tokenizer, config, training log, licences, results)."""
    return demo_evidence_round(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def results_round(tmp_path) -> Path:
    """A frozen round whose team ta submitted a results CSV (the dossier has points)."""
    rd = make_round(tmp_path, do_freeze=False)
    with_results(rd, {"ta": 0.9, "tb": 1.1})
    freeze(rd, coord_key(tmp_path), "coord")
    return rd


def _files(rd: Path, team: str) -> list[Path]:
    return sorted((rd / dc.CACHE_DIR / team).glob("*.json"))


def test_every_demo_dossier_survives_the_json_round_trip(demo_round):
    r = load_round(demo_round)
    for t in r.teams.teams:
        d = build_dossier(r, t.id)
        data = json.loads(canonical_json(dc.dossier_to_json(d)))
        back = dc.dossier_from_json(data)
        assert back == d, t.id
        assert canonical_json(back.summary()) == canonical_json(d.summary())
        assert back.independence_flags() == d.independence_flags()


def test_built_once_then_loaded_after_its_key_is_checked(results_round, monkeypatch):
    r = load_round(results_round)
    first = dc.cached_dossier(r, "ta")
    [f] = _files(results_round, "ta")
    assert f.stem == dc.cache_key(r, "ta").key
    doc = json.loads(f.read_bytes())
    assert doc["schema_version"] == dc.SCHEMA_VERSION and doc["key"] == f.stem
    assert "evidence/ta/results.csv" in doc["key_inputs"]["files"]

    def no_build(*a, **k):
        raise AssertionError("rebuilt although a cached dossier with the current key exists")

    monkeypatch.setattr(dc, "build_dossier", no_build)
    again = dc.cached_dossier(load_round(results_round), "ta")
    assert again == first and again.points


def test_a_changed_input_makes_a_new_key_and_the_old_file_is_never_shown(results_round):
    r = load_round(results_round)
    before = dc.cached_dossier(r, "ta")
    csv = results_round / "evidence" / "ta" / "results.csv"
    old = csv.read_text()
    with_results(results_round, {"ta": 0.5, "tb": 1.1})  # ta's results file rewritten: 0.5 x its targets
    assert csv.read_text() != old
    after = dc.cached_dossier(load_round(results_round), "ta")
    assert len(_files(results_round, "ta")) == 2
    assert after.summary() == build_dossier(load_round(results_round), "ta").summary()
    assert after.summary()["benchmark_points"] != before.summary()["benchmark_points"]
    # a new file in the team's folder, a reference file, the seed and the round's state change the key too
    k0 = dc.cache_key(r, "ta")
    (results_round / "evidence" / "ta" / "notes.txt").write_text("x")
    k1 = dc.cache_key(r, "ta")
    (results_round / "references").mkdir(exist_ok=True)
    (results_round / "references" / "r.json").write_text("{}")
    k2 = dc.cache_key(r, "ta")
    teams = yaml.safe_load((results_round / "teams.yaml").read_text())
    teams["teams"][0]["targets"]["kmmlu"] = 0.7
    (results_round / "teams.yaml").write_text(yaml.safe_dump(teams))
    k3 = dc.cache_key(load_round(results_round), "ta")
    keys = {k.key for k in (k0, k1, k2, k3, dc.cache_key(r, "ta", seed=1))}
    assert len(keys) == 5


def test_a_file_that_does_not_hold_its_key_is_not_used(results_round, caplog):
    r = load_round(results_round)
    dc.cached_dossier(r, "ta")
    [f] = _files(results_round, "ta")
    doc = json.loads(f.read_bytes())
    other = dc.dossier_to_json(dc.cached_dossier(r, "tb"))
    # another team's dossier planted under ta's key, with ta's key inputs: refused, rebuilt
    f.write_bytes(canonical_json({**doc, "dossier": other}))
    assert dc.cached_dossier(r, "ta").team == "ta"
    for bad in (b"\x80\x04K\x01.", b"{", b'{"schema_version": 99}', canonical_json({**doc, "key": "0" * 64}),
                canonical_json({**doc, "key_inputs": {**doc["key_inputs"], "seed": 3}})):
        f.write_bytes(bad)  # a pickle, broken JSON, another schema, another key: never used, never a traceback
        d = dc.cached_dossier(r, "ta")
        assert d == build_dossier(r, "ta")
        assert json.loads(f.read_bytes())["dossier"] == dc.dossier_to_json(d)  # written again, whole
    assert "cached dossier not used" in caplog.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12))
def test_the_dossier_parser_raises_only_evidence_errors(data):
    with contextlib.suppress(EvidenceError):  # anything else (a TypeError, say) fails the test
        dc.dossier_from_json(data)


def test_off_builds_and_writes_nothing(results_round, monkeypatch):
    monkeypatch.setenv(dc.CACHE_ENV, "off")
    d = dc.cached_dossier(load_round(results_round), "ta")
    assert d.points and not (results_round / "cache").exists()


def test_a_read_only_round_still_gets_its_dossier(results_round, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dc, "file_lock", refuse)
    assert dc.cached_dossier(load_round(results_round), "ta").points


def test_two_kernels_starting_together_build_once(results_round, monkeypatch):
    r = load_round(results_round)
    key = dc.cache_key(r, "ta")
    builds: list[str] = []
    real = dc.build_dossier

    def counted(*a, **k):
        builds.append(a[1])
        time.sleep(0.3)  # the other one arrives while this one builds
        return real(*a, **k)

    monkeypatch.setattr(dc, "build_dossier", counted)
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(dc.cached_dossier(r, "ta", key=key))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert builds == ["ta"] and len(got) == 3 and got[0] == got[1] == got[2]


def test_a_lock_held_elsewhere_is_waited_for(results_round, monkeypatch):
    r = load_round(results_round)
    key = dc.cache_key(r, "ta")
    lock = results_round / dc.CACHE_DIR / "ta" / ".lock"
    done: list = []
    with file_lock(lock):
        t = threading.Thread(target=lambda: done.append(dc.cached_dossier(r, "ta", key=key)))
        t.start()
        time.sleep(0.5)
        assert not done  # waiting for the lock
        dc._write(r, key, build_dossier(r, "ta"))  # what the lock's holder (another kernel) writes

        def no_build(*a, **k):
            raise AssertionError("built again after the other kernel wrote it")

        monkeypatch.setattr(dc, "build_dossier", no_build)
    t.join(60)
    assert done and done[0].points


def test_the_audit_recomputes_and_reports_an_edited_cached_dossier(results_round):
    r = load_round(results_round)
    main(["evidence", "build", str(results_round)])
    assert [c.state for c in dc.check_cache(r)] == ["ok", "ok"]
    assert not [f for f in audit_round(results_round).findings if f.check == "evidence.cache"]
    [f] = _files(results_round, "ta")
    doc = json.loads(f.read_bytes())
    cid = sorted(doc["dossier"]["points"])[0]
    doc["dossier"]["points"][cid]["points"] += 1.0  # a coordinator's hand edit, key left as it was
    f.write_bytes(canonical_json(doc))
    found = [x for x in audit_round(results_round).findings if x.check == "evidence.cache"]
    assert [(x.severity, x.file, x.detail["state"]) for x in found] == [("error", f.relative_to(results_round).as_posix(),
                                                                         "mismatch")]
    assert any(d.startswith(f"points.{cid}.points") for d in found[0].detail["differences"])
    # a renamed file (its name no longer its key) is an error too; one made from old inputs is stale (info)
    f.rename(f.with_name("0" * 64 + ".json"))
    (results_round / dc.CACHE_DIR / "tb" / "x.json").write_text("[1")
    csv = results_round / "evidence" / "ta" / "results.csv"
    dc.cached_dossier(r, "ta")
    csv.write_text(csv.read_text() + "\n")
    states = sorted((c.team, c.state) for c in dc.check_cache(load_round(results_round)))
    assert states == [("ta", "invalid"), ("ta", "stale"), ("tb", "invalid"), ("tb", "ok")]


def test_cli_builds_the_dossiers_of_the_teams_experts_review(results_round, capsys):
    assert main(["evidence", "build", str(results_round), "--team", "tb"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tb: cache/dossier/tb/") and not _files(results_round, "ta")
    assert main(["evidence", "build", str(results_round), "--team", "nope"]) == 1
    assert "unknown team(s) nope" in capsys.readouterr().err


def test_every_expert_notebook_of_a_team_after_the_first_loads_the_cached_dossier(results_round, monkeypatch):
    from workbench.core.files import sha256_file
    from workbench.notebook.review import open_review

    first = open_review(str(results_round), "e1", "ta", "expert", "en")
    assert len(_files(results_round, "ta")) == 1

    def no_build(*a, **k):
        raise AssertionError("the second notebook of the team rebuilt the dossier")

    monkeypatch.setattr(dc, "build_dossier", no_build)
    second = open_review(str(results_round), "e2", "ta", "expert", "en")
    assert second.ctx.dossier == first.ctx.dossier and second.ctx.dossier.points
    csv = results_round / "evidence" / "ta" / "results.csv"
    [rec] = [m for m in second.ctx.materials if m.path == "evidence/ta/results.csv"]
    assert rec.sha256 == sha256_file(csv) and rec.bytes == csv.stat().st_size


def test_the_code_part_of_the_key_covers_the_whole_package_and_every_file_in_it(tmp_path):
    """After the move into subpackages the code hash covered only evidence/: a change in core/ or model/ (a
    message, a formula) must make a new key too."""
    import workbench
    from workbench.evidence import dossier_cache as dc

    assert Path(workbench.__file__).resolve().parent == dc.PACKAGE_ROOT
    assert dc._code_sha256() == dc.tree_sha256(dc.PACKAGE_ROOT)
    tree = tmp_path / "pkg"
    (tree / "core").mkdir(parents=True)
    (tree / "core" / "messages.py").write_text("A = 1\n")
    (tree / "evidence").mkdir()
    (tree / "evidence" / "weights.py").write_text("B = 2\n")
    before = dc.tree_sha256(tree)
    (tree / "core" / "messages.py").write_text("A = 2\n")
    changed = dc.tree_sha256(tree)
    assert changed != before
    (tree / "core" / "__pycache__").mkdir()
    (tree / "core" / "__pycache__" / "messages.cpython-311.pyc").write_bytes(b"\0")
    assert dc.tree_sha256(tree) == changed  # compiled files never count
