"""Kinds of evidence register themselves once (issue 25, item 4): the built-in kinds through the registry, a
duplicate refused, another package's kind from an entry point, and a new kind end to end: ``teams.yaml``
accepts its key, the dossier reads its file, the cache keeps it, the panel shows it; unknown keys still refused."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pydantic
import pytest
import yaml
from coord_helpers import make_round

import workbench.core.registry as registry_module
from workbench.core.errors import EvidenceError, RoundError, WorkbenchError
from workbench.core.files import canonical_json
from workbench.core.messages import MESSAGES, msg
from workbench.core.tables import Table
from workbench.evidence import dossier_cache as DC
from workbench.evidence.dossier import Dossier, EvidenceContext, build_dossier
from workbench.model import evidence_kinds as K
from workbench.model.round import EVIDENCE_KEYS, load_round
from workbench.notebook.panels import ReviewContext, independence_panel

# the keys teams.yaml has always accepted, in the order the error lists them
BUILTIN_KEYS = ["benchmark_results", "model_card", "training_log", "tokenizer", "config", "licences", "weights",
                "technical_report"]


class Sbom(pydantic.BaseModel):
    """A third party's part: a software bill of materials, counted."""

    components: int
    licences: list[str]


def read_sbom(ctx: EvidenceContext) -> Sbom:
    """A third party's reader: a JSON SBOM (bounded, validated), its components counted."""
    if ctx.path.stat().st_size > 1 << 16:
        raise EvidenceError("SBOM too large", file=ctx.rel(ctx.path), expected="at most 64 KiB")
    try:
        data = json.loads(ctx.path.read_text())
        comps = data["components"]
        return Sbom(components=len(comps), licences=sorted({c["licence"] for c in comps}))
    except (ValueError, KeyError, TypeError) as e:
        raise EvidenceError(f"not an SBOM: {e}", file=ctx.rel(ctx.path), place="components",
                            expected='{"components": [{"licence": ...}, ...]}') from None


SBOM = K.EvidenceKind("sbom", "software bill of materials (JSON)", f"{__name__}:read_sbom",
                      model=f"{__name__}:Sbom", section="independence", title="evidence_sbom",
                      messages={"evidence_sbom": {"ko": "소프트웨어 구성 명세", "en": "Software bill of materials"}})


@pytest.fixture
def registry(monkeypatch):
    """A registry of this test's own: registrations and entry points do not outlive it."""
    monkeypatch.setattr(K, "_registered", {})
    monkeypatch.setattr(K, "_from_entry_points", {})
    monkeypatch.setattr("workbench.core.messages.MESSAGES", dict(MESSAGES))
    return K


def _round(tmp_path: Path, evidence: dict[str, str]) -> Path:
    rd = make_round(tmp_path, teams=("ta", "tb"), do_freeze=False)
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    teams["teams"][0]["evidence"] = evidence
    (rd / "teams.yaml").write_text(yaml.safe_dump(teams))
    return rd


def test_the_built_in_kinds_are_registry_entries_with_readers_parts_and_words():
    assert list(EVIDENCE_KEYS) == BUILTIN_KEYS == list(K.BUILTIN)
    assert EVIDENCE_KEYS["weights"].startswith("a weight fingerprint file")
    dossier_fields = {f.name for f in fields(Dossier)}
    for kind in K.BUILTIN.values():
        if kind.key == "technical_report":  # hashed, not parsed
            assert kind.read() is None and kind.part is None
            continue
        assert callable(kind.read()) and kind.part in dossier_fields, kind.key
        assert kind.section in K.SECTIONS
        assert kind.title is None or {"ko", "en"} <= set(MESSAGES[kind.title]), kind.key
    # the licences are checked against the weights' provenance: read after them, whatever the registry's order
    order = [k.key for k in K.reading_order()]
    assert order.index("weights") < order.index("licences") and order[0] == "benchmark_results"
    assert [k.key for k in K.reading_order(["licences", "config"])] == ["licences", "config"]


def test_a_duplicate_kind_is_refused(registry):
    with pytest.raises(WorkbenchError, match="'weights' is already registered"):
        registry.register_evidence_kind(K.EvidenceKind("weights", "mine"))
    registry.register_evidence_kind(SBOM)
    with pytest.raises(WorkbenchError, match="'sbom' is already registered"):
        registry.register_evidence_kind(SBOM)
    # a kind's words never replace another's
    with pytest.raises(WorkbenchError, match="message 'evidence_weights' is already in the catalogue"):
        registry.register_evidence_kind(K.EvidenceKind("other", "x", messages={"evidence_weights": {"en": "W"}}))
    assert "other" not in registry.evidence_kinds()
    with pytest.raises(WorkbenchError, match="unknown evidence key 'nope'") as e:
        registry.get_evidence_kind("nope")
    assert "sbom" in e.value.expected and "weights" in e.value.expected


