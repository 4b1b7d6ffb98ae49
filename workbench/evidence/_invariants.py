"""Anchored Gram sketches: statistics of a weight matrix that survive the evasions a reuser would try.

A model's token embeddings are the one set of residual-stream vectors that two models can name alike (by
token string). For ``ANCHOR_TOKENS`` anchor tokens, chosen by the smallest hash of their strings (so an
extended or reordered vocabulary picks the same tokens), every matrix that reads or writes the residual
stream is summarized by the Gram matrix of its response to the anchors:

- reads (``in``: q/k/v, gate/up, fc1): ``A = E diag(g) W^T`` with ``g`` the norm weights in front of it;
- writes (``out``: o, down, fc2): ``A = E W``;
- rows of the vocabulary (``rows``: the embedding itself, the LM head): ``A = W[anchor ids] diag(g)``;

and the sketch is the off-diagonal upper triangle of ``A A^T``. A rotation ``Q`` of the residual stream
(``E -> E Q^T``, ``W -> W diag(g) Q^T`` with the norm folded, ``W_out -> Q W_out``) leaves ``A`` unchanged;
permuting, sign-flipping or removing hidden units or heads only sums the Gram over other (or fewer) units;
a constant scale is removed by standardizing. The anchors are centered and their top principal direction
removed (the token-frequency direction every trained model has, which would make independent models look
alike), and a read/write matrix's Gram is residualized against the anchors' own Gram (a matrix with
``W^T W`` near a multiple of the identity would otherwise just repeat the embedding's structure, and a
reused embedding would make independent layers look reused).

Pure functions over arrays and names; used by :mod:`workbench.evidence.weights` (fingerprinting) and
:mod:`workbench.evidence.provenance` (comparison).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

ANCHOR_TOKENS = 48
# Common words that almost every vocabulary with English in it holds as whole words (BERT's plain ``the``,
# SentencePiece's ``▁the``, byte-level BPE's ``Ġthe``). Anchors are otherwise chosen by the smallest hash of a
# model's own token strings, so two models with different vocabularies (a WordPiece and a SentencePiece one)
# share none and nothing rotation-proof could be compared; the words a vocabulary holds are added under names
# of their own (``word_hash``), so such pairs still share anchors. They are compared only where fewer than
# ``MIN_COMMON`` hashed anchors are shared (see :func:`triangle_index`): frequent words are where independently
# trained models agree most, and the shared-vocabulary calibration rests on the hashed anchors. (The Grams are
# computed over all of a model's anchors, whitened together; the comparison selects their shared part.)
COMMON_WORDS = ("the", "of", "and", "in", "to", "was", "is", "for", "on", "as", "with", "by", "he", "at",
                "from", "his", "an", "were", "are", "which", "this", "be", "or", "has", "had", "not", "but",
                "first", "one", "their", "its", "new", "after", "who", "they", "have", "her", "she", "two",
                "been", "other", "when", "there", "all", "during", "into", "school", "time")
COMMON_SET = frozenset(COMMON_WORDS)
WORD_TOKENS = len(COMMON_WORDS)
MIN_COMMON = 16  # fewer shared anchor tokens than this: the Grams are not compared
MAX_ANCHORS = 4
MAX_VOCAB = 1 << 22  # token ids beyond this are ignored (the largest vocabularies today: ~256k)
BASIS_TOKENS = 512  # rows that estimate a vocabulary matrix's mean and top direction (see basis_rows)
TOP_DIRECTIONS = 1  # principal directions of the anchors removed (the token-frequency direction)
Side = Literal["in", "out", "rows"]

_EMBED = re.compile(r"(^|\.)(embed_tokens|word_embeddings|wte|tok_embeddings|embed_in|token_embd|shared)\.weight$")
_TOWER = re.compile(r"vision|visual|image|siglip|patch_embed|audio|speech|whisper")
_HEAD = re.compile(r"(^|\.)(lm_head|embed_out|output)\.weight$")
_OUT = re.compile(r"o_proj|out_proj|down_proj|(^|\.)wo\.|c_proj|fc2|(^|\.)w2\.|attention\.output\.dense|"
                  r"(^|\.)output\.dense|dense_4h_to_h")
_ATTN = re.compile(r"attn|attention|q_proj|k_proj|v_proj|query|key|value|qkv|(^|\.)w[qkv]\.")
_READ = re.compile(r"q_proj|k_proj|v_proj|query|key|value|qkv|c_attn|c_fc|fc1|up_proj|gate_proj|gate_up|"
                   r"(^|\.)w[13qkv]\.|intermediate|in_proj|dense_h_to_4h|w13")
_FUSED3 = re.compile(r"qkv|query_key_value|c_attn")
_FUSED2 = re.compile(r"gate_up|(^|\.)w13\.|dense_h_to_4h")
_LAYER = re.compile(r"^(.*?(?:^|\.)(?:layers?|h|blocks?)\.\d+\.)")
_NORM_ATTN = re.compile(r"input_layernorm|attention_norm|ln_1|ln1|attn_norm|norm1|pre_attention")
_NORM_MLP = re.compile(r"post_attention_layernorm|ffn_norm|ln_2|ln2|mlp_norm|norm2|pre_feedforward")
_NORM_FINAL = re.compile(r"(^|\.)(norm|ln_f|final_layer_norm|final_layernorm)\.weight$")


def token_hash(token: str) -> str:
    """16 hex digits naming a token across vocabularies (BLAKE2b of its UTF-8 string)."""
    return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def vocab_strings(docs: dict[str, Any]) -> list[str | None] | None:
    """Token strings by id from parsed side files (``tokenizer.json``, ``vocab.json``; ``vocab.txt`` as text).

    ``docs`` maps the file name to its parsed content. Returns None when no vocabulary can be read.
    """
    by_id: dict[int, str] = {}
    tok = docs.get("tokenizer.json")
    if isinstance(tok, dict):
        model = tok.get("model")
        vocab = model.get("vocab") if isinstance(model, dict) else None
        if isinstance(vocab, dict):
            by_id.update({i: s for s, i in vocab.items() if isinstance(i, int) and 0 <= i < MAX_VOCAB})
        elif isinstance(vocab, list):
            by_id.update({i: e[0] for i, e in enumerate(vocab[:MAX_VOCAB])
                          if isinstance(e, list) and e and isinstance(e[0], str)})
        added = tok.get("added_tokens")
        for e in added if isinstance(added, list) else []:
            if isinstance(e, dict) and isinstance(e.get("id"), int) and isinstance(e.get("content"), str):
                by_id.setdefault(e["id"], e["content"])
    if not by_id and isinstance(docs.get("vocab.json"), dict):
        by_id.update({i: s for s, i in docs["vocab.json"].items() if isinstance(i, int) and 0 <= i < MAX_VOCAB})
    if not by_id and isinstance(docs.get("vocab.txt"), str):
        by_id.update(enumerate(docs["vocab.txt"].splitlines()[:MAX_VOCAB]))
    if not by_id:
        return None
    out: list[str | None] = [None] * (max(by_id) + 1)
    for i, s in by_id.items():
        out[i] = s
    return out


def _ranked(n_rows: int, strings: list[str | None] | None) -> tuple[list[tuple[str, int]], bool]:
    named = strings is not None and sum(s is not None for s in strings[:n_rows]) >= 0.9 * n_rows
    keys = []
    for i in range(n_rows):
        s = strings[i] if named and strings is not None and i < len(strings) else None
        keys.append((token_hash(s if s is not None else f"#{i}"), i))
    keys.sort()
    return keys, named


def word_hash(word: str) -> str:
    """The anchor name of a common word (whatever its token's spelling), apart from every token string's."""
    return token_hash("\x00word:" + word)


WORD_HASHES = frozenset(word_hash(w) for w in COMMON_WORDS)


def _word_rows(n_rows: int, strings: list[str | None]) -> list[tuple[str, int]]:
    """(name, row) of the first ``WORD_TOKENS`` common words the vocabulary holds as a whole word: a
    word-start marker (``▁``, ``Ġ``) preferred, else the plain string (WordPiece, whose pieces are ``##``)."""
    marked: dict[str, int] = {}
    plain: dict[str, int] = {}
    for i, s in enumerate(strings[:n_rows]):
        if s and s[0] in "\u2581\u0120" and s[1:] in COMMON_SET:
            marked.setdefault(s[1:], i)
        elif s in COMMON_SET:
            plain.setdefault(s, i)
    out = [(word_hash(w), marked.get(w, plain.get(w, -1))) for w in COMMON_WORDS]
    return [(h, i) for h, i in out if i >= 0][:WORD_TOKENS]


def anchor_tokens(n_rows: int, strings: list[str | None] | None) -> tuple[list[int], list[str], str]:
    """Row ids and token hashes of the anchors (sorted by hash), and where the names came from.

    Tokens are named by their strings when the vocabulary covers at least 90% of the rows (an extended or
    reordered vocabulary then picks the same tokens), else by their ids (``#id``). A named vocabulary also
    contributes the common words it holds (:data:`COMMON_WORDS`, named by :func:`word_hash`), when at least
    ``MIN_COMMON`` of them: rows already picked by hash are not taken twice.
    """
    keys, named = _ranked(n_rows, strings)
    picked = keys[:ANCHOR_TOKENS]
    if named and strings is not None:
        taken = {i for _, i in picked}
        words = [(h, i) for h, i in _word_rows(n_rows, strings) if i not in taken]
        if len(words) >= MIN_COMMON:
            picked = sorted(picked + words)
    return [i for _, i in picked], [h for h, _ in picked], "tokenizer" if named else "ids"


def basis_rows(n_rows: int, strings: list[str | None] | None) -> list[int]:
    """Row ids of the ``BASIS_TOKENS`` tokens after the anchors (by hash): the sample from which a vocabulary
    matrix's mean and frequency direction are estimated, so that anchor rows are cleaned alike in two
    models even when a few anchors differ (an extended vocabulary)."""
    keys, _ = _ranked(n_rows, strings)
    return [i for _, i in keys[ANCHOR_TOKENS:ANCHOR_TOKENS + BASIS_TOKENS]]


def clean_anchor(rows: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray:
    """Anchor vectors centered and without their top principal direction (float64).

    With ``basis`` (more rows of the same matrix), the mean and the direction are estimated from the anchors
    and the basis together: many rows, so they barely move when a few anchors change.
    """
    x = rows.astype(np.float64)
    ref = x if basis is None or not basis.size else np.concatenate([x, basis.astype(np.float64)])
    mean = ref.mean(axis=0, keepdims=True)
    x = x - mean
    ref = ref - mean
    if min(x.shape) > 2:
        # top right singular vector from the small token Gram (a d-wide SVD is slow on a loaded machine)
        _, vecs = np.linalg.eigh(ref @ ref.T)
        for col in range(1, min(TOP_DIRECTIONS, x.shape[0] - 2) + 1):
            v = ref.T @ vecs[:, -col]
            n = float(np.linalg.norm(v))
            if n > 0:
                v /= n
                x = x - np.outer(x @ v, v)
    return x


@dataclass
class GramPlan:
    """How one matrix is sketched: its anchor, side, row split of fused projections and folded norm."""

    anchor: int
    side: Side
    parts: tuple[int, ...] = (1,)  # rows per part (``in``) for fused projections; (1,) means whole
    norm: str | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    centered: bool = False  # rows centered across the width first (a LayerNorm model's embedding, see below)
    both: bool = False  # square, layout unknown: also sketched from the other side (one more part)
    columns: bool = False  # ``rows`` of a vocabulary matrix stored transposed (width, vocabulary): its columns


def plan_matrix(name: str, shape: tuple[int, ...], anchors: list[tuple[str, int, int]],
                norms: dict[str, int], transposed: bool | None | dict[int, bool | None] = False) -> GramPlan | None:
    """The plan for a 2-D matrix, or None when it does not touch an anchored residual stream.

    ``anchors``: (embedding tensor name, rows, width); ``norms``: 1-D norm tensor name -> length.
    ``transposed``: the model stores matrices as (in, out) (GPT-2's ``Conv1D``) rather than ``nn.Linear``'s
    (out, in); None when that cannot be told (see :func:`layout_votes`): a square matrix is then sketched
    both ways. A dict gives it per residual width.
    """
    if len(shape) != 2:
        return None
    low = name.lower()
    fits = [(len(_common_prefix(name, a)), k) for k, (a, _, w) in enumerate(anchors) if w in shape]
    if not fits:
        return None
    k = max(fits)[1]
    aname, rows, d = anchors[k]
    r, c = shape
    if name == aname or (c == d and r >= rows * 0.9 and (_HEAD.search(low) or _EMBED.search(low))):
        final = [n for n, length in norms.items() if length == d and _NORM_FINAL.search(n.lower())
                 and not _LAYER.match(n)]
        return GramPlan(k, "rows", norm=final[0] if (final and name != aname) else None)
    if min(r, c) < 8:  # a handful of rows (token types, a router of few experts) says little
        return None
    if isinstance(transposed, dict):
        transposed = transposed.get(d, False)
    reader = bool(_READ.search(low)) and not _OUT.search(low)
    both = False
    if r == c == d:
        # square: the layout decides which side is the residual stream's; a writer by name is read from its
        # rows in nn.Linear layout, a reader from its columns; Conv1D swaps both; unknown: both ways
        linear_side: Side = "out" if _OUT.search(low) else "in"
        side: Side = linear_side if not transposed else ("in" if linear_side == "out" else "out")
        both = transposed is None
    elif c == d:
        side = "in"
    elif r == d:
        side = "out"
    else:
        return None
    hidden = r if side == "in" else c
    parts: tuple[int, ...] = (1,)
    if _FUSED3.search(low) and hidden % 3 == 0 and hidden != d:
        parts = (hidden // 3,) * 3
    elif _FUSED2.search(low) and hidden % 2 == 0:
        parts = (hidden // 2,) * 2
    norm = None
    m = _LAYER.match(name)
    if m and (reader or (side == "in" and not _OUT.search(low))):
        rx = _NORM_ATTN if _ATTN.search(low[len(m.group(1)):]) else _NORM_MLP
        cands = sorted(n for n, length in norms.items() if length == d and n.startswith(m.group(1))
                       and rx.search(n.lower()))
        norm = cands[0] if cands else None
    return GramPlan(k, side, parts, norm, both=both)


def layout_votes(shapes: dict[str, tuple[int, ...]], width: int) -> bool | None:
    """Whether a stack stores matrices transposed (Conv1D, (in, out)), from the non-square matrices whose
    role the name tells: a reader (q/k/v, fc1, up, c_attn, c_fc) with the width on its rows, or a writer
    (o, fc2, down) with the width on its columns, is transposed. None when undecided."""
    t = n = 0
    for name, (r, c) in ((k, v) for k, v in shapes.items() if len(v) == 2):
        if (r == width) == (c == width):
            continue
        low = name.lower()
        if _OUT.search(low):
            t, n = t + (c == width), n + (r == width)
        elif _READ.search(low):
            t, n = t + (r == width), n + (c == width)
    return None if t == n else t > n


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


class GramAccumulator:
    """Accumulates the anchored Gram(s) of one matrix over blocks of its rows (float32 blocks).

    ``in``: the columns are the residual stream (Grams per part, rows split for fused projections); ``out``:
    the rows are (Grams per part, columns split); ``both``: a square matrix sketched both ways (``in``
    parts, then the ``out`` one).
    """

    def __init__(self, plan: GramPlan, anchor: np.ndarray, shape: tuple[int, int], ids: np.ndarray | None,
                 whitened: np.ndarray | None = None):
        self.plan, self.shape = plan, shape
        g = plan.vectors.get(plan.norm) if plan.norm else None
        self.g = g
        if plan.side != "rows":
            # whitened first, then the norm: a folded norm (W diag(g) in the candidate) then gives the same A
            w = whitened if whitened is not None else whiten(anchor)
            b = w * g[None, :].astype(np.float64) if g is not None else w
            self.b32 = b.astype(np.float32)  # float32 products (BLAS speed), float64 sums across blocks
        self.ids = ids
        n = self.n_anchors = anchor.shape[0]
        self.acc = None
        self.grams: list[np.ndarray] = []
        if plan.side == "rows":  # the anchor rows, then the basis rows (``ids`` lists both)
            self.acc = np.zeros((len(ids) if ids is not None else n, shape[0] if plan.columns else shape[1]))
        if plan.side == "out" or plan.both:
            self.acc = np.zeros((n, shape[1]))
        if plan.side == "in":
            self.grams = [np.zeros((n, n)) for _ in plan.parts]
            self.bounds = np.cumsum((0, *plan.parts)) if plan.parts != (1,) else np.array([0, shape[0]])

    def update(self, row0: int, x: np.ndarray) -> None:
        """Add rows ``row0 .. row0 + len(x)`` (a float32 block of whole rows)."""
        r1 = row0 + x.shape[0]
        if self.plan.side == "rows" and self.plan.columns:  # tokens are columns: a slice of every token's vector
            assert self.ids is not None and self.acc is not None
            self.acc[:, row0:r1] = x[:, self.ids].T.astype(np.float64)
            return
        if self.plan.side == "rows":
            assert self.ids is not None and self.acc is not None
            sel = np.nonzero((self.ids >= row0) & (self.ids < r1))[0]
            if sel.size:
                self.acc[sel] = x[self.ids[sel] - row0].astype(np.float64)
            return
        if self.acc is not None:
            self.acc += self.b32[:, row0:r1] @ x
        for p in range(len(self.grams)):
            lo, hi = max(row0, int(self.bounds[p])), min(r1, int(self.bounds[p + 1]))
            if lo < hi:
                a = self.b32 @ x[lo - row0:hi - row0].T
                self.grams[p] += a @ a.T

    def finish(self) -> list[np.ndarray | None]:
        """The standardized sketches, one per part (None where degenerate)."""
        if self.plan.side == "rows":
            assert self.acc is not None
            rows = self.acc * self.g[None, :] if self.g is not None else self.acc
            if self.plan.centered:
                rows = center_rows(rows)
            a = clean_anchor(rows[:self.n_anchors], rows[self.n_anchors:])
            return [standardize_offdiag(a @ a.T, None)]
        out = [standardize_offdiag(g, None) for g in self.grams]
        if self.acc is not None:
            if self.plan.side == "out" and self.plan.parts != (1,):
                bounds = np.cumsum((0, *self.plan.parts))
                blocks = [self.acc[:, bounds[p]:bounds[p + 1]] for p in range(len(self.plan.parts))]
            else:
                blocks = [self.acc]
            out += [standardize_offdiag(b @ b.T, None) for b in blocks]
        return out


def center_rows(rows: np.ndarray) -> np.ndarray:
    """Each row minus its mean across the width.

    A LayerNorm reads only the centered part of the stream. Converting it to an RMSNorm (to rotate the stream,
    as SliceGPT does) therefore centers the embeddings and every writer: a LayerNorm model's anchors are
    centered before use, so the original and the converted model give the same sketches.
    """
    return rows - rows.mean(axis=1, keepdims=True)


def stem_names(shape: tuple[int, ...]) -> list[str]:
    """Names of the input positions of an encoder's stem (a patch convolution ``(width, channels, kh, kw)``):
    ``px:c,y,x``. Its columns are the residual-stream vectors a vision tower writes for one input pixel,
    named alike in any copy, so they anchor the tower as token embeddings anchor a language model."""
    import itertools

    return [f"px:{','.join(map(str, ix))}" for ix in itertools.product(*(range(n) for n in shape[1:]))]


def whiten(b: np.ndarray) -> np.ndarray:
    """The polar factor ``U V^T`` of the anchors (all singular values 1; rotation-equivariant).

    With whitened anchors a matrix's Gram holds the coordinates of ``W^T W`` (or ``W W^T``) in an orthonormal
    basis of the anchors' span: entries of independent matrices are then uncorrelated even when both models
    share the embedding, and an isotropic ``W^T W`` lands on the dropped diagonal.
    """
    vals, vecs = np.linalg.eigh(b @ b.T)  # (B B^T)^(-1/2) B = U V^T, through the small token Gram
    keep = vals > vals.max() * 1e-10 if vals.size and vals.max() > 0 else np.zeros(vals.shape, bool)
    inv = (vecs[:, keep] / np.sqrt(vals[keep])) @ vecs[:, keep].T
    return inv @ b


def offdiag(g: np.ndarray) -> np.ndarray:
    """The strict upper triangle, row by row."""
    return g[np.triu_indices(g.shape[0], 1)]


def standardize_offdiag(g: np.ndarray, null: np.ndarray | None) -> np.ndarray | None:
    """Off-diagonal Gram entries, residualized on ``null``'s (least squares), standardized; None if constant."""
    y = offdiag(g)
    y = y - y.mean()
    if null is not None:
        x = offdiag(null)
        x = x - x.mean()
        xx = float(x @ x)
        if xx > 0:
            y = y - (float(x @ y) / xx) * x
    s = float(y.std())
    if not (s > 0 and math.isfinite(s)) or not np.isfinite(y).all():
        return None
    return np.clip(y / s, -60000, 60000).astype(np.float16)


def triangle_index(tokens_a: list[str], tokens_b: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions in two anchor triangles of the pairs of tokens both anchors hold (None if too few).

    The common words (:data:`WORD_HASHES`) count only when fewer than ``MIN_COMMON`` tokens chosen by hash
    are shared: models of one vocabulary are compared on those alone, as before the words were added.
    """
    pos_b = {t: j for j, t in enumerate(tokens_b)}
    common = [(i, pos_b[t]) for i, t in enumerate(tokens_a) if t in pos_b]
    hashed = [(i, j) for i, j in common if tokens_a[i] not in WORD_HASHES]
    if len(hashed) >= MIN_COMMON:
        common = hashed
    if len(common) < MIN_COMMON:
        return None
    ia = np.array([i for i, _ in common])
    ib = np.array([j for _, j in common])
    p, q = np.triu_indices(len(common), 1)
    return _tri(ia[p], ia[q], len(tokens_a)), _tri(ib[p], ib[q], len(tokens_b))


def _tri(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    return lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)


def n_pairs(n: int) -> int:
    """Length of an anchor triangle of ``n`` tokens."""
    return n * (n - 1) // 2
