"""Architecture-config evidence: sections, field aliases, the field-by-field comparison, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json
from workbench.evidence.config import (
    CAVEAT,
    compare_configs,
    config_chart,
    config_table,
    load_config,
    parse_config,
)

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


# ---------------------------------------------------------------- real-shaped configs (issue 12 item 12)

# Qwen/Qwen2-VL-7B-Instruct config.json: the vision tower's width is embed_dim; its hidden_size is the
# merger's output, the language model's width
QWEN2_VL_7B = {
    "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
    "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu",
    "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 18944, "max_position_embeddings": 32768,
    "max_window_layers": 28, "model_type": "qwen2_vl", "num_attention_heads": 28, "num_hidden_layers": 28,
    "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                      "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 152064,
}
# google/t5-v1_1-base config.json
T5_V1_1_BASE = {
    "architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 768,
    "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0, "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06, "model_type": "t5",
    "num_decoder_layers": 12, "num_heads": 12, "num_layers": 12, "output_past": True, "pad_token_id": 0,
    "relative_attention_num_buckets": 32, "tie_word_embeddings": False, "vocab_size": 32128,
}
# mistralai/Mixtral-8x7B-v0.1 config.json
MIXTRAL_8X7B = {
    "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32, "num_experts_per_tok": 2,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": False,
    "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0",
    "use_cache": True, "vocab_size": 32000,
}
# deepseek-ai/DeepSeek-V3 config.json (auto_map and quantization_config shortened)
DEEPSEEK_V3 = {
    "architectures": ["DeepseekV3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config"}, "bos_token_id": 0, "eos_token_id": 1,
    "ep_size": 1, "first_k_dense_replace": 3, "hidden_act": "silu", "hidden_size": 7168, "initializer_range": 0.02,
    "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840, "model_type": "deepseek_v3",
    "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1,
    "norm_topk_prob": True, "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
    "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]},
    "rms_norm_eps": 1e-06, "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0,
                                            "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
                                            "type": "yarn"},
    "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "tie_word_embeddings": False,
    "topk_group": 4, "topk_method": "noaux_tc", "torch_dtype": "bfloat16", "transformers_version": "4.33.1",
    "use_cache": True, "v_head_dim": 128, "vocab_size": 129280,
}
# Qwen/Qwen1.5-MoE-A2.7B config.json (qwen2_moe)
QWEN2_MOE = {
    "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "decoder_sparse_step": 1, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 8192, "max_window_layers": 21,
    "model_type": "qwen2_moe", "moe_intermediate_size": 1408, "norm_topk_prob": False, "num_attention_heads": 16,
    "num_experts": 60, "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 16,
    "output_router_logits": False, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
    "shared_expert_intermediate_size": 5632, "sliding_window": 32768, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.39.0.dev0", "use_cache": True, "use_sliding_window": False,
    "vocab_size": 151936,
}
# Qwen/Qwen3-30B-A3B config.json (qwen3_moe)
QWEN3_MOE = {
    "architectures": ["Qwen3MoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144, "max_position_embeddings": 40960,
    "max_window_layers": 48, "mlp_only_layers": [], "model_type": "qwen3_moe", "moe_intermediate_size": 768,
    "norm_topk_prob": True, "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
    "num_hidden_layers": 48, "num_key_value_heads": 4, "output_router_logits": False, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}


def parse(obj, label=None):
    return parse_config(json.dumps(obj).encode(), name="config.json", label=label)


def test_qwen2_vl_vision_width_is_embed_dim_and_hidden_size_is_the_merger_output():
    v = parse(QWEN2_VL_7B).sections["vision"]
    assert v["hidden_size"] == 1280 and v["out_hidden_size"] == 3584
    assert (v["num_hidden_layers"], v["num_attention_heads"], v["patch_size"], v["spatial_merge_size"]) == (32, 16, 14, 2)
    assert v["mlp_ratio"] == 4 and v["intermediate_size"] == 5120  # embed_dim x mlp_ratio
    assert v["in_channels"] == 3 and v["temporal_patch_size"] == 2
    keys = parse(QWEN2_VL_7B).keys["vision"]
    assert keys["hidden_size"] == "vision_config.embed_dim" and keys["out_hidden_size"] == "vision_config.hidden_size"
    assert keys["intermediate_size"] == "vision_config.embed_dim*vision_config.mlp_ratio"
    # a Qwen2.5-VL-style tower (hidden_size + out_hidden_size, no embed_dim) keeps its reading
    q25 = load_config(FIX / "ref_qwen_vl" / "config.json").sections["vision"]
    assert q25["hidden_size"] == 1280 and q25["out_hidden_size"] == 3584


def test_t5_sizes_are_read():
    t = parse(T5_V1_1_BASE).sections["text"]
    assert (t["hidden_size"], t["intermediate_size"], t["head_dim"]) == (768, 2048, 64)
    assert (t["num_hidden_layers"], t["num_decoder_layers"], t["num_attention_heads"]) == (12, 12, 12)
    assert t["relative_attention_num_buckets"] == 32 and t["hidden_act"] == "gated-gelu"
    assert parse(T5_V1_1_BASE).keys["text"]["intermediate_size"] == "d_ff"


@pytest.mark.parametrize(("cfg", "expected"), [
    (MIXTRAL_8X7B, {"num_experts": 8, "num_experts_per_tok": 2, "intermediate_size": 14336}),
    (DEEPSEEK_V3, {"num_experts": 256, "num_shared_experts": 1, "num_experts_per_tok": 8, "moe_intermediate_size": 2048,
                   "first_k_dense_replace": 3, "moe_layer_freq": 1, "n_group": 8, "topk_group": 4,
                   "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "norm_topk_prob": True,
                   "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                   "v_head_dim": 128, "num_nextn_predict_layers": 1}),
    (QWEN2_MOE, {"num_experts": 60, "num_experts_per_tok": 4, "moe_intermediate_size": 1408,
                 "shared_expert_intermediate_size": 5632, "decoder_sparse_step": 1, "norm_topk_prob": False}),
    (QWEN3_MOE, {"num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768, "head_dim": 128,
                 "decoder_sparse_step": 1, "mlp_only_layers": "[]"}),
])
def test_moe_keys_are_read(cfg, expected):
    t = parse(cfg).sections["text"]
    assert {k: t.get(k) for k in expected} == expected


@pytest.mark.parametrize("cfg", [QWEN2_VL_7B, T5_V1_1_BASE, MIXTRAL_8X7B, DEEPSEEK_V3, QWEN2_MOE, QWEN3_MOE])
def test_real_configs_leave_no_architecture_key_unread(cfg):
    c = parse(cfg)
    assert c.unread == {}
    # every top-level key is read, a section, or listed as not architecture (token ids, dtype, versions,
    # training and parallelism settings): nothing disappears silently
    read = {k.split(".")[0] for sec in c.keys.values() for k in sec.values()}
    assert set(cfg) == read | set(c.other_keys)
    assert "torch_dtype" in c.other_keys or "eos_token_id" in c.other_keys


def test_unread_architecture_keys_are_reported_and_shown():
    team = parse({**MIXTRAL_8X7B, "num_memory_slots": 64, "expert_capacity": 2, "vision_config": {
        "hidden_size": 1024, "num_hidden_layers": 24, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
        "vision_token_id": 5, "torch_dtype": "bfloat16"}, "pad_token_id": 0}, label="team")
    assert team.unread == {"text": {"expert_capacity": 2, "num_memory_slots": 64},
                           "vision": {"vision_config.fullatt_block_indexes": "[7,15,23,31]",
                                      "vision_config.window_size": 112}}
    assert "pad_token_id" in team.other_keys and "num_memory_slots" not in team.other_keys
    ref = parse({**MIXTRAL_8X7B, "expert_capacity": 4}, label="ref")
    r = compare_configs(team, [ref])
    assert r.unread == {"team": team.unread, "ref": {"text": {"expert_capacity": 4}}}
    assert r.to_summary()["unread"] == r.unread
    t = config_table(r)
    rows = t[t["same as"] == "not compared"]
    assert set(zip(rows.section, rows.field, strict=True)) == {
        ("text", "num_memory_slots"), ("text", "expert_capacity"), ("vision", "window_size"),
        ("vision", "fullatt_block_indexes")}
    cap = rows[rows.field == "expert_capacity"].iloc[0]
    assert (cap["team"], cap["ref"]) == ("2", "4")
