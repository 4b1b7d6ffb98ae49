"""ViT-shaped vision towers in numpy, and the manipulations that hide a copied one inside a VLM (issue 23).

The tower follows Hugging Face's CLIP/SigLIP layout: a patch-embedding convolution (the stem), position
embeddings, pre-LayerNorm blocks (q/k/v/out projections, fc1/fc2, biases), a post LayerNorm.
:func:`rotate_tower` is SliceGPT's transform: every LayerNorm becomes an RMSNorm (weights folded into the
readers, biases into the readers' biases, the stream kept centered by centering every writer), then the
residual stream is rotated; :func:`block_forward` checks on one block that the function is unchanged.

Public API: :func:`make_vit`, :func:`rotate_tower`, :func:`permute_tower`, :func:`prune_tower`,
:func:`drop_layers`, :func:`fuse_tower_qkv`, :func:`rename`, :func:`block_forward`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["block_forward", "drop_layers", "fuse_tower_qkv", "make_vit", "permute_tower", "prune_tower", "rename",
           "rotate_tower"]

P = "vision_model."
READERS = {"layer_norm1": ("q_proj", "k_proj", "v_proj"), "layer_norm2": ("fc1",)}
WRITERS = ("self_attn.out_proj", "mlp.fc2")


def _w(rng, rows, cols, scale=0.02):
    base = rng.standard_t(df=6, size=(rows, cols)) * scale
    return (base * np.exp(rng.normal(0, 0.3, (rows, 1))) * np.exp(rng.normal(0, 0.3, (1, cols)))).astype(np.float32)


def _path(name: str) -> str:
    return f"self_attn.{name}" if name.endswith("proj") else f"mlp.{name}"


def make_vit(seed: int, *, layers: int = 12, d: int = 384, ff: int | None = None, patch: int = 16,
             positions: int = 197, prefix: str = P) -> dict[str, np.ndarray]:
    """A ViT tower of ``layers`` blocks of width ``d`` (MLP ``4 d``), random weights at realistic scales."""
    rng = np.random.default_rng(seed)
    ff = ff or 4 * d
    f = np.float32
    t = {f"{prefix}embeddings.patch_embedding.weight": (rng.standard_normal((d, 3, patch, patch)) * 0.02).astype(f),
         f"{prefix}embeddings.patch_embedding.bias": rng.normal(0, 0.02, d).astype(f),
         f"{prefix}embeddings.position_embedding.weight": (rng.standard_normal((positions, d)) * 0.02).astype(f),
         f"{prefix}post_layernorm.weight": (1 + rng.normal(0, 0.05, d)).astype(f),
         f"{prefix}post_layernorm.bias": rng.normal(0, 0.02, d).astype(f)}
    for i in range(layers):
        p = f"{prefix}encoder.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[p + f"self_attn.{n}.weight"] = _w(rng, d, d)
            t[p + f"self_attn.{n}.bias"] = rng.normal(0, 0.02, d).astype(f)
        t[p + "mlp.fc1.weight"], t[p + "mlp.fc1.bias"] = _w(rng, ff, d), rng.normal(0, 0.02, ff).astype(f)
        t[p + "mlp.fc2.weight"], t[p + "mlp.fc2.bias"] = _w(rng, d, ff), rng.normal(0, 0.02, d).astype(f)
        for n in ("layer_norm1", "layer_norm2"):
            t[p + f"{n}.weight"] = (1 + rng.normal(0, 0.05, d)).astype(f)
            t[p + f"{n}.bias"] = rng.normal(0, 0.02, d).astype(f)
    return t


def _layers(t: dict, prefix: str = P) -> list[int]:
    return sorted({int(k[len(prefix) + 15:].split(".")[0]) for k in t if k.startswith(prefix + "encoder.layers.")})


def rotate_tower(t: dict[str, np.ndarray], seed: int, prefix: str = P) -> dict[str, np.ndarray]:
    """LayerNorms folded into RMSNorms, the residual stream centered and rotated (SliceGPT); same function."""
    f64 = {k: v.astype(np.float64) for k, v in t.items()}
    d = f64[prefix + "embeddings.position_embedding.weight"].shape[1]
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    c = np.eye(d) - 1.0 / d
    qc = q @ c
    out = dict(f64)
    stem = f64[prefix + "embeddings.patch_embedding.weight"]
    out[prefix + "embeddings.patch_embedding.weight"] = (qc @ stem.reshape(d, -1)).reshape(stem.shape)
    out[prefix + "embeddings.patch_embedding.bias"] = qc @ f64[prefix + "embeddings.patch_embedding.bias"]
    out[prefix + "embeddings.position_embedding.weight"] = f64[prefix + "embeddings.position_embedding.weight"] @ qc.T
    if prefix + "embeddings.class_embedding" in f64:  # the class token joins the stream too
        out[prefix + "embeddings.class_embedding"] = qc @ f64[prefix + "embeddings.class_embedding"]
    for i in _layers(t, prefix):
        p = f"{prefix}encoder.layers.{i}."
        for norm, readers in READERS.items():
            g, beta = f64[p + f"{norm}.weight"], f64.pop(p + f"{norm}.bias")
            out.pop(p + f"{norm}.bias")
            for r in readers:
                w = f64[p + _path(r) + ".weight"]
                out[p + _path(r) + ".bias"] = f64[p + _path(r) + ".bias"] + w @ beta
                out[p + _path(r) + ".weight"] = (w * g[None, :]) @ q.T
            out[p + f"{norm}.weight"] = np.ones(d)
        for wname in WRITERS:
            out[p + wname + ".weight"] = qc @ f64[p + wname + ".weight"]
            out[p + wname + ".bias"] = qc @ f64[p + wname + ".bias"]
    out[prefix + "post_layernorm.weight"] = np.ones(d)  # g and beta go into whatever reads the tower (projector)
    out.pop(prefix + "post_layernorm.bias")
    return {k: v.astype(np.float32) for k, v in out.items()}


def block_forward(t: dict[str, np.ndarray], x: np.ndarray, layer: int, *, rms: bool, heads: int = 6,
                  prefix: str = P) -> np.ndarray:
    """One pre-norm block on residual rows ``x`` (LayerNorm, or RMSNorm after :func:`rotate_tower`)."""
    p = f"{prefix}encoder.layers.{layer}."

    def norm(v, n):
        if rms:
            return v / np.sqrt((v * v).mean(1, keepdims=True)) * t[p + f"{n}.weight"]
        v = v - v.mean(1, keepdims=True)
        return v / np.sqrt((v * v).mean(1, keepdims=True)) * t[p + f"{n}.weight"] + t[p + f"{n}.bias"]

    def lin(v, n):
        return v @ t[p + _path(n) + ".weight"].T + t[p + _path(n) + ".bias"]

    h = norm(x, "layer_norm1")
    qh, kh, vh = (np.split(lin(h, n), heads, axis=1) for n in ("q_proj", "k_proj", "v_proj"))
    att = []
    for a, b, v in zip(qh, kh, vh, strict=True):
        s = a @ b.T / np.sqrt(a.shape[1])
        s = np.exp(s - s.max(1, keepdims=True))
        att.append((s / s.sum(1, keepdims=True)) @ v)
    x = x + lin(np.concatenate(att, axis=1), "out_proj")
    h = np.maximum(lin(norm(x, "layer_norm2"), "fc1"), 0)
    return x + lin(h, "fc2")


def permute_tower(t: dict[str, np.ndarray], seed: int, *, heads: int = 6, prefix: str = P) -> dict[str, np.ndarray]:
    """Heads and MLP units permuted in every block (same function)."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for i in _layers(t, prefix):
        p = f"{prefix}encoder.layers.{i}."
        pu = rng.permutation(t[p + "mlp.fc1.weight"].shape[0])
        out[p + "mlp.fc1.weight"], out[p + "mlp.fc1.bias"] = t[p + "mlp.fc1.weight"][pu], t[p + "mlp.fc1.bias"][pu]
        out[p + "mlp.fc2.weight"] = t[p + "mlp.fc2.weight"][:, pu]
        d = t[p + "self_attn.q_proj.weight"].shape[0]
        hd = d // heads
        ph = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in rng.permutation(heads)])
        for n in ("q_proj", "k_proj", "v_proj"):
            out[p + f"self_attn.{n}.weight"] = t[p + f"self_attn.{n}.weight"][ph]
            out[p + f"self_attn.{n}.bias"] = t[p + f"self_attn.{n}.bias"][ph]
        out[p + "self_attn.out_proj.weight"] = t[p + "self_attn.out_proj.weight"][:, ph]
    return out


