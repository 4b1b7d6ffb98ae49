"""GPT-2-shaped models in numpy, stored in GPT-2's ``Conv1D`` layout ((in, out) matrices), and their conversion
to ``nn.Linear`` layout ((out, in)), rotated with the LayerNorms folded (issue 23, item 4).

Public API: :func:`make_gpt2`, :func:`to_linear`, :func:`rotate_gpt2`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_gpt2", "rotate_gpt2", "to_linear"]

READERS = {"ln_1": ("attn.c_attn",), "ln_2": ("mlp.c_fc",)}
WRITERS = ("attn.c_proj", "mlp.c_proj")


def _w(rng, rows, cols):
    base = rng.standard_t(df=6, size=(rows, cols)) * 0.02
    return (base * np.exp(rng.normal(0, 0.3, (rows, 1))) * np.exp(rng.normal(0, 0.3, (1, cols)))).astype(np.float32)


def make_gpt2(seed: int, *, layers: int = 3, d: int = 64, vocab: int = 512, positions: int = 128) -> dict:
    """Token and position embeddings (tied head), ``layers`` blocks in Conv1D layout, LayerNorms with biases."""
    rng = np.random.default_rng(seed)
    f = np.float32
    t = {"transformer.wte.weight": _w(rng, vocab, d), "transformer.wpe.weight": _w(rng, positions, d),
         "transformer.ln_f.weight": (1 + rng.normal(0, 0.05, d)).astype(f),
         "transformer.ln_f.bias": rng.normal(0, 0.02, d).astype(f)}
    for i in range(layers):
        p = f"transformer.h.{i}."
        for n, (r, c) in {"attn.c_attn": (d, 3 * d), "attn.c_proj": (d, d), "mlp.c_fc": (d, 4 * d),
                          "mlp.c_proj": (4 * d, d)}.items():
            t[p + n + ".weight"], t[p + n + ".bias"] = _w(rng, r, c), rng.normal(0, 0.02, c).astype(f)
        for n in ("ln_1", "ln_2"):
            t[p + n + ".weight"] = (1 + rng.normal(0, 0.05, d)).astype(f)
            t[p + n + ".bias"] = rng.normal(0, 0.02, d).astype(f)
    return t


def to_linear(t: dict) -> dict:
    """Every block matrix transposed to ``nn.Linear``'s (out, in) layout; the same function."""
    return {k: (np.ascontiguousarray(v.T) if v.ndim == 2 and ".h." in k else v) for k, v in t.items()}


def rotate_gpt2(t: dict, seed: int) -> dict:
    """(Conv1D layout) LayerNorms folded into RMSNorms, the stream centered and rotated; the same function."""
    f64 = {k: v.astype(np.float64) for k, v in t.items()}
    d = f64["transformer.wte.weight"].shape[1]
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    cq = (np.eye(d) - 1.0 / d) @ q.T
    out = dict(f64)
    for n in ("transformer.wte.weight", "transformer.wpe.weight"):
        out[n] = f64[n] @ cq
    layers = sorted({int(k.split(".")[2]) for k in t if k.startswith("transformer.h.")})
    for i in layers:
        p = f"transformer.h.{i}."
        for norm, readers in READERS.items():
            g, beta = f64[p + norm + ".weight"], f64[p + norm + ".bias"]
            for r in readers:
                w = f64[p + r + ".weight"]
                out[p + r + ".bias"] = f64[p + r + ".bias"] + beta @ w
                out[p + r + ".weight"] = q @ (g[:, None] * w)
            out[p + norm + ".weight"] = np.ones(d)
            out.pop(p + norm + ".bias")
        for w in WRITERS:
            out[p + w + ".weight"] = f64[p + w + ".weight"] @ cq
            out[p + w + ".bias"] = f64[p + w + ".bias"] @ cq
    return {k: v.astype(np.float32) for k, v in out.items()}
