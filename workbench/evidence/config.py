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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from ..charts import style
from ..errors import EvidenceError, WorkbenchError
from ..files import canonical_json, parse_json
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

Kind = Literal["count", "number", "text", "flag", "object", "names"]

# canonical field -> (kind, accepted keys in priority order)
FIELDS: dict[str, tuple[Kind, tuple[str, ...]]] = {
    "model_type": ("text", ("model_type",)),
    "architectures": ("names", ("architectures",)),
    "hidden_size": ("count", ("hidden_size", "d_model", "n_embd", "embed_dim", "dim")),
    "num_hidden_layers": ("count", ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "depth",
                                    "encoder_layers")),
    "num_attention_heads": ("count", ("num_attention_heads", "n_head", "num_heads", "n_heads",
                                      "encoder_attention_heads")),
    "num_key_value_heads": ("count", ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num")),
    "head_dim": ("count", ("head_dim", "kv_channels")),
    "intermediate_size": ("count", ("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim", "encoder_ffn_dim")),
    "moe_intermediate_size": ("count", ("moe_intermediate_size",)),
    "vocab_size": ("count", ("vocab_size", "padded_vocab_size")),
    "max_position_embeddings": ("count", ("max_position_embeddings", "n_positions", "seq_length",
                                          "max_source_positions")),
    "rope_theta": ("number", ("rope_theta", "rotary_emb_base", "rope_base")),
    "rope_scaling": ("object", ("rope_scaling",)),
    "hidden_act": ("text", ("hidden_act", "activation_function", "hidden_activation", "activation")),
    "norm_eps": ("number", ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "layernorm_epsilon", "norm_eps")),
    "num_experts": ("count", ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")),
    "num_experts_per_tok": ("count", ("num_experts_per_tok", "moe_top_k", "num_experts_per_token")),
    "num_shared_experts": ("count", ("n_shared_experts", "num_shared_experts")),
    "tie_word_embeddings": ("flag", ("tie_word_embeddings",)),
    "patch_size": ("count", ("patch_size",)),
    "image_size": ("count", ("image_size",)),
    "spatial_merge_size": ("count", ("spatial_merge_size",)),
    "out_hidden_size": ("count", ("out_hidden_size", "projection_dim")),
    "num_mel_bins": ("count", ("num_mel_bins",)),
}
# where each section lives: the language model may be nested (multimodal configs) or at the top
SECTIONS: dict[str, tuple[str, ...]] = {
    "text": ("text_config", "llm_config", "language_config"),
    "vision": ("vision_config", "visual", "vision_tower_config"),
    "audio": ("audio_config", "speech_config", "audio_tower_config"),
}

Value = int | float | str | bool | None


class ArchConfig(BaseModel):
    """Architecture fields per section (``text``, ``vision``, ``audio``) and where each was read."""

    name: str
    inputs: list[InputFile]
    sections: dict[str, dict[str, Value]]
    keys: dict[str, dict[str, str]] = Field(description="section -> field -> the config key it was read from")
    other_keys: list[str] = Field(description="top-level keys not interpreted as architecture (dtype, token ids, ...)")


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
    }[kind]
    if not ok:
        expected = {"count": "an integer >= 0", "number": "a positive number", "text": "a string",
                    "flag": "true or false", "object": "an object or null", "names": "a list of strings"}[kind]
        raise EvidenceError(f"is {str(raw)[:40]!r}", file=name, place=place, expected=expected)
    if kind == "object":
        try:
            return canonical_json(raw).decode()  # comparable and printable; key order does not matter
        except WorkbenchError as e:
            raise EvidenceError(e.message, file=name, place=place, expected="JSON numbers within 2^53") from None
    if kind == "names":
        return ", ".join(raw)
    return raw


def _section(obj: dict, name: str, prefix: str) -> tuple[dict[str, Value], dict[str, str]]:
    values: dict[str, Value] = {}
    keys: dict[str, str] = {}
    for field, (kind, aliases) in FIELDS.items():
        key = next((a for a in aliases if a in obj), None)
        if key is not None:
            values[field] = _value(obj[key], kind, name, f"{prefix}{key}")
            keys[field] = f"{prefix}{key}"
    return values, keys


def parse_config(data: bytes, *, name: str, label: str | None = None) -> ArchConfig:
    """Parse ``config.json`` bytes into its architecture sections."""
    with as_evidence_errors():
        obj = parse_json(data, name)
    if not isinstance(obj, dict):
        raise EvidenceError(f"is a JSON {type(obj).__name__}", file=name, expected="a config.json object")
    sections: dict[str, dict[str, Value]] = {}
    keys: dict[str, dict[str, str]] = {}
    used = set()
    for section, nested in SECTIONS.items():
        key = next((k for k in nested if isinstance(obj.get(k), dict)), None)
        if key is not None:
            sections[section], keys[section] = _section(obj[key], name, f"{key}.")
            used.add(key)
        elif section == "text":
            sections[section], keys[section] = _section(obj, name, "")
            used.update(k for k in keys[section].values())
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
    return ArchConfig(name=label or Path(name).name, inputs=[InputFile.of(name, data)], sections=sections,
                      keys=keys, other_keys=sorted(set(obj) - used - {k for v in SECTIONS.values() for k in v}))


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
    return ConfigEvidence(candidate=candidate.name, inputs=candidate.inputs, references=names, fields=rows,
                          per_reference=per_reference, other_keys=candidate.other_keys)


# ---------------------------------------------------------------- notebook views

def _show(v: Value) -> str:
    return "" if v is None else str(v)


def config_table(result: ConfigEvidence) -> pd.DataFrame:
    """Section, field, the team's value, each reference's value, and the references that match."""
    rows = []
    for f in result.fields:
        row = {"section": f.section, "field": f.field, "team": _show(f.candidate)}
        row.update({n: _show(v) for n, v in f.references.items()})
        row["same as"] = ", ".join(n for n in result.references if f.same[n])
        rows.append(row)
    return pd.DataFrame(rows, columns=["section", "field", "team", *result.references, "same as"])


def config_chart(result: ConfigEvidence) -> alt.TopLevelMixin:
    """A grid: one row per field, one column per reference, coloured same / different / missing."""
    import altair as alt  # on first chart: importing it takes seconds (jsonschema)
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
