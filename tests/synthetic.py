"""Small generated transformer-like models (written as safetensors): test inputs and the demo's weights.

Initialization scales follow real models (normal, std 0.02, heavy-ish tails, per-row and per-column scale
factors) so that the null behaves like real weights; norms are near-constant vectors around 1.0 whose raw
cosine between independent models is above 0.95. A shared ``freq`` profile stands for a shared tokenizer:
token embeddings then have a frequency-dependent component along a model-specific direction, the structure
that makes vocabulary-ordered statistics look alike in independent models.

Used by the weight-provenance tests and by ``data/make_demo.py`` (the demo teams' tiny models).

Public API: :func:`make_model`, :func:`make_vision`, :func:`permute_units`, :func:`perturb`, :func:`cast`,
:func:`save_model`.
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

__all__ = ["cast", "make_model", "make_vision", "permute_units", "perturb", "save_model"]


def _w(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    base = rng.standard_t(df=6, size=(rows, cols)) * 0.02
    scale = np.exp(rng.normal(0, 0.3, size=(rows, 1))) * np.exp(rng.normal(0, 0.3, size=(1, cols)))
    return (base * scale).astype(np.float32)


def _norm(rng: np.random.Generator, d: int) -> np.ndarray:
    return (1.0 + rng.normal(0, 0.05, size=d)).astype(np.float32)


def make_model(seed: int, *, layers: int = 3, d: int = 64, ff: int = 256, heads: int = 4, vocab: int = 512,
               freq: np.ndarray | None = None, prefix: str = "model.") -> dict[str, np.ndarray]:
    """A decoder-only model: embeddings, ``layers`` blocks (q/k/v/o, gate/up/down, RMSNorms), lm_head."""
    rng = np.random.default_rng(seed)
    freq = np.ones(vocab) if freq is None else freq
    mu = rng.normal(0, 0.05, size=d)
    t: dict[str, np.ndarray] = {}
    t[f"{prefix}embed_tokens.weight"] = (_w(rng, vocab, d) + freq[:, None] * mu[None, :]).astype(np.float32)
    for i in range(layers):
        p = f"{prefix}layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[p + f"self_attn.{name}.weight"] = _w(rng, d, d)
        t[p + "self_attn.q_proj.bias"] = (rng.normal(0, 0.02, d)).astype(np.float32)
        t[p + "mlp.gate_proj.weight"] = _w(rng, ff, d)
        t[p + "mlp.up_proj.weight"] = _w(rng, ff, d)
        t[p + "mlp.down_proj.weight"] = _w(rng, d, ff)
        t[p + "input_layernorm.weight"] = _norm(rng, d)
        t[p + "post_attention_layernorm.weight"] = _norm(rng, d)
    t[f"{prefix}norm.weight"] = _norm(rng, d)
    t["lm_head.weight"] = (_w(rng, vocab, d) + freq[:, None] * rng.normal(0, 0.05, size=d)[None, :]).astype(np.float32)
    return t


def make_vision(seed: int, *, layers: int = 2, d: int = 48, ff: int = 192, prefix: str = "vision_model.") -> dict:
    """A small ViT-like encoder: patch embedding (4-D), blocks with fc1/fc2 and attention, layer norms."""
    rng = np.random.default_rng(seed)
    t = {f"{prefix}embeddings.patch_embedding.weight":
         (rng.standard_normal((d, 3, 4, 4)) * 0.02).astype(np.float32)}
    for i in range(layers):
        p = f"{prefix}encoder.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[p + f"self_attn.{name}.weight"] = _w(rng, d, d)
        t[p + "mlp.fc1.weight"] = _w(rng, ff, d)
        t[p + "mlp.fc2.weight"] = _w(rng, d, ff)
        t[p + "layer_norm1.weight"] = _norm(rng, d)
    return t


def permute_units(t: dict[str, np.ndarray], seed: int, *, heads: int = 4) -> dict[str, np.ndarray]:
    """Permute MLP hidden units and attention heads consistently in every block (same function)."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    blocks = sorted({k.rsplit(".self_attn.", 1)[0] for k in t if ".self_attn.q_proj.weight" in k})
    for b in blocks:
        ff = t[f"{b}.mlp.up_proj.weight"].shape[0]
        pu = rng.permutation(ff)
        out[f"{b}.mlp.up_proj.weight"] = t[f"{b}.mlp.up_proj.weight"][pu]
        out[f"{b}.mlp.gate_proj.weight"] = t[f"{b}.mlp.gate_proj.weight"][pu]
        out[f"{b}.mlp.down_proj.weight"] = t[f"{b}.mlp.down_proj.weight"][:, pu]
        d = t[f"{b}.self_attn.q_proj.weight"].shape[0]
        hd = d // heads
        ph = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in rng.permutation(heads)])
        for n in ("q_proj", "k_proj", "v_proj"):
            out[f"{b}.self_attn.{n}.weight"] = t[f"{b}.self_attn.{n}.weight"][ph]
        out[f"{b}.self_attn.q_proj.bias"] = t[f"{b}.self_attn.q_proj.bias"][ph]
        out[f"{b}.self_attn.o_proj.weight"] = t[f"{b}.self_attn.o_proj.weight"][:, ph]
    return out


def perturb(t: dict[str, np.ndarray], seed: int, relative: float = 0.10) -> dict[str, np.ndarray]:
    """Fine-tuning stand-in: add noise of ``relative`` times each tensor's norm (norms too)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in t.items():
        noise = rng.standard_normal(v.shape)
        out[k] = (v + noise * relative * np.linalg.norm(v) / np.linalg.norm(noise)).astype(v.dtype)
    return out


def cast(t: dict[str, np.ndarray], dtype) -> dict[str, np.ndarray]:
    """Every floating tensor cast to ``dtype`` (float32, float16 or ml_dtypes.bfloat16)."""
    return {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) or v.dtype == ml_dtypes.bfloat16 else v
            for k, v in t.items()}


def save_model(t: dict[str, np.ndarray], folder: Path, *, shards: int = 1, config: dict | None = None,
               tokenizer: str | None = None) -> Path:
    """Write ``t`` as ``shards`` safetensors files (with an index when more than one) and side files."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(t)
    if shards == 1:
        save_file({k: np.ascontiguousarray(t[k]) for k in names}, str(folder / "model.safetensors"))
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = names[s::shards]
            save_file({k: np.ascontiguousarray(t[k]) for k in part}, str(folder / fname))
            weight_map.update({k: fname for k in part})
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if tokenizer is not None:
        (folder / "tokenizer.json").write_text(tokenizer)
    return folder
