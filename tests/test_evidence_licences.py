"""Licence manifest evidence: the format, SPDX checks and flags, undeclared weight reuse, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json
from workbench.evidence.licences import check_licences, licences_table, load_manifest, parse_manifest

EXAMPLE = Path(__file__).parent.parent / "data" / "examples" / "licences.yaml"


def manifest(*components: dict) -> bytes:
    return yaml.safe_dump({"manifest_version": 1, "components": list(components)}).encode()


def comp(name="x", licence="MIT", use="code", **kw) -> dict:
    return {"name": name, "source": f"https://example.org/{name}", "version": "1.0", "licence": licence,
            "use": use, **kw}


def flags_of(licence: str, use="code") -> list[str]:
    return check_licences(parse_manifest(manifest(comp(licence=licence, use=use)), name="m.yaml")).components[0].flags


def test_the_documented_example_loads_and_is_checked():
    r = check_licences(load_manifest(EXAMPLE))
    assert r.model == "example-team/demo-vl-32b"
    assert [c.flags for c in r.components] == [["weights_use"], [], [], ["non_commercial"], ["custom_licence"]]
    assert r.undeclared_weights is None  # no provenance given: not "none undeclared"
    assert r.counts == {"weights_use": 1, "non_commercial": 1, "unknown_licence": 0, "custom_licence": 1,
                        "components": 5, "undeclared_weights": 0}
    assert r.inputs[0].name == "licences.yaml" and len(r.inputs[0].sha256) == 64


@pytest.mark.parametrize(("licence", "flags"), [
    ("Apache-2.0", []),
    ("apache-2.0", []),
    ("Apache-2.0 OR MIT", []),
    ("GPL-2.0-only WITH Classpath-exception-2.0", []),
    ("NCSA", []),  # the University of Illinois licence: permissive, despite the letters
    ("CC-BY-NC-4.0", ["non_commercial"]),
    ("CC-BY-NC-SA-4.0 AND MIT", ["non_commercial"]),
    ("CC-BY-NC-4.0 OR MIT", []),  # the team may take MIT
    ("(CC-BY-NC-4.0 OR CC-BY-NC-ND-4.0) AND MIT", ["non_commercial"]),
    ("PolyForm-Noncommercial-1.0.0", ["non_commercial"]),
    ("Apache 2.0", ["unknown_licence"]),
    ("NOASSERTION", ["unknown_licence"]),
    ("LicenseRef-Llama-3.1-Community", ["custom_licence"]),
    ("LicenseRef-Team-NonCommercial", ["non_commercial", "custom_licence"]),
])
def test_licence_flags(licence, flags):
    assert flags_of(licence) == flags


def test_normalized_spelling_and_unknown_ids():
    m = parse_manifest(manifest(comp(licence="apache-2.0 or mit"), comp("y", licence="Foo-1.0 AND MIT")), name="m")
    a, b = check_licences(m).components
    assert a.licence == "Apache-2.0 OR MIT" and a.unknown_ids == []
    assert b.licence == "Foo-1.0 AND MIT" and b.unknown_ids == ["Foo-1.0"]


def test_weights_use_and_list_form():
    m = parse_manifest(manifest(comp(use=["code", "weights"], model_components="visual")), name="m")
    c = check_licences(m).components[0]
    assert c.use == ["code", "weights"] and c.model_components == ["visual"] and c.flags == ["weights_use"]


PROVENANCE = {"components": [
    {"component": "visual", "verdict": "derived", "reference": "Qwen/Qwen2.5-VL-7B-Instruct", "param_share": 0.02,
     "cosine": 0.93},  # other keys of the weight-provenance JSON are ignored
    {"component": "audio_tower", "verdict": "identical", "reference": "openai/whisper-large-v3", "param_share": 0.01},
    {"component": "lm_head", "verdict": "identical", "reference": None, "param_share": 0.03},
    {"component": "model.layers", "verdict": "no_evidence", "reference": None, "param_share": 0.9},
    {"component": "norms", "verdict": "uninformative", "reference": "x", "param_share": 0.0001},
]}


def test_undeclared_weight_reuse_is_found():
    m = parse_manifest(manifest(
        # declared by source URL ending in the reference id
        comp("qwen-vit", source="https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct/", use="weights"),
        # declared, but only as code: still undeclared as weights
        comp("whisper", source="openai/whisper-large-v3", use="code"),
    ), name="m")
    r = check_licences(m, PROVENANCE)
    assert [(u.component, u.verdict, u.declared_as) for u in r.undeclared_weights] == [
        ("audio_tower", "identical", ["code"]), ("lm_head", "identical", [])]
    assert r.counts["undeclared_weights"] == 2
    table = licences_table(r)
    assert list(table["flags"])[-2:] == ["undeclared_weights (declared only as code)", "undeclared_weights"]


def test_declared_by_model_component_name_and_list_input():
    m = parse_manifest(manifest(comp("enc", use="weights", model_components=["audio_tower", "lm_head", "visual"])),
                       name="m")
    assert check_licences(m, PROVENANCE["components"]).undeclared_weights == []


def test_bad_provenance_is_named():
    m = parse_manifest(manifest(comp()), name="m")
    with pytest.raises(EvidenceError, match=r"components.0.verdict"):
        check_licences(m, [{"component": "v", "verdict": "copied"}])


def test_summary_is_deterministic_json():
    m = load_manifest(EXAMPLE)
    assert canonical_json(check_licences(m, PROVENANCE).to_summary()) == \
        canonical_json(check_licences(load_manifest(EXAMPLE), PROVENANCE).to_summary())


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize(("text", "message"), [
    ("", "not a mapping"),
    ("- a\n", "not a mapping"),
    ("manifest_version: 2\ncomponents: []\n", "m.yaml:1: manifest_version"),
    ("manifest_version: 1\n", "components: field required"),
    ("manifest_version: 1\nteam: x\ncomponents: []\n", "m.yaml:2: team: unknown field 'team'"),
    ("manifest_version: 1\ncomponents:\n  - name: a\n    source: s\n    version: '1'\n    license: MIT\n    use: code\n",
     r"m.yaml:6: components.0.license: unknown field 'license' \(did you mean 'licence'\?\)"),
    ("manifest_version: 1\ncomponents:\n  - name: a\n    source: s\n    version: '1'\n    licence: MIT\n    use: training\n",
     "m.yaml:7: components.0.use.0"),
    ("manifest_version: 1\ncomponents:\n  - name: a\n    source: s\n    version: '1'\n    licence: MIT AND (\n    use: code\n",
     r"m.yaml:6: components.0.licence: licence expression 'MIT AND \(' does not parse"),
    ("manifest_version: 1\ncomponents:\n  - name: a\n    source: s\n    version: 2.10\n    licence: MIT\n    use: code\n",
     "m.yaml:5: components.0.version"),
    ("manifest_version: 1\ncomponents: &a []\nx: *a\n", "aliases"),
    ("a: 1\na: 2\n", "duplicate key"),
])
def test_bad_manifest(text, message):
    with pytest.raises(EvidenceError, match=message):
        parse_manifest(text.encode(), name="m.yaml")


def test_size_bound_and_encoding(tmp_path):
    with pytest.raises(EvidenceError, match="bytes"):
        load_manifest(EXAMPLE, max_bytes=100)
    with pytest.raises(EvidenceError, match="UTF-8"):
        parse_manifest(b"manifest_version: 1\nmodel: \xff\n", name="m.yaml")


# ---------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_manifest_or_an_evidence_error(data):
    try:
        m = parse_manifest(data, name="m.yaml")
    except EvidenceError:
        return
    check_licences(m)


licence_text = st.text(alphabet=st.sampled_from(list("()+ -.ABCDILMNORTWXacehilt0123456789")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(licence=st.one_of(licence_text, st.sampled_from(["MIT", "CC-BY-NC-4.0", "MIT OR", "LicenseRef-a", "WITH"])),
       use=st.lists(st.sampled_from(["code", "weights", "data", "inference-only", "other"]), max_size=3))
def test_arbitrary_licence_expressions_give_flags_or_an_evidence_error(licence, use):
    try:
        m = parse_manifest(manifest(comp(licence=licence, use=use)), name="m.yaml")
    except EvidenceError:
        return
    c = check_licences(m).components[0]
    assert set(c.flags) <= {"weights_use", "non_commercial", "unknown_licence", "custom_licence"}
    assert ("weights_use" in c.flags) == ("weights" in use)
