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

__all__ = ["cast", "change_vocab", "flip_signs", "fuse_projections", "make_model", "make_vision", "permute_units",
           "perturb", "prune_depth", "prune_width", "rescale", "rotate_residual", "save_model", "upcycle", "vocab_json"]


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


# ---------------------------------------------------------------- evasions (issue 15): same function, other weights

def _blocks(t: dict[str, np.ndarray]) -> list[str]:
    return sorted({k.rsplit(".self_attn.", 1)[0] for k in t if ".self_attn.q_proj.weight" in k},
                  key=lambda b: int(b.rsplit(".", 1)[1]))


def rotate_residual(t: dict[str, np.ndarray], seed: int, *, prefix: str = "model.") -> dict[str, np.ndarray]:
    """QuaRot/SliceGPT: fold every RMSNorm's weights into the next linear layers, then rotate the residual
    stream by a random orthogonal ``Q`` (embeddings ``E Q^T``, readers ``W diag(g) Q^T``, writers ``Q W``)."""
    d = t[f"{prefix}embed_tokens.weight"].shape[1]
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    out = dict(t)
    out[f"{prefix}embed_tokens.weight"] = t[f"{prefix}embed_tokens.weight"] @ q.T
    for b in _blocks(t):
        for norm, readers in (("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
                              ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj"))):
            g = t[f"{b}.{norm}.weight"]
            for r in readers:
                out[f"{b}.{r}.weight"] = (t[f"{b}.{r}.weight"] * g[None, :]) @ q.T
            out[f"{b}.{norm}.weight"] = np.ones_like(g)
        for w in ("self_attn.o_proj", "mlp.down_proj"):
            out[f"{b}.{w}.weight"] = q @ t[f"{b}.{w}.weight"]
    g = t[f"{prefix}norm.weight"]
    out["lm_head.weight"] = (t["lm_head.weight"] * g[None, :]) @ q.T
    out[f"{prefix}norm.weight"] = np.ones_like(g)
    return {k: v.astype(t[k].dtype) for k, v in out.items()}


def rescale(t: dict[str, np.ndarray], c: float = 7.0) -> dict[str, np.ndarray]:
    """Constant scaling that keeps the function: q up, k down; up up, down down."""
    out = dict(t)
    for b in _blocks(t):
        out[f"{b}.self_attn.q_proj.weight"] = t[f"{b}.self_attn.q_proj.weight"] * c
        out[f"{b}.self_attn.q_proj.bias"] = t[f"{b}.self_attn.q_proj.bias"] * c
        out[f"{b}.self_attn.k_proj.weight"] = t[f"{b}.self_attn.k_proj.weight"] / c
        out[f"{b}.mlp.up_proj.weight"] = t[f"{b}.mlp.up_proj.weight"] * c
        out[f"{b}.mlp.down_proj.weight"] = t[f"{b}.mlp.down_proj.weight"] / c
    return out


def flip_signs(t: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Sign flips that keep the function: MLP units (up row and down column), value channels (v row, o column)."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for b in _blocks(t):
        s = rng.choice([-1.0, 1.0], t[f"{b}.mlp.up_proj.weight"].shape[0]).astype(np.float32)
        out[f"{b}.mlp.up_proj.weight"] = t[f"{b}.mlp.up_proj.weight"] * s[:, None]
        out[f"{b}.mlp.down_proj.weight"] = t[f"{b}.mlp.down_proj.weight"] * s[None, :]
        s = rng.choice([-1.0, 1.0], t[f"{b}.self_attn.v_proj.weight"].shape[0]).astype(np.float32)
        out[f"{b}.self_attn.v_proj.weight"] = t[f"{b}.self_attn.v_proj.weight"] * s[:, None]
        out[f"{b}.self_attn.o_proj.weight"] = t[f"{b}.self_attn.o_proj.weight"] * s[None, :]
    return out


def prune_width(t: dict[str, np.ndarray], seed: int, *, units: float = 0.25, heads_removed: int = 2,
                heads: int = 4) -> dict[str, np.ndarray]:
    """Remove a share of MLP units and whole attention heads in every block."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for b in _blocks(t):
        ff = t[f"{b}.mlp.up_proj.weight"].shape[0]
        keep = np.sort(rng.choice(ff, ff - int(ff * units), replace=False))
        for w in ("gate_proj", "up_proj"):
            out[f"{b}.mlp.{w}.weight"] = t[f"{b}.mlp.{w}.weight"][keep]
        out[f"{b}.mlp.down_proj.weight"] = t[f"{b}.mlp.down_proj.weight"][:, keep]
        hd = t[f"{b}.self_attn.q_proj.weight"].shape[0] // heads
        kept = np.sort(rng.choice(heads, heads - heads_removed, replace=False))
        rows = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in kept])
        for w in ("q_proj", "k_proj", "v_proj"):
            out[f"{b}.self_attn.{w}.weight"] = t[f"{b}.self_attn.{w}.weight"][rows]
        out[f"{b}.self_attn.q_proj.bias"] = t[f"{b}.self_attn.q_proj.bias"][rows]
        out[f"{b}.self_attn.o_proj.weight"] = t[f"{b}.self_attn.o_proj.weight"][:, rows]
    return out


def prune_depth(t: dict[str, np.ndarray], order: list[int], *, prefix: str = "model.") -> dict[str, np.ndarray]:
    """Keep the layers in ``order`` (removed or reordered), renumbered from 0."""
    out = {k: v for k, v in t.items() if f"{prefix}layers." not in k}
    for new, old in enumerate(order):
        p = f"{prefix}layers.{old}."
        out.update({f"{prefix}layers.{new}." + k[len(p):]: v for k, v in t.items() if k.startswith(p)})
    return out


def vocab_json(strings: list[str]) -> str:
    """A tokenizer.json holding just a vocabulary (token string -> id)."""
    return json.dumps({"model": {"type": "BPE", "vocab": {s: i for i, s in enumerate(strings)}}})


def change_vocab(t: dict[str, np.ndarray], seed: int, *, extra: int = 0, reorder: bool = False,
                 prefix: str = "model.") -> tuple[dict[str, np.ndarray], list[str]]:
    """New rows appended to the embedding and LM head (``extra``) and/or the vocabulary reordered; returns the
    tensors and the token strings by id (the original's are ``tok{i}``)."""
    rng = np.random.default_rng(seed)
    e, h = t[f"{prefix}embed_tokens.weight"], t["lm_head.weight"]
    strings = [f"tok{i}" for i in range(e.shape[0])]
    order = rng.permutation(e.shape[0]) if reorder else np.arange(e.shape[0])
    e, h, strings = e[order], h[order], [strings[i] for i in order]
    if extra:
        e = np.concatenate([e, (rng.standard_normal((extra, e.shape[1])) * e.std()).astype(e.dtype)])
        h = np.concatenate([h, (rng.standard_normal((extra, h.shape[1])) * h.std()).astype(h.dtype)])
        strings += [f"new{i}" for i in range(extra)]
    out = dict(t)
    out[f"{prefix}embed_tokens.weight"], out["lm_head.weight"] = e, h
    return out, strings


def fuse_projections(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """q/k/v as one ``qkv_proj`` and gate/up as one ``gate_up_proj`` (rows stacked)."""
    out = dict(t)
    for b in _blocks(t):
        a = f"{b}.self_attn."
        out[a + "qkv_proj.weight"] = np.concatenate([out.pop(a + f"{n}.weight") for n in ("q_proj", "k_proj", "v_proj")])
        m = f"{b}.mlp."
        out[m + "gate_up_proj.weight"] = np.concatenate([out.pop(m + "gate_proj.weight"), out.pop(m + "up_proj.weight")])
    return out


def upcycle(t: dict[str, np.ndarray], seed: int, *, experts: int = 4, noise: float = 0.05) -> dict[str, np.ndarray]:
    """Dense-to-MoE upcycling: each block's MLP copied into ``experts`` experts (each with its own noise)
    and a new router."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for b in _blocks(t):
        m = f"{b}.mlp."
        dense = {n: out.pop(m + f"{n}.weight") for n in ("gate_proj", "up_proj", "down_proj")}
        for e in range(experts):
            for n, w in dense.items():
                z = rng.standard_normal(w.shape)
                out[m + f"experts.{e}.{n}.weight"] = (w + z * noise * np.linalg.norm(w) / np.linalg.norm(z)).astype(w.dtype)
        out[m + "gate.weight"] = (rng.standard_normal((experts, dense["up_proj"].shape[1])) * 0.02).astype(np.float32)
    return out