def prune_tower(t: dict[str, np.ndarray], seed: int, *, units: float = 0.25, prefix: str = P) -> dict[str, np.ndarray]:
    """A share ``units`` of every block's MLP units removed."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for i in _layers(t, prefix):
        p = f"{prefix}encoder.layers.{i}."
        ff = t[p + "mlp.fc1.weight"].shape[0]
        keep = np.sort(rng.choice(ff, int(ff * (1 - units)), replace=False))
        out[p + "mlp.fc1.weight"], out[p + "mlp.fc1.bias"] = t[p + "mlp.fc1.weight"][keep], t[p + "mlp.fc1.bias"][keep]
        out[p + "mlp.fc2.weight"] = t[p + "mlp.fc2.weight"][:, keep]
    return out


def drop_layers(t: dict[str, np.ndarray], keep: list[int], prefix: str = P) -> dict[str, np.ndarray]:
    """Only the blocks ``keep``, renumbered 0.. in that order."""
    base = prefix + "encoder.layers."
    out = {k: v for k, v in t.items() if not k.startswith(base)}
    for new, old in enumerate(keep):
        out.update({f"{base}{new}." + k[len(f"{base}{old}."):]: v for k, v in t.items() if k.startswith(f"{base}{old}.")})
    return out


def fuse_tower_qkv(t: dict[str, np.ndarray], prefix: str = P) -> dict[str, np.ndarray]:
    """q, k, v of every block as one ``self_attn.qkv`` matrix (and bias)."""
    out = dict(t)
    for i in _layers(t, prefix):
        p = f"{prefix}encoder.layers.{i}.self_attn."
        for s in ("weight", "bias"):
            out[p + f"qkv.{s}"] = np.concatenate([out.pop(p + f"{n}.{s}") for n in ("q_proj", "k_proj", "v_proj")])
    return out


def rename(t: dict[str, np.ndarray], old: str, new: str) -> dict[str, np.ndarray]:
    """Every name starting with ``old`` moved under ``new`` (``encoder.layers.`` becomes ``blocks.``)."""
    return {(new + k[len(old):].replace("encoder.layers.", "blocks.") if k.startswith(old) else k): v
            for k, v in t.items()}
