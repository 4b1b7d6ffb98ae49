"""Architecture-config evidence: sections, field aliases, the field-by-field comparison, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import EvidenceError
from workbench.evidence.config import (
    CAVEAT,
    compare_configs,
    config_chart,
    config_table,
    load_config,
    parse_config,
)
from workbench.files import canonical_json

FIX = Path(__file__).parent / "fixtures" / "independence" / "configs"


@pytest.fixture(scope="module")
def cfgs():
    return {n: load_config(FIX / n / "config.json") for n in ("team_x", "ref_qwen_vl", "ref_llama")}


def test_sections_and_aliases(cfgs):
    t = cfgs["team_x"]
    assert t.name == "team_x" and t.inputs[0].name == "config.json"
    assert t.sections["text"]["hidden_size"] == 4096 and t.keys["text"]["hidden_size"] == "text_config.hidden_size"
    assert t.sections["text"]["num_experts"] == 8 and t.sections["text"]["num_experts_per_tok"] == 2
    assert t.sections["text"]["rope_scaling"] == "null"
    # Qwen-style vision towers spell layers and heads "depth" and "num_heads"
    assert t.sections["vision"]["num_hidden_layers"] == 32 and t.keys["vision"]["num_hidden_layers"] == "vision_config.depth"
    assert t.sections["vision"]["num_attention_heads"] == 16
    assert t.other_keys == ["torch_dtype"]  # reported, not silently dropped
    q = cfgs["ref_qwen_vl"]
    assert q.sections["text"]["rope_scaling"] == '{"mrope_section":[16,24,24],"type":"mrope"}'


def test_gpt2_style_spellings():
    c = parse_config(json.dumps({"n_embd": 768, "n_layer": 12, "n_head": 12, "activation_function": "gelu_new",
                                 "layer_norm_epsilon": 1e-5, "n_positions": 1024}).encode(), name="gpt2.json")
    assert c.sections["text"] == {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                  "hidden_act": "gelu_new", "norm_eps": 1e-5, "max_position_embeddings": 1024}


def test_field_by_field_comparison(cfgs):
    r = compare_configs(cfgs["team_x"], [cfgs["ref_qwen_vl"], cfgs["ref_llama"]])
    by = {(f.section, f.field): f for f in r.fields}
    # the team's vision tower has the reference's shape except the projection into its own LLM width
    vision = r.per_reference["ref_qwen_vl"]["sections"]["vision"]
    assert vision == {"compared": 8, "equal": 7}
    assert by[("vision", "out_hidden_size")].same == {"ref_qwen_vl": False, "ref_llama": None}
    # the language model is Llama-shaped: 500000 and 500000.0 are one rope theta, null = null
    assert by[("text", "rope_theta")].same["ref_llama"] is True
    assert by[("text", "rope_scaling")].same == {"ref_qwen_vl": False, "ref_llama": True}
    assert r.per_reference["ref_llama"]["differing"] == ["text.model_type", "text.architectures", "text.vocab_size"]
    assert r.per_reference["ref_llama"]["compared"] == 12 and r.per_reference["ref_llama"]["equal"] == 9
    assert by[("text", "tie_word_embeddings")].candidate is None  # absent on the team's side: not compared
    assert r.caveat == CAVEAT and "no evidence of weight reuse" in r.to_summary()["caveat"]


def test_table_chart_and_summary(cfgs):
    r = compare_configs(cfgs["team_x"], [cfgs["ref_qwen_vl"], cfgs["ref_llama"]])
    t = config_table(r)
    assert list(t.columns) == ["section", "field", "team", "ref_qwen_vl", "ref_llama", "same as"]
    row = t[(t.section == "text") & (t.field == "hidden_act")].iloc[0]
    assert row["same as"] == "ref_qwen_vl, ref_llama"
    spec = json.dumps(config_chart(r).to_dict())
    assert "no evidence of weight reuse" in spec
    s = r.to_summary()
    assert s["evidence"] == "architecture_config"
    assert canonical_json(s) == canonical_json(compare_configs(cfgs["team_x"], [cfgs["ref_qwen_vl"], cfgs["ref_llama"]]).to_summary())


def test_duplicate_reference_names_are_refused(cfgs):
    with pytest.raises(EvidenceError, match="same name"):
        compare_configs(cfgs["team_x"], [cfgs["ref_llama"], cfgs["ref_llama"]])


@pytest.mark.parametrize(("obj", "message"), [
    ([1, 2], "is a JSON list"),
    ({"torch_dtype": "bf16"}, "no architecture fields"),
    ({"hidden_size": "4096"}, "hidden_size: is '4096', expected an integer >= 0"),
    ({"hidden_size": True}, "hidden_size: is 'True'"),
    ({"rope_theta": -1}, "rope_theta: is '-1', expected a positive number"),
    ({"text_config": {"num_heads": 1.5}}, "text_config.num_heads: is '1.5'"),
    ({"hidden_size": 8, "vision_config": 3}, "vision_config: is '3', expected an object"),
    ({"hidden_size": 8, "architectures": "Llama"}, "architectures: is 'Llama', expected a list of strings"),
    ({"hidden_size": 8, "rope_scaling": {"factor": 10**20}}, "rope_scaling: .*safe integer"),
])
def test_bad_config(obj, message):
    with pytest.raises(EvidenceError, match=message):
        parse_config(json.dumps(obj).encode(), name="config.json")


def test_bad_json_and_size(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"hidden_size": 8,\n "hidden_size": 9}')
    with pytest.raises(EvidenceError, match="duplicate key"):
        load_config(p)
    with pytest.raises(EvidenceError, match="bytes"):
        load_config(FIX / "team_x" / "config.json", max_bytes=10)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)
keys = st.sampled_from(["hidden_size", "n_layer", "num_heads", "rope_theta", "rope_scaling", "architectures",
                        "hidden_act", "text_config", "vision_config", "tie_word_embeddings", "other"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, json_value, max_size=6))
def test_arbitrary_configs_give_a_config_or_an_evidence_error(obj):
    try:
        c = parse_config(json.dumps(obj).encode(), name="config.json")
    except EvidenceError:
        return
    assert any(c.sections.values())
    canonical_json(compare_configs(c, [c]).to_summary())  # always finite, JSON-able


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_config_or_an_evidence_error(data):
    try:
        c = parse_config(data, name="config.json")
    except EvidenceError:
        return
    assert any(c.sections.values())
