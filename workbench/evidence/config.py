"""Architecture configs: a field-by-field comparison of a team's ``config.json`` with reference configs.

Public API:

- :func:`load_config` / :func:`parse_config`: the architecture fields of a Hugging Face ``config.json``
  (untrusted, bounded) as an :class:`ArchConfig`, with the language model, vision tower and audio tower
  as separate sections.
- :func:`compare_configs`: one team config against references, as a :class:`ConfigEvidence`
  (``to_summary()`` for the sheet).
- :func:`config_table`, :func:`config_chart`: what the reviewer reads in the notebook.

A shared architecture alone is no evidence of weight reuse: many independent models use the same
published designs (Llama-style decoders, ViT encoders). Identical shapes are what *allows* weights to be
copied; whether they were is shown by the weight-provenance evidence. Different spellings of one field
(``n_layer``, ``num_hidden_layers``, ...) are read as one field; the key actually read is recorded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from ..core.charts import altair, style
from ..core.errors import EvidenceError, WorkbenchError
from ..core.files import canonical_json, parse_json
from ._inputs import InputFile, as_evidence_errors, read_input

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "CAVEAT",
    "ArchConfig",
    "ConfigEvidence",
    "FieldComparison",
    "compare_configs",
    "config_chart",
    "config_table",
    "load_config",
    "parse_config",
]

MAX_CONFIG_BYTES = 4 * 1024 * 1024

CAVEAT = ("A shared architecture alone is no evidence of weight reuse: independent models often share a "
          "published design. Identical shapes only make copying possible; the weight-provenance evidence "
          "shows whether it happened.")

Kind = Literal["count", "number", "text", "flag", "object", "names", "counts"]

# canonical field -> (kind, accepted keys in priority order)
FIELDS: dict[str, tuple[Kind, tuple[str, ...]]] = {
    "model_type": ("text", ("model_type",)),
    "architectures": ("names", ("architectures",)),
    "hidden_size": ("count", ("hidden_size", "d_model", "n_embd", "embed_dim", "dim")),
    "num_hidden_layers": ("count", ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "depth",
                                    "encoder_layers")),
    "num_decoder_layers": ("count", ("num_decoder_layers", "decoder_layers")),
    "num_attention_heads": ("count", ("num_attention_heads", "n_head", "num_heads", "n_heads",
                                      "encoder_attention_heads")),
    "num_key_value_heads": ("count", ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "kv_n_heads",
                                      "multi_query_group_num")),
    "head_dim": ("count", ("head_dim", "kv_channels", "d_kv")),
    "intermediate_size": ("count", ("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim", "encoder_ffn_dim",
                                    "d_ff")),
    "mlp_ratio": ("number", ("mlp_ratio",)),
    "vocab_size": ("count", ("vocab_size", "padded_vocab_size")),
    "max_position_embeddings": ("count", ("max_position_embeddings", "n_positions", "seq_length", "max_seq_len",
                                          "max_source_positions")),
    "relative_attention_num_buckets": ("count", ("relative_attention_num_buckets",)),
    "relative_attention_max_distance": ("count", ("relative_attention_max_distance",)),
    "sliding_window": ("count", ("sliding_window",)),
    "max_window_layers": ("count", ("max_window_layers",)),
    "rope_theta": ("number", ("rope_theta", "rotary_emb_base", "rope_base")),
    "rope_scaling": ("object", ("rope_scaling",)),
    "hidden_act": ("text", ("hidden_act", "activation_function", "hidden_activation", "activation",
                            "feed_forward_proj")),
    "norm_eps": ("number", ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "layernorm_epsilon", "norm_eps")),
    # mixture of experts: Mixtral (num_local_experts), DeepSeek-V2/V3 (n_routed_experts, n_shared_experts, dense
    # first layers, expert groups), Qwen2-MoE / Qwen3-MoE (num_experts, a shared expert's width, sparse step),
    # DBRX (moe_num_experts and moe_top_k in ffn_config)
    "num_experts": ("count", ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")),
    "num_experts_per_tok": ("count", ("num_experts_per_tok", "moe_top_k", "num_experts_per_token")),
    "num_shared_experts": ("count", ("n_shared_experts", "num_shared_experts")),
    "moe_intermediate_size": ("count", ("moe_intermediate_size",)),
    "shared_expert_intermediate_size": ("count", ("shared_expert_intermediate_size",)),
    "first_k_dense_replace": ("count", ("first_k_dense_replace",)),
    "moe_layer_freq": ("count", ("moe_layer_freq",)),
    "decoder_sparse_step": ("count", ("decoder_sparse_step",)),
    "mlp_only_layers": ("counts", ("mlp_only_layers",)),
    "n_group": ("count", ("n_group",)),
    "topk_group": ("count", ("topk_group",)),
    "routed_scaling_factor": ("number", ("routed_scaling_factor",)),
    "scoring_func": ("text", ("scoring_func",)),
    "topk_method": ("text", ("topk_method",)),
    "norm_topk_prob": ("flag", ("norm_topk_prob",)),
    # multi-head latent attention (DeepSeek-V2/V3) and multi-token prediction
    "kv_lora_rank": ("count", ("kv_lora_rank",)),
    "q_lora_rank": ("count", ("q_lora_rank",)),
    "qk_nope_head_dim": ("count", ("qk_nope_head_dim",)),
    "qk_rope_head_dim": ("count", ("qk_rope_head_dim",)),
    "v_head_dim": ("count", ("v_head_dim",)),
    "num_nextn_predict_layers": ("count", ("num_nextn_predict_layers",)),
    "tie_word_embeddings": ("flag", ("tie_word_embeddings",)),
    "in_channels": ("count", ("in_channels", "in_chans", "num_channels")),
    "patch_size": ("count", ("patch_size",)),
    "spatial_patch_size": ("count", ("spatial_patch_size",)),
    "temporal_patch_size": ("count", ("temporal_patch_size",)),
    "image_size": ("count", ("image_size",)),
    "spatial_merge_size": ("count", ("spatial_merge_size",)),
    "out_hidden_size": ("count", ("out_hidden_size", "projection_dim")),
    "num_mel_bins": ("count", ("num_mel_bins",)),
}
# A vision tower's width: Qwen2-VL writes it as embed_dim and uses hidden_size for the merger's output (the
# language model's width); Qwen2.5-VL writes hidden_size and out_hidden_size. embed_dim comes first there.
VISION_WIDTH = ("embed_dim", "hidden_size", "d_model", "n_embd", "dim")
# where each section lives: the language model may be nested (multimodal configs) or at the top
SECTIONS: dict[str, tuple[str, ...]] = {
    "text": ("text_config", "llm_config", "language_config"),
    "vision": ("vision_config", "visual", "vision_tower_config"),
    "audio": ("audio_config", "speech_config", "audio_tower_config"),
}
# blocks inside a section that hold more of its fields (DBRX: ffn_config, attn_config)
BLOCKS = ("ffn_config", "attn_config")

# Keys left over that look like architecture (sizes, counts, layer/expert/head numbers, ratios, windows) are
# reported as *unread*, so a reviewer knows what was not compared; token ids, dtypes, names, versions and
# training, generation or parallelism settings are not architecture.
_ARCH = re.compile(r"size|dim|^d_|^n_|num|layer|head|expert|depth|width|ratio|window|stride|kernel|ffn|mlp|"
                   r"intermediate|hidden|embed|patch|merge|rank|group|chan|position|vocab|rope|rotary|bucket|"
                   r"distance|dense|freq|index|indices|step|section|capacity|slot|scaling|block|_config$")
_NOT_ARCH = re.compile(r"token|_ids?$|dtype|name|version|dropout|initializer|init_|_coef$|loss|alpha|penalty|"
                       r"temperature|^top_[kp]$|beam|return|^max_length$|^min_length$|ngram|chunk_size_feed_forward|"
                       r"pruned_heads|cross_attention_hidden_size|^(tp|pp|ep|dp)_size$|pretraining_tp|label|_std$|"
                       r"^output_|^use_|batch|quantization|auto_map|task_specific|generation")
MAX_SHOWN_CHARS = 80

Value = int | float | str | bool | None


class ArchConfig(BaseModel):
    """Architecture fields per section (``text``, ``vision``, ``audio``) and where each was read."""

    name: str
    inputs: list[InputFile]
    sections: dict[str, dict[str, Value]]
    keys: dict[str, dict[str, str]] = Field(description="section -> field -> the config key it was read from")
    unread: dict[str, dict[str, Value]] = Field(
        default_factory=dict, description="section (or 'model' for top-level keys of a nested config) -> keys that "
        "look like architecture but were not interpreted, as written (dotted) -> value: not compared")
    other_keys: list[str] = Field(description="top-level keys not interpreted and not architecture (dtype, token ids, ...)")


class FieldComparison(BaseModel):
    """One field: the team's value, each reference's value, and whether they are equal."""

    section: str
    field: str
    candidate: Value
    references: dict[str, Value]
    same: dict[str, bool | None] = Field(description="None where either side lacks the field")


class ConfigEvidence(BaseModel):
    """The result of :func:`compare_configs`."""

    candidate: str
    inputs: list[InputFile]
    references: list[str]
    fields: list[FieldComparison]
    per_reference: dict[str, dict[str, Any]]
    unread: dict[str, dict[str, dict[str, Value]]] = Field(
        default_factory=dict, description="config name (the team's and each reference's) -> its unread "
        "architecture keys per section (ArchConfig.unread): what this comparison could not look at")
    other_keys: list[str]
    caveat: str = CAVEAT

    def to_summary(self) -> dict:
        """JSON-able, deterministic summary for the score sheet."""
        return {"evidence": "architecture_config", **self.model_dump(mode="json")}


# ---------------------------------------------------------------- loading

def load_config(path: str | Path, *, name: str | None = None, max_bytes: int = MAX_CONFIG_BYTES) -> ArchConfig:
    """Load a ``config.json``; ``name`` defaults to its folder name (the model's)."""
    p = Path(path)
    data, _ = read_input(p, max_bytes)
    return parse_config(data, name=str(p), label=name or p.parent.name or p.name)


def _value(raw: Any, kind: Kind, name: str, place: str) -> Value:
    if raw is None:
        # "rope_scaling": null says "no scaling", a fact to compare; a null count means "not set"
        return "null" if kind == "object" else None
    ok = {
        "count": type(raw) is int and raw >= 0,
        "number": type(raw) in (int, float) and math.isfinite(raw) and raw > 0,
        "text": isinstance(raw, str),
        "flag": isinstance(raw, bool),
        "object": isinstance(raw, dict),
        "names": isinstance(raw, list) and all(isinstance(x, str) for x in raw),
        "counts": isinstance(raw, list) and all(type(x) is int for x in raw),
    }[kind]
    if not ok:
        expected = {"count": "an integer >= 0", "number": "a positive number", "text": "a string",
                    "flag": "true or false", "object": "an object or null", "names": "a list of strings",
                    "counts": "a list of integers"}[kind]
        raise EvidenceError(f"is {str(raw)[:40]!r}", file=name, place=place, expected=expected)
    if kind in ("object", "counts"):
        try:
            return canonical_json(raw).decode()  # comparable and printable; key order does not matter
        except WorkbenchError as e:
            raise EvidenceError(e.message, file=name, place=place, expected="JSON numbers within 2^53") from None
    if kind == "names":
        return ", ".join(raw)
    return raw


def _shown(v: Any) -> Value:
    """An unread value as shown: numbers as they are, lists as compact JSON, objects as ``{...}``."""
    if isinstance(v, dict):
        return "{...}"
    if isinstance(v, list):
        try:
            text = canonical_json(v).decode()
        except WorkbenchError:
            text = "[...]"
        return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."
    return v


def _architectural(key: str, v: Any) -> bool:
    numeric = type(v) in (int, float) or (isinstance(v, list) and bool(v) and all(type(x) in (int, float) for x in v))
    nested = isinstance(v, dict) and key.endswith("_config")
    return (numeric or nested) and bool(_ARCH.search(key.lower())) and not _NOT_ARCH.search(key.lower())


def _section(obj: dict, name: str, prefix: str, section: str) -> tuple[dict[str, Value], dict[str, str], set[str]]:
    """The fields of one section object, where each was read, and the keys of ``obj`` it consumed."""
    # the object itself first, then its blocks (DBRX keeps its MoE and attention fields in ffn_/attn_config)
    places = [(obj, prefix)] + [(obj[b], f"{prefix}{b}.") for b in BLOCKS if isinstance(obj.get(b), dict)]
    values: dict[str, Value] = {}
    keys: dict[str, str] = {}
    used: set[str] = {b for b in BLOCKS if isinstance(obj.get(b), dict)}
    for field, (kind, aliases) in FIELDS.items():
        if section == "vision" and field == "hidden_size":
            aliases = VISION_WIDTH
        found = next(((o, p, a) for o, p in places for a in aliases if a in o), None)
        if found is not None:
            o, p, key = found
            values[field] = _value(o[key], kind, name, f"{p}{key}")
            keys[field] = f"{p}{key}"
            used.add(f"{p}{key}")
    if keys.get("hidden_size") == f"{prefix}embed_dim" and "hidden_size" in obj and "out_hidden_size" not in values:
        # Qwen2-VL: hidden_size beside embed_dim is the merger's output width, not the tower's
        values["out_hidden_size"] = _value(obj["hidden_size"], "count", name, f"{prefix}hidden_size")
        keys["out_hidden_size"] = f"{prefix}hidden_size"
        used.add(f"{prefix}hidden_size")
    width, ratio = values.get("hidden_size"), values.get("mlp_ratio")
    if "intermediate_size" not in values and isinstance(width, int) and isinstance(ratio, int | float) \
            and float(width * ratio).is_integer():
        # a ViT that gives its MLP as a ratio (Qwen2-VL: mlp_ratio 4) compares with one that gives the width
        values["intermediate_size"] = int(width * ratio)
        keys["intermediate_size"] = f"{keys['hidden_size']}*{keys['mlp_ratio']}"
    return values, keys, used


def _unread(obj: dict, prefix: str, used: set[str], skip: set[str]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for o, p in [(obj, prefix)] + [(obj[b], f"{prefix}{b}.") for b in BLOCKS if isinstance(obj.get(b), dict)]:
        for k, v in o.items():
            if f"{p}{k}" not in used and k not in skip and _architectural(k, v):
                out[f"{p}{k}"] = _shown(v)
    return out


def parse_config(data: bytes, *, name: str, label: str | None = None) -> ArchConfig:
    """Parse ``config.json`` bytes into its architecture sections; architecture-looking keys it does not
    interpret are listed in ``unread``."""
    with as_evidence_errors():
        obj = parse_json(data, name)
    if not isinstance(obj, dict):
        raise EvidenceError(f"is a JSON {type(obj).__name__}", file=name, expected="a config.json object")
    sections: dict[str, dict[str, Value]] = {}
    keys: dict[str, dict[str, str]] = {}
    unread: dict[str, dict[str, Value]] = {}
    used: set[str] = set()
    nested_keys = {k for v in SECTIONS.values() for k in v}
    text_on_top = False
    for section, nested in SECTIONS.items():
        key = next((k for k in nested if isinstance(obj.get(k), dict)), None)
        if key is not None:
            sections[section], keys[section], seen = _section(obj[key], name, f"{key}.", section)
            unread[section] = _unread(obj[key], f"{key}.", seen, nested_keys)
            used.add(key)
        elif section == "text":
            sections[section], keys[section], seen = _section(obj, name, "", section)
            used |= seen
            text_on_top = True
        for k in nested:
            if k in obj and obj[k] is not None and not isinstance(obj[k], dict):
                raise EvidenceError(f"is {str(obj[k])[:40]!r}", file=name, place=k, expected="an object")
    # model-wide facts written at the top level of multimodal configs
    for field in ("model_type", "architectures", "tie_word_embeddings"):
        kind, (key, *_) = FIELDS[field]
        if key in obj and field not in sections["text"]:
            sections["text"][field] = _value(obj[key], kind, name, key)
            keys["text"][field] = key
            used.add(key)
    if not any(sections.values()):
        raise EvidenceError("no architecture fields", file=name,
                            expected="a Hugging Face config.json (hidden_size, num_hidden_layers, ...)")
    top = _unread(obj, "", used, nested_keys)
    unread.setdefault("text" if text_on_top else "model", {}).update(top)
    unread = {s: dict(sorted(u.items())) for s, u in unread.items() if u}
    return ArchConfig(name=label or Path(name).name, inputs=[InputFile.of(name, data)], sections=sections,
                      keys=keys, unread=unread,
                      other_keys=sorted(set(obj) - used - nested_keys - set(top) - set(BLOCKS)))


# ---------------------------------------------------------------- comparison

def _same(a: Value, b: Value) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return a == b and type(a) is type(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)  # 10000 and 10000.0 are one rope theta


def compare_configs(candidate: ArchConfig, references: Sequence[ArchConfig]) -> ConfigEvidence:
    """Every field present in the candidate or a reference, section by section, in a fixed order."""
    names = [r.name for r in references]
    if len(set(names)) != len(names):
        raise EvidenceError("two references have the same name", place="references", expected="distinct names")
    rows = []
    for section in SECTIONS:
        present = set(candidate.sections.get(section, {}))
        for r in references:
            present |= set(r.sections.get(section, {}))
        for field in (f for f in FIELDS if f in present):
            mine = candidate.sections.get(section, {}).get(field)
            theirs = {r.name: r.sections.get(section, {}).get(field) for r in references}
            rows.append(FieldComparison(section=section, field=field, candidate=mine, references=theirs,
                                        same={n: _same(mine, v) for n, v in theirs.items()}))
    per_reference = {}
    for n in names:
        compared = [f for f in rows if f.same[n] is not None]
        differing = [f"{f.section}.{f.field}" for f in compared if not f.same[n]]
        per_reference[n] = {
            "compared": len(compared), "equal": len(compared) - len(differing), "differing": differing,
            "sections": {sec: {"compared": sum(f.section == sec for f in compared),
                               "equal": sum(f.section == sec and bool(f.same[n]) for f in compared)}
                         for sec in SECTIONS if any(f.section == sec for f in compared)},
        }
    unread = {c.name: c.unread for c in (candidate, *references) if c.unread}
    return ConfigEvidence(candidate=candidate.name, inputs=candidate.inputs, references=names, fields=rows,
                          per_reference=per_reference, unread=unread, other_keys=candidate.other_keys)


# ---------------------------------------------------------------- notebook views

def _show(v: Value) -> str:
    return "" if v is None else str(v)


def config_table(result: ConfigEvidence) -> pd.DataFrame:
    """Section, field, the team's value, each reference's value, and the references that match; then one row
    per architecture key that was not interpreted (in the team's or a reference's config), marked
    ``not compared`` with the raw values, so that nothing unread passes for a match."""
    rows = []
    for f in result.fields:
        row = {"section": f.section, "field": f.field, "team": _show(f.candidate)}
        row.update({n: _show(v) for n, v in f.references.items()})
        row["same as"] = ", ".join(n for n in result.references if f.same[n])
        rows.append(row)
    unread: dict[tuple[str, str], dict[str, str]] = {}
    for who, sections in result.unread.items():
        col = "team" if who == result.candidate else who
        for section, found in sections.items():
            for key, v in found.items():
                unread.setdefault((section, key.rsplit(".", 1)[-1]), {})[col] = _show(v)
    order = {s: i for i, s in enumerate((*SECTIONS, "model"))}
    for (section, key), vals in sorted(unread.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        row = {"section": section, "field": key, "team": vals.get("team", "")}
        row.update({n: vals.get(n, "") for n in result.references})
        row["same as"] = "not compared"
        rows.append(row)
    return pd.DataFrame(rows, columns=["section", "field", "team", *result.references, "same as"])


def config_chart(result: ConfigEvidence) -> alt.TopLevelMixin:
    """A grid: one row per field, one column per reference, coloured same / different / missing."""
    alt = altair()
    cells = [{"field": f"{f.section}.{f.field}", "reference": n,
              "match": {True: "same", False: "different", None: "missing"}[f.same[n]],
              "team": _show(f.candidate), "reference value": _show(f.references[n])}
             for f in result.fields for n in result.references]
    chart = alt.Chart(pd.DataFrame(cells)).mark_rect(stroke="white").encode(
        x=alt.X("reference:N", title=None, sort=result.references, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("field:N", title=None, sort=[f"{f.section}.{f.field}" for f in result.fields]),
        color=alt.Color("match:N", scale=alt.Scale(domain=["same", "different", "missing"],
                                                   range=["#4c78a8", "#f58518", "#dddddd"])),
        tooltip=["field", "reference", "team", "reference value", "match"],
    )
    title = alt.TitleParams(f"{result.candidate}: architecture fields against references",
                            subtitle="A shared architecture alone is no evidence of weight reuse.")
    return style(chart.properties(title=title, width=120 * max(1, len(result.references)),
                                  height=16 * max(1, len(result.fields))))