def test_an_entry_point_kind_is_loaded_and_accepted_in_teams_yaml(registry, monkeypatch, tmp_path):
    class EP:
        name, value = "sbom", f"{__name__}:SBOM"

        def load(self):
            return SBOM

    monkeypatch.setattr(K, "_from_entry_points", None)
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [EP()] if group == K.ENTRY_POINT_GROUP else [])
    assert "sbom" in EVIDENCE_KEYS and list(EVIDENCE_KEYS)[-1] == "sbom"
    assert msg("evidence_sbom", "ko") == "소프트웨어 구성 명세"
    rd = _round(tmp_path, {"sbom": "sbom.json"})
    assert load_round(rd).team("ta").evidence == {"sbom": "sbom.json"}


def test_an_entry_point_that_is_not_a_kind_is_refused(registry, monkeypatch):
    class EP:
        name, value = "sbom", "x:y"

        def load(self):
            return read_sbom

    monkeypatch.setattr(K, "_from_entry_points", None)
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [EP()])
    with pytest.raises(WorkbenchError, match="is not an EvidenceKind with key 'sbom'"):
        K.evidence_kinds()


def test_unknown_keys_are_refused_with_the_known_ones(registry, tmp_path):
    rd = _round(tmp_path, {"sbom": "sbom.json"})
    with pytest.raises(RoundError) as e:
        load_round(rd)
    assert "unknown evidence key(s) sbom" in str(e.value) and ", ".join(BUILTIN_KEYS) in str(e.value)


def test_a_registered_kind_end_to_end(registry, tmp_path):
    """One registration: teams.yaml accepts the key, the dossier reads the file into its part (an input of the
    sheet), the summary and the cache keep it, the panel shows it, a bad file is a problem like any other."""
    registry.register_evidence_kind(SBOM)
    rd = _round(tmp_path, {"sbom": "sbom.json", "technical_report": "report.md"})
    ev = rd / "evidence" / "ta"
    (ev / "sbom.json").write_text(json.dumps({"components": [{"licence": "MIT"}, {"licence": "Apache-2.0"},
                                                             {"licence": "MIT"}]}))
    (ev / "report.md").write_text("# report\n")
    r = load_round(rd)
    d = build_dossier(r, "ta")
    assert d.extra == {"sbom": Sbom(components=3, licences=["Apache-2.0", "MIT"])} and not d.problems
    assert {f.path for f in d.inputs} == {"evidence/ta/sbom.json", "evidence/ta/report.md"}
    assert d.summary()["sbom"] == {"components": 3, "licences": ["Apache-2.0", "MIT"]}
    # the cache writes the part and reads it back through the kind's model
    data = json.loads(canonical_json(DC.dossier_to_json(d)))
    assert data["extra"] == {"sbom": {"components": 3, "licences": ["Apache-2.0", "MIT"]}}
    assert DC.dossier_from_json(data).extra == d.extra
    # the independence panel shows it under the kind's heading, and the sheet's summary holds it
    ctx = ReviewContext(round_dir=rd, round_id=r.rules.round_id, lang="en", rubric=r.rubrics["expert"],
                        benchmark_rubric=None, team=r.team("ta"), reviewer=r.roster.reviewers[0],
                        evidence_dir=ev, materials=[], dossier=d)
    panel = independence_panel(ctx)
    assert panel.summary["sbom"] == {"components": 3, "licences": ["Apache-2.0", "MIT"]}
    shown = " ".join(str(getattr(i, "data", "")) for i in panel.items)
    assert "Software bill of materials" in shown
    assert any(isinstance(i, Table) and {"fact": "components", "value": 3} in i.rows for i in panel.items)
    # a broken file: a problem naming it, the part absent
    (ev / "sbom.json").write_text('{"parts": []}')
    d = build_dossier(load_round(rd), "ta")
    assert not d.extra and len(d.problems) == 1
    assert d.problems[0].file == "evidence/ta/sbom.json" and d.problems[0].message.startswith("not an SBOM")
    # a team without the kind: nothing of it anywhere
    assert "sbom" not in build_dossier(r, "tb").summary() and "extra" not in DC.dossier_to_json(build_dossier(r, "tb"))


def test_a_dossier_with_a_note_goes_through_the_cache(tmp_path):
    """Notes are findings: written as JSON and read back as findings (they were not JSON-able before)."""
    r = load_round(_round(tmp_path, {}))
    d = build_dossier(r, "ta")
    assert [n.code for n in d.notes] == ["note_no_benchmark_results"]
    back = DC.dossier_from_json(json.loads(canonical_json(DC.dossier_to_json(d))))
    assert back == d and back.notes[0].text("en").startswith("no benchmark_results submitted")
