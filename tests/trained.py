"""Small language models trained here on the CPU (numpy only): independent models that share a tokenizer and
their training text, the null that a shared tokenizer must never be mistaken for reuse (issue 23).

The "language" is a hidden Markov chain over word classes, each class emitting its own Zipf-distributed words;
every model of one language sees text drawn from the same chain (its own sample, its own length), so token
similarities learned from it are shared by independent models, as they are by real models trained on similar
text. The model: token embeddings, one MLP block (up, down) on the residual stream, an untied LM head, trained
by Adam on next-token cross-entropy. A zero-initialised, never-trained bias and an all-ones norm sit beside
them (constant tensors that independent models share byte for byte).

Public API: :func:`language`, :func:`corpus`, :func:`train`, :data:`VOCAB_JSON`.
"""

from __future__ import annotations

import json

import numpy as np

__all__ = ["VOCAB", "VOCAB_JSON", "corpus", "language", "train"]

VOCAB = 400
CLASSES = 12
VOCAB_JSON = json.dumps({"model": {"vocab": {f"w{i}": i for i in range(VOCAB)}}})


def language(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class transition matrix, each token's class, and each token's emission weight within its class."""
    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.full(CLASSES, 0.3), size=CLASSES)
    cls = rng.integers(0, CLASSES, VOCAB)
    weight = 1.0 / (1.0 + rng.permutation(VOCAB)) ** 0.8  # Zipf-like within each class
    return trans, cls, weight


def corpus(seed: int, length: int, lang: int = 0) -> np.ndarray:
    """``length`` tokens of the language ``lang``, sampled with ``seed``."""
    trans, cls, weight = language(lang)
    rng = np.random.default_rng(seed)
    members = [np.nonzero(cls == c)[0] for c in range(CLASSES)]
    probs = [weight[m] / weight[m].sum() for m in members]
    out = np.empty(length, dtype=np.int64)
    c = 0
    u = rng.random(length)
    for n in range(length):
        c = int(np.searchsorted(np.cumsum(trans[c]), u[n] * 0.999999))
        out[n] = members[c][np.searchsorted(np.cumsum(probs[c]), rng.random() * 0.999999)] if members[c].size else 0
    return out


def train(seed: int, steps: int, *, text: np.ndarray, d: int = 32, ff: int = 64, batch: int = 256,
          lr: float = 0.01, prefix: str = "model.") -> dict[str, np.ndarray]:
    """Train a one-block model from its own random initialisation on bigrams of ``text``; its tensors.

    One BLAS thread: the products are small, and a thread pool on a busy machine makes training 20x slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # only slower
        return _train(seed, steps, text=text, d=d, ff=ff, batch=batch, lr=lr, prefix=prefix)
    with threadpool_limits(1):
        return _train(seed, steps, text=text, d=d, ff=ff, batch=batch, lr=lr, prefix=prefix)


def _train(seed: int, steps: int, *, text: np.ndarray, d: int, ff: int, batch: int, lr: float,
           prefix: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.02, (VOCAB, d))
    up = rng.normal(0, 1 / np.sqrt(d), (ff, d))
    down = rng.normal(0, 1 / np.sqrt(ff), (d, ff)) * 0.5
    head = rng.normal(0, 0.02, (VOCAB, d))
    params = [e, up, down, head]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        pos = rng.integers(0, text.size - 1, batch)
        prev, nxt = text[pos], text[pos + 1]
        x = e[prev]
        u = x @ up.T
        a = np.maximum(u, 0)
        h = x + a @ down.T
        logits = h @ head.T
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        p[np.arange(batch), nxt] -= 1
        g_logits = p / batch
        g_head = g_logits.T @ h
        g_h = g_logits @ head
        g_down = g_h.T @ a
        g_u = (g_h @ down) * (u > 0)
        g_up = g_u.T @ x
        g_x = g_h + g_u @ up
        g_e = np.zeros_like(e)
        np.add.at(g_e, prev, g_x)
        for k, g in enumerate((g_e, g_up, g_down, g_head)):  # Adam
            m1[k] = 0.9 * m1[k] + 0.1 * g
            m2[k] = 0.999 * m2[k] + 0.001 * g * g
            params[k] -= lr * (m1[k] / (1 - 0.9 ** step)) / (np.sqrt(m2[k] / (1 - 0.999 ** step)) + 1e-8)
    f = np.float32
    return {f"{prefix}embed_tokens.weight": e.astype(f),
            f"{prefix}layers.0.mlp.up_proj.weight": up.astype(f),
            f"{prefix}layers.0.mlp.up_proj.bias": np.zeros(ff, f),  # zero-initialised, never trained
            f"{prefix}layers.0.mlp.down_proj.weight": down.astype(f),
            f"{prefix}layers.0.post_attention_layernorm.weight": np.ones(d, f),  # a norm at one
            f"{prefix}norm.weight": np.ones(d, f),
            "lm_head.weight": head.astype(f)}
