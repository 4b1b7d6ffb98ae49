"""Weight provenance: does a candidate model reuse the weights of reference models, and where?

Tensors are paired by content, not by name (names and prefixes are the team's to choose): every candidate
tensor is compared with every reference tensor of the same shape, first on a short probe of its sketches to
find the few best partners, then on the whole sketches.

The statistic for one pair of sketches (see :mod:`workbench.evidence.weights`) is a centered, self-normalized
correlation: with ``x`` and ``y`` the standardized sketches winsorized at +-3,
``z = sum(x*y) / sqrt(sum(x**2 * y**2))``. Under the null hypothesis that the models were trained
independently, the sign of each product is independent of its size (hidden units, heads and residual
dimensions have arbitrary order and sign in independent runs), so ``z`` is close to standard normal whatever
the weights' distribution; a copy gives ``z`` of about ``0.6 * sqrt(m)``. The best pair's ``z`` is
Bonferroni-corrected for the number of tensors and sketch kinds searched, turned back into a z-score, and
the corrected p-values of a component's tensors are combined with Fisher's method. A component is ``derived`` when its
p-value is below ``alpha`` divided by the number of components (family-wise error ``alpha`` per report);
``identical`` when every informative tensor has a byte-identical partner in one reference; norms are always
``uninformative`` (near-constant vectors that are a negligible share of the parameters).

Public API: :class:`ProvenanceReport`, :class:`ComponentResult`, :class:`TensorMatch`, :func:`compare`,
:func:`component_of`, :func:`pair_statistic`, :func:`provenance_table`, :func:`provenance_chart`,
:func:`report_html`.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.charts import altair
from ..core.executor import one_blas_thread
from ..core.messages import msg
from ..core.templating import render
from ._invariants import triangle_index
from .weights import Fingerprint

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "SCHEMA",
    "ComponentResult",
    "ProvenanceReport",
    "Stack",
    "TensorMatch",
    "compare",
    "component_of",
    "pair_statistic",
    "provenance_chart",
    "provenance_table",
    "report_html",
    "stacks_of",
    "component_stack",
]

SCHEMA = "workbench.provenance/1"
ALPHA = 1e-3
CLIP = 3.0
PROBE = 128
TOP = 8
BLOCK = 1024
GRAM_PROBE = 64  # a Gram's partner correlates at 0.6-1.0: 64 entries find it among thousands (null sd 0.125)
GRAM_TOP = 4
NULL_SAMPLE = 64  # reference Grams a candidate Gram is also compared with to measure its null's width
# Ceilings of the correlation two independently trained models' anchored Grams reach through what they share
# (a tokenizer, similar text: how tokens relate is learned from language). A Gram match is evidence only
# where its correlation exceeds the ceiling (one-sided Fisher z, the anchors as sample size), see
# docs/weight-provenance.md "Shared structure". Measured on models trained here (tests/trained.py): rows
# (embeddings, LM head) 0.27-0.74, layers 0.01-0.18.
SHARED_ROWS = 0.9
SHARED_LAYERS = 0.35
NULL_BAND = -NormalDist().inv_cdf(0.0005)  # (equal to scipy's ndtri here) central 99.9% of the statistic for one component under the null


def _special() -> Any:
    """``scipy.special``, imported when fingerprints are compared: importing it costs a reviewer's notebook
    kernel 0.2-0.5 s, and most notebooks never compare weights."""
    from scipy import special

    return special


Verdict = Literal["identical", "derived", "no_evidence", "uninformative", "cannot_tell"]

_TOWERS = (("vision_encoder", re.compile(r"vision|visual|image|\bvit\b|siglip|patch_embed|img")),
           ("audio_encoder", re.compile(r"audio|speech|whisper|acoustic|mel")))
_NORM = re.compile(r"norm|(^|[._])ln(_?\w*)?([._]|$)|layernorm")
_HEAD = re.compile(r"lm_head|embed_out|^output\.weight$")
_EMBED = re.compile(r"embed|wte|wpe|token_type")
_LAYER = re.compile(r"(?:^|\.)(?:layers?|h|blocks?)\.(\d+)\.")
_ATTN = re.compile(r"attn|attention|q_proj|k_proj|v_proj|o_proj|query|key|value|\bw[qkvo]\b|qkv")


def component_of(name: str, ndim: int) -> str:
    """The component a tensor belongs to, from its name: ``vision_encoder``, ``audio_encoder``, ``norms``,
    ``lm_head``, ``embeddings``, ``layers.N.attention``, ``layers.N.mlp``, ``layers.N.experts`` or ``other``.
    """
    low = name.lower()
    if ndim <= 1 and _NORM.search(low):
        return "norms"
    for comp, rx in _TOWERS:
        if rx.search(low):
            return comp
    if _HEAD.search(low):
        return "lm_head"
    m = _LAYER.search(low)
    if m:
        kind = "experts" if "expert" in low and "shared_expert" not in low else (
            "attention" if _ATTN.search(low) else "mlp")
        return f"layers.{int(m.group(1))}.{kind}"
    if _EMBED.search(low):
        return "embeddings"
    return "other"


class Stack(BaseModel):
    """A stack of numbered layers found by structure: one list of blocks of one residual width."""

    model_config = ConfigDict(extra="forbid")

    label: str  # the prefix of its components in the report ("" for the language model)
    prefix: str  # where its blocks live (``model.enc2.blocks``)
    width: int | None
    layers: int
    params: int
    role: Literal["language model", "encoder tower", "stack"]


def _layer_of(name: str) -> tuple[str, int, str] | None:
    """(list prefix, layer number, rest) at the first numbered path segment, or None."""
    parts = name.split(".")
    for k in range(1, len(parts) - 1):
        if parts[k].isdigit():
            return ".".join(parts[:k]), int(parts[k]), ".".join(parts[k + 1:])
    return None


def _width_of(shapes: list[tuple[int, ...]]) -> int | None:
    counts: dict[int, int] = defaultdict(int)
    for sh in shapes:
        if len(sh) == 2:
            for n in set(sh):
                counts[n] += 1
    return min(counts, key=lambda n: (-counts[n], n)) if counts else None


def _kind(rest: str) -> str:
    low = rest.lower()
    if "expert" in low and "shared_expert" not in low:
        return "experts"
    return "attention" if _ATTN.search(low) else "mlp"


def component_stack(component: str) -> str:
    """The stack a component belongs to: ``vision_encoder`` for ``vision_encoder.layers.3.mlp`` and
    ``vision_encoder.embeddings``; ``""`` for the language model's own (``layers.3.mlp``, ``embeddings``,
    ``lm_head``). Findings and licence declarations speak of stacks (a tower is one component to a reader), the
    table of blocks."""
    head, sep, _ = component.partition(".layers.")
    if sep:
        return head
    for tail in (".embeddings", ".other"):
        if component.endswith(tail):
            return component[: -len(tail)]
    return ""


def stacks_of(fp: Fingerprint) -> tuple[list[Stack], list[str]]:
    """The model's stacks (by structure) and each tensor's component.

    Blocks are grouped by the list that holds them and by their residual width (the axis length their
    matrices share), not by words in their names: a copied tower renamed ``model.enc2.blocks.N`` is its own
    stack, never merged into the language model's ``layers.N``. The language model is the stack as wide as the
    token embeddings (else the largest); it keeps plain ``layers.N.*`` labels. Other stacks are labelled
    ``vision_encoder`` or ``audio_encoder`` when their path says so, else by the part of their path that
    differs from the language model's (``model.enc2``). Tensors outside any block go with the stack whose
    path they share most (``LABEL.embeddings`` / ``LABEL.other``), else by name (embeddings, lm_head, ...).
    """
    infos = [(t.name, t.shape, t.numel) for t in fp.tensors]
    layer_at = [_layer_of(n) for n, _, _ in infos]
    by_block: dict[tuple[str, int], list[tuple[int, ...]]] = defaultdict(list)
    for (_, shape, _), loc in zip(infos, layer_at, strict=True):
        if loc is not None:
            by_block[(loc[0], loc[1])].append(shape)
    block_width = {b: _width_of(v) for b, v in by_block.items()}
    members: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for i, loc in enumerate(layer_at):
        if loc is not None:
            members[(loc[0], block_width[(loc[0], loc[1])])].append(i)
    # a list of single tensors (experts' weights listed by number, a bank of embeddings) is no stack of blocks
    keys = [k for k, ix in members.items() if len({layer_at[i][2] for i in ix}) > 1]  # type: ignore[index]
    params = {k: sum(infos[i][2] for i in members[k]) for k in keys}
    token_width = {a.width for a in fp.anchors if a.source != "stem"}
    stem_at = [a.tensor for a in fp.anchors if a.source == "stem"]
    token_anchors = {a.tensor for a in fp.anchors if a.source != "stem"}
    main = max(sorted(keys, key=str), key=lambda k: (k[1] in token_width, params[k])) if keys else None
    labels: dict[tuple[str, int | None], str] = {}
    used: set[str] = set()
    out_stacks: list[Stack] = []
    for k in sorted(keys, key=lambda k: (k != main, -params[k], str(k))):
        low = k[0].lower()
        tower = next((c for c, rx in _TOWERS if rx.search(low)), None)
        if k == main:
            label = ""
        elif tower and tower not in used:
            label = tower
        else:
            own, base = k[0].split("."), main[0].split(".") if main else []
            n = 0
            while n < min(len(own), len(base)) and own[n] == base[n]:
                n += 1
            label = ".".join(own[:n + 1]) or k[0]
            if label in used:
                label = f"{label}#{k[1]}"
        used.add(label)
        labels[k] = label
        has_stem = any(_shared_segments(s, k[0]) >= max(1, len(k[0].split(".")) - 2) for s in stem_at)
        role: Literal["language model", "encoder tower", "stack"] = (
            "language model" if k == main else "encoder tower" if (has_stem or tower) else "stack")
        out_stacks.append(Stack(label=label, prefix=k[0], width=k[1], layers=len({layer_at[i][1] for i in members[k]}),  # type: ignore[index]
                                params=params[k], role=role))
    comp: list[str] = []
    for i, (name, shape, _) in enumerate(infos):
        base = component_of(name, len(shape))
        loc = layer_at[i]
        key = (loc[0], block_width[(loc[0], loc[1])]) if loc is not None else None
        if base == "norms":
            comp.append("norms")
        elif key in labels:
            lab = labels[key]
            kind = f"layers.{loc[1]}.{_kind(loc[2])}"  # type: ignore[index]
            comp.append(f"{lab}.{kind}" if lab else kind)
        else:
            # outside the blocks: the stack whose path it shares most, if more than with the language model
            best = max(sorted(labels, key=str), key=lambda k: _shared_segments(name, k[0]), default=None)
            if best is not None and labels[best] and _shared_segments(name, best[0]) > (
                    _shared_segments(name, main[0]) if main else 0):
                rest = "embeddings" if (_EMBED.search(name.lower()) or len(shape) > 2) else "other"
                comp.append(f"{labels[best]}.{rest}")
            elif base in ("vision_encoder", "audio_encoder"):  # a tower's own stem or head, outside its blocks
                comp.append("embeddings" if (_EMBED.search(name.lower()) or len(shape) > 2) else "other")
            elif name in token_anchors:  # a renamed token embedding, recognised by its shape
                comp.append("embeddings")
            else:
                comp.append(base)
    return out_stacks, comp


def _shared_segments(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x != y:
            break
        n += 1
    return n


def _component_labels(fp: Fingerprint) -> list[str]:
    """Component of each tensor (see :func:`stacks_of`)."""
    return stacks_of(fp)[1]


def _clean(a: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(a, -CLIP), CLIP)


def pair_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Self-normalized centered correlation of two standardized sketches (about N(0,1) under independence)."""
    x, y = _clean(np.asarray(x, np.float64)), _clean(np.asarray(y, np.float64))
    p = x * y
    den = math.sqrt(float((p * p).sum()))
    return float(p.sum() / den) if den > 0 else 0.0


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def _fisher(adjusted: list[float]) -> float:
    """Log p-value of Fisher's combination of the tensors' corrected p-values (0.0 when there are none).

    Unlike Stouffer's sum, a tensor without a partner (p = 1) adds nothing instead of cancelling the
    evidence of the others, so a component of which only a part was reused is still found.
    """
    if not adjusted:
        return 0.0
    logps = [float(_special().log_ndtr(-a)) for a in adjusted]
    return _chi2_logsf_even(-2.0 * sum(logps), 2 * len(logps))


def _chi2_logsf_even(x: float, df: int) -> float:
    """log P(chi2_df > x) for even ``df``, exactly: exp(-x/2) * sum_{i<df/2} (x/2)^i / i!, on a log scale."""
    h = x / 2.0
    if h <= 0:
        return 0.0
    i = np.arange(df // 2)
    return float(-h + _special().logsumexp(i * math.log(h) - _special().gammaln(i + 1)))


def _adjusted_z(z: float, tests: int) -> float:
    """Bonferroni over ``tests`` comparisons, back to a z-score; exact in the far tail (log scale)."""
    logp = min(float(_special().log_ndtr(-z)) + math.log(max(tests, 1)), -1e-12)
    return float(-_special().ndtri_exp(logp))


class TensorMatch(BaseModel):
    """A candidate tensor and its best partner among the references."""

    model_config = ConfigDict(extra="forbid")

    name: str
    component: str
    params: int
    informative: bool
    reference: str | None = None
    reference_tensor: str | None = None
    identical: bool = False
    low_entropy: bool = False  # a vector of few distinct values (zero-initialised, a constant, a mask): never evidence
    ndim: int = 0
    invariant: bool = False  # a rotation-invariant sketch (anchored Gram) of it met a reference's
    kind: str | None = None  # the sketch that gave the statistic
    similarity: float | None = None  # centered (Pearson) correlation of that sketch
    raw_cosine: float | None = None  # uncentered, of the sampled raw values (shown for norms)
    statistic: float | None = None  # z of the best pair, before correction
    adjusted: float | None = None  # z after the Bonferroni correction for the search
    tests: int = 0


class ComponentResult(BaseModel):
    """One component's verdict and statistic."""

    model_config = ConfigDict(extra="forbid")

    component: str
    verdict: Verdict
    reference: str | None
    param_share: float
    statistic: float
    p_value: float
    log10_p: float
    params: int
    tensors: int
    informative_tensors: int
    identical_tensors: int
    similarity: float | None
    raw_cosine: float | None = None
    layer: int | None = None
    compared_tensors: int = 0  # tensors that had a comparable reference tensor; 0: nothing to compare
    reason: str | None = None  # why a verdict is ``cannot_tell``
    reference_component: str | None = None  # where in the reference the evidence points (e.g. another layer)


class ProvenanceReport(BaseModel):
    """The machine-readable evidence (``schema = workbench.provenance/1``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["workbench.provenance/1"] = Field(default=SCHEMA, alias="schema")
    candidate: dict[str, Any]
    references: list[dict[str, Any]]
    components: list[ComponentResult]
    summary: dict[str, float]
    method: dict[str, Any]
    notes: list[str]
    tensors: list[TensorMatch]
    stacks: list[Stack] = Field(default_factory=list)  # the candidate's grouping into stacks, by structure

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (the file ``workbench provenance --json`` writes)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_summary(self) -> dict[str, Any]:
        """A compact dict for the score sheet: hashes, parameter shares per verdict, flagged components."""
        flagged = [{"component": c.component, "verdict": c.verdict, "reference": c.reference,
                    "param_share": c.param_share} for c in self.components if c.verdict in ("identical", "derived")]
        return {
            "schema": SCHEMA,
            "candidate": self.candidate["name"],
            "candidate_fingerprint_sha256": self.candidate["fingerprint_sha256"],
            "references": [{"name": r["name"], "fingerprint_sha256": r["fingerprint_sha256"]} for r in self.references],
            "summary": dict(self.summary),
            "flagged": flagged,
            "reuse_detected": bool(flagged),
        }


def _describe(fp: Fingerprint, label: str) -> dict[str, Any]:
    return {"name": label, "model": fp.model, "fingerprint_sha256": fp.sha256, "tensors": len(fp.tensors),
            "params": fp.n_params, "bytes": fp.n_bytes, "widths": fp.widths, "side_files": dict(fp.side_files)}


def _informative(fp: Fingerprint, i: int) -> bool:
    return bool(fp.tensors[i].sketches) and bool(fp.tensors[i].std)


CANNOT_TELL = ("no rotation-invariant sketch of its matrices could be compared (no anchors shared with a "
               "reference: token embeddings with common tokens, or an encoder stem): only coordinate-wise "
               "sketches were, which a rotation of the residual stream defeats")
MIN_DISTINCT = 16  # a vector with fewer distinct sampled values is no evidence of copying even byte for byte


def _low_entropy(fp: Fingerprint, i: int) -> bool:
    """A 1-D tensor whose sampled values take few distinct values: biases left at zero but for a few entries,
    norms at one, masks. Independent models share them byte for byte, so a byte-identical one proves nothing."""
    t = fp.tensors[i]
    if len(t.shape) >= 2:
        return False
    sample = fp._arrays.get((i, "sample"))
    return sample is None or np.unique(sample).size < MIN_DISTINCT


def compare(candidate: Fingerprint, references: list[Fingerprint], *, names: list[str] | None = None,
            candidate_name: str | None = None, alpha: float = ALPHA) -> ProvenanceReport:
    """Compare a candidate's fingerprint with reference fingerprints; return the provenance report."""
    names = names or [r.model for r in references]
    if len(set(names)) != len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    notes: list[str] = []
    # the reference pool, grouped by shape; sample sketches are comparable only under the same seed
    pool: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
    by_hash: dict[tuple[str, str], tuple[int, int]] = {}
    for r, fp in enumerate(references):
        if fp.seed != candidate.seed:
            notes.append(f"reference '{names[r]}' was fingerprinted with seed {fp.seed}, the candidate with "
                         f"{candidate.seed}: only profiles are compared")
        for j, t in enumerate(fp.tensors):
            if _informative(fp, j):
                pool[t.shape].append((r, j))
                by_hash.setdefault((t.dtype, t.sha256), (r, j))
    matches: list[TensorMatch] = []
    cand_groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, t in enumerate(candidate.tensors):
        if _informative(candidate, i) and t.shape in pool:
            cand_groups[t.shape].append(i)
    best: dict[int, tuple[tuple[int, int], str, float, int]] = {}
    # the Gram search runs on a second core meanwhile (numpy releases the GIL), one BLAS thread each
    with one_blas_thread(), ThreadPoolExecutor(1) as side:
        grams = side.submit(_gram_search, candidate, references)
        for shape, cands in sorted(cand_groups.items()):
            best.update(_search(candidate, references, cands, pool[shape], by_hash))
        gram_best = grams.result()
    stacks, labels = stacks_of(candidate)
    ref_comp = {(names[r], t.name): c for r, fp in enumerate(references)
                for t, c in zip(fp.tensors, stacks_of(fp)[1], strict=True)}
    for i, t in enumerate(candidate.tensors):
        comp = labels[i]
        tm = TensorMatch(name=t.name, component=comp, params=t.numel, informative=_informative(candidate, i),
                         ndim=len(t.shape))
        if i in best:
            (r, j), kind, z, tests = best[i]
            rt = references[r].tensors[j]
            x, y = candidate.sketch(i, kind), references[r].sketch(j, kind)
            tm.reference, tm.reference_tensor, tm.kind, tm.tests = names[r], rt.name, kind, tests
            tm.identical = (rt.dtype, rt.sha256) == (t.dtype, t.sha256)
            tm.low_entropy = _low_entropy(candidate, i)
            tm.statistic, tm.adjusted = round(z, 4), round(_adjusted_z(z, tests), 4)
            tm.similarity = round(_pearson(x, y), 6) if x is not None and y is not None else None
            if x is not None and y is not None and kind == "sample" and t.mean is not None and rt.mean is not None:
                a = x.astype(np.float64) * t.std + t.mean
                b = y.astype(np.float64) * rt.std + rt.mean
                tm.raw_cosine = round(float(a @ b / math.sqrt(float(a @ a) * float(b @ b))), 6)
        tm.invariant = i in gram_best
        if i in gram_best and not tm.identical:
            r, ref_name, z, tests, sim = gram_best[i]
            total = tests + tm.tests
            if tm.statistic is None or _adjusted_z(z, total) > _adjusted_z(tm.statistic, total):
                tm.reference, tm.reference_tensor, tm.kind, tm.tests = names[r], ref_name, "gram", total
                tm.statistic, tm.adjusted, tm.similarity = round(z, 4), round(_adjusted_z(z, total), 4), round(sim, 6)
                tm.raw_cosine = None
            else:
                tm.tests = total
                tm.adjusted = round(_adjusted_z(tm.statistic, total), 4)
        matches.append(tm)
    components, z_crit = _components(matches, candidate.n_params or 1, alpha, ref_comp)
    summary = {v: 0.0 for v in ("identical", "derived", "no_evidence", "uninformative", "cannot_tell")}
    for c in components:
        summary[c.verdict] += c.param_share
    summary = {k: round(v, 9) for k, v in summary.items()}
    norms = next((c for c in components if c.component == "norms"), None)
    if norms is not None:
        notes.append(f"norm weights cover {norms.param_share:.6%} of the parameters; their similarity is "
                     "uninformative (near-constant vectors have a high raw cosine in independent models too)")
    shared = sorted({f for r in references for f, h in r.side_files.items() if candidate.side_files.get(f) == h})
    if shared:
        notes.append("identical side files (" + ", ".join(shared) + ") show a shared tokenizer or config, "
                     "not reused weights")
    if len(stacks) > 1:
        notes.append("stacks (grouped by structure): " + "; ".join(
            f"{st.role} '{st.label or 'layers'}' at {st.prefix} (width {st.width}, {st.layers} layers, "
            f"{st.params / (candidate.n_params or 1):.1%} of parameters)" for st in stacks))
    unmatched = sum(1 for m in matches if m.informative and m.reference is None)
    if unmatched:
        notes.append(f"{unmatched} informative candidate tensors have no comparable reference tensor")
    nothing = [c.component for c in components if c.component != "norms" and c.informative_tensors
               and not c.compared_tensors]
    if nothing:
        notes.append("nothing to compare (reported uninformative): " + ", ".join(nothing))
    by_id = _anchors_by_id(candidate, references, names)
    if by_id and any(c.verdict == "cannot_tell" for c in components):
        notes.append(by_id)
    return ProvenanceReport(
        candidate=_describe(candidate, candidate_name or candidate.model),
        references=[_describe(fp, n) for fp, n in zip(references, names, strict=True)],
        components=components, summary=summary, notes=notes, tensors=matches, stacks=stacks,
        method={
            "statistic": "self-normalized centered correlation of standardized sketches winsorized at +-3, "
                         "z = sum(xy)/sqrt(sum(x^2 y^2)); Bonferroni over the tensors and sketch kinds searched; "
                         "Fisher's method over a component's tensors",
            "null": "independent training: product signs independent of their size (N(0,1) statistic)",
            "alpha": alpha, "threshold_z": round(z_crit, 4),
            "null_band": [-round(NULL_BAND, 4), round(NULL_BAND, 4)],
            "clip": CLIP, "probe": PROBE, "top": TOP, "seed": candidate.seed,
        },
    )


def _anchors_by_id(candidate: Fingerprint, references: list[Fingerprint], names: list[str]) -> str | None:
    """Why token anchors could not be shared when one side named its tokens by id (no vocabulary shipped)
    and the other by string: the remedy is to fingerprint the side without one together with its tokenizer."""
    def source(fp: Fingerprint) -> set[str]:
        return {a.source for a in fp.anchors if a.source != "stem"}

    mine = source(candidate)
    other = [n for r, n in zip(references, names, strict=True) if source(r) and source(r) != mine]
    if not mine or not other or (mine | {s for r in references for s in source(r)}) != {"ids", "tokenizer"}:
        return None
    who = "the candidate" if mine == {"ids"} else "reference " + ", ".join(f"'{n}'" for n in other)
    return (f"{who} names its token anchors by id (no vocabulary file covers its embedding rows), the other side "
            "by token string: they share none, so its matrices could not be compared rotation-proof "
            "(cannot_tell); fingerprint it together with its tokenizer.json to compare them")


def _search(candidate: Fingerprint, references: list[Fingerprint], cands: list[int],
            refs: list[tuple[int, int]], by_hash: dict) -> dict[int, tuple[tuple[int, int], str, float, int]]:
    """Best reference partner of each candidate tensor in one shape group: probe, then refine the top few.

    Vectorized over the group: one matrix product per sketch kind finds the ``TOP`` most similar reference
    tensors on a short probe; the full statistic is then computed for those (and for a byte-identical one).
    """
    kinds = sorted({k for i in cands for k in candidate.tensors[i].sketches})
    nref = len(refs)
    where = {pair: k for k, pair in enumerate(refs)}
    xs: dict[str, np.ndarray] = {}
    ys: dict[str, np.ndarray] = {}
    for k in kinds:
        xv = [candidate._arrays.get((i, k)) for i in cands]  # float16 as stored
        yv = [_ref_sketch(references, candidate, r, j, k) for r, j in refs]
        width = max(v.size for v in xv + yv if v is not None)  # equal shapes give equal lengths
        xs[k], ys[k] = _matrix(xv, width), _matrix(yv, width)
    probes = {k: (_probe(xs[k]), _probe(ys[k])) for k in kinds}
    exact = np.array([where.get(by_hash.get((candidate.tensors[i].dtype, candidate.tensors[i].sha256)), -1)
                      for i in cands])
    top = min(TOP, nref)
    width = max(x.shape[1] for x in xs.values())
    # blocks of at most 4M scores (16 MB): larger temporaries are fresh memory maps each time, and their page
    # faults cost more than the products on a virtual machine
    step = max(1, min(BLOCK, (1 << 22) // max(nref, (top + 1) * width)))
    out: dict[int, tuple[tuple[int, int], str, float, int]] = {}
    for b0 in range(0, len(cands), step):
        rows = slice(b0, min(len(cands), b0 + step))
        n = rows.stop - rows.start
        scores = np.full((n, nref), -np.inf, dtype=np.float32)
        profile_corr = {}  # kept for the runner-up margin below (profiles only)
        for k in kinds:
            corr = probes[k][0][rows] @ probes[k][1].T
            np.maximum(scores, corr, out=scores)
            if k.startswith("profile") and nref > 1:
                profile_corr[k] = corr
        idx = _top_k(scores, top)
        ex = exact[rows]
        idx = np.concatenate([idx, np.where(ex >= 0, ex, idx[:, 0])[:, None]], axis=1)
        z = np.zeros((len(kinds), n, top + 1))
        for q, k in enumerate(kinds):
            num, den = _pair_sums(xs[k][rows], ys[k], idx)
            z[q] = np.divide(num, den, out=np.full_like(den, -np.inf), where=den > 0)
            if k in profile_corr:
                z[q] = np.minimum(z[q], _runner_up_margin(profile_corr[k], idx, probes[k][0].shape[1]))
        # a kind that one side lacks (seed, width or a constant sketch) is no comparison: -inf, never picked
        best_kind = z.argmax(0)
        zmax = z.max(0)
        # an exact copy wins; otherwise the highest statistic, ties broken by reference order
        zmax_key = np.where(idx == ex[:, None], np.inf, zmax - 1e-9 * idx)
        col = zmax_key.argmax(1)
        for row in range(n):
            c = int(col[row])
            k = int(idx[row, c])
            if not np.isfinite(zmax[row, c]):
                continue  # nothing comparable among the reference tensors of this shape
            out[cands[rows.start + row]] = (refs[k], kinds[int(best_kind[row, c])], float(zmax[row, c]),
                                            nref * len(kinds))
    return out


def _runner_up_margin(corr: np.ndarray, idx: np.ndarray, m: int) -> np.ndarray:
    """z of each partner ``idx[n, t]`` standing out from the best other reference tensor of the shape.

    A profile (the sums of a matrix along the residual axis) is shaped by the residual basis more than by the
    matrix: the layers of two models that share a basis (a common ancestor's embeddings, its outlier
    dimensions) have alike profiles, so a profile match says "same basis", not "this layer". Evidence of the
    layer is how far the partner's correlation exceeds the runner-up's: ``(atanh r1 - atanh r2) *
    sqrt((m - 3) / 2)`` on the ``m`` probe entries (at most ``PROBE``) (the difference of two Fisher z's), which also takes the
    best of many reference layers into account. A copy stands out from its source's neighbours (r 0.99 against
    0.8); a neighbour of a shared ancestor's layer does not.
    """
    f = np.arctanh(np.clip(corr.astype(np.float64), -0.9999, 0.9999))
    rows = np.arange(idx.shape[0])
    out = np.empty(idx.shape)
    scale = math.sqrt(max(m - 3, 1) / 2)
    # the best other than a partner is the row's best, or its second best where the partner is the best
    best_at = f.argmax(axis=1)
    best = f[rows, best_at]
    f[rows, best_at] = -np.inf
    second = f.max(axis=1)
    f[rows, best_at] = best
    for t in range(idx.shape[1]):
        partner = idx[:, t]
        out[:, t] = (f[rows, partner] - np.where(partner == best_at, second, best)) * scale
    return out


def _gram_search(candidate: Fingerprint, references: list[Fingerprint]
                 ) -> dict[int, tuple[int, str, float, int, float]]:
    """Best reference partner of each candidate tensor on its anchored Grams, matched whatever the shape.

    Grams are compared on the anchor tokens both fingerprints hold, within one side (reads, writes, rows)
    so that a fused projection's parts meet the separate projections and an expert meets the dense MLP it
    was copied from. Returns candidate tensor index -> (reference, reference tensor, z, tests, correlation);
    ``tests`` counts every reference Gram searched, times the candidate tensor's parts.
    """
    found: dict[int, list[tuple[float, int, str, float]]] = defaultdict(list)  # Gram -> (z, ref, name, r)
    tests: dict[int, int] = defaultdict(int)
    for r, ref in enumerate(references):
        n_parts: dict[str, int] = defaultdict(int)
        for h in ref.grams:
            n_parts[h.tensor] += 1
        for a, ca in enumerate(candidate.anchors):
            for b, rb in enumerate(ref.anchors):
                where = triangle_index(ca.tokens, rb.tokens)
                if where is None:
                    continue
                # reads and writes are searched together: a transposed (Conv1D) layout or a renamed matrix
                # may store a reader the way the other model stores a writer
                for sides in (("in", "out"), ("rows",)):
                    side = sides[0] if len(sides) == 1 else "layers"
                    cg = [k for k, g in enumerate(candidate.grams) if g.anchor == a and g.side in sides]
                    rg = [k for k, g in enumerate(ref.grams) if g.anchor == b and g.side in sides]
                    if not cg or not rg:
                        continue
                    n_common = int(round((1 + math.sqrt(1 + 8 * len(where[0]))) / 2))
                    rows_side = n_common if side == "rows" else 0
                    x = _gram_matrix(candidate, cg, where[0], rows_side)
                    y = _gram_matrix(ref, rg, where[1], rows_side)
                    for k in cg:
                        tests[k] += len(rg)
                    # rows (embeddings, LM head) always face the ceiling: the other reference rows Grams are
                    # too few (one or two) to measure what independently trained models share
                    ceiling = SHARED_ROWS if side == "rows" else SHARED_LAYERS
                    for k, (col, z, sim) in zip(cg, _best_rows(x, y, ceiling, n_common), strict=True):
                        g = ref.grams[rg[col]]
                        label = g.tensor if n_parts[g.tensor] == 1 else f"{g.tensor}[{g.part}]"
                        if math.isfinite(z):
                            found[k].append((z, r, label, sim))
    index = {t.name: i for i, t in enumerate(candidate.tensors)}
    parts: dict[str, int] = defaultdict(int)
    for g in candidate.grams:
        parts[g.tensor] += 1
    out: dict[int, tuple[int, str, float, int, float]] = {}
    for k, hits in found.items():
        z, r, label, sim = max(hits, key=lambda h: (h[0], -h[1]))
        name = candidate.grams[k].tensor
        i = index[name]
        if i not in out or z > out[i][2]:
            out[i] = (r, label, z, tests[k] * parts[name], sim)
    return out


def _gram_matrix(fp: Fingerprint, ks: list[int], cols: np.ndarray, double_center: int = 0) -> np.ndarray:
    """The Grams ``ks`` on the shared token pairs, recentered, standardized and winsorized, as rows.

    ``double_center``: the number of shared tokens, to remove each token's additive effect (row and column
    means of the Gram on the shared tokens): a vocabulary matrix's anchor rows are centered on a mean that
    moves when some anchors are new tokens, which adds exactly such effects.
    """
    m = np.stack([fp._grams[k] for k in ks])[:, cols].astype(np.float32)  # one conversion, not one per Gram
    if double_center > 2:
        n = double_center
        iu = np.triu_indices(n, 1)
        full = np.zeros((m.shape[0], n, n), dtype=np.float32)
        full[:, iu[0], iu[1]] = m
        full[:, iu[1], iu[0]] = m
        r = full.sum(axis=2) / (n - 1)
        m = m - r[:, iu[0]] - r[:, iu[1]] + m.mean(axis=1, keepdims=True)
    m -= m.mean(axis=1, keepdims=True)
    sd = np.sqrt(np.einsum("ij,ij->i", m, m) / m.shape[1])[:, None]  # the rows' sd, without a squared copy
    np.divide(m, sd, out=m, where=sd > 0)  # in place: no second fresh copy
    m[~(sd[:, 0] > 0)] = 0.0
    return np.clip(m, -CLIP, CLIP, out=m)  # _clean, in place


def _shared_null(sims: np.ndarray, ceiling: float, n_anchors: int) -> np.ndarray:
    """One-sided z of ``H0: correlation <= ceiling`` (Fisher z; the anchors, not the Gram's entries, are the
    sample: the entries of one Gram derive from its ``n_anchors`` rows)."""
    return (np.arctanh(sims) - math.atanh(ceiling)) * math.sqrt(max(n_anchors - 3, 1))


def _best_rows(x: np.ndarray, y: np.ndarray, ceiling: float = 0.0, n_anchors: int = 0
               ) -> list[tuple[int, float, float]]:
    """For each row of ``x``: the best row of ``y`` (probe, then the full statistic of the top few).

    The statistic is the smallest of: the self-normalized ``z``; how far the partner stands out from the
    other reference Grams (when there are 6 or more); how far its correlation exceeds ``ceiling``, what
    independently trained models share (when ``n_anchors`` is given)."""
    px, py = _probe(x, GRAM_PROBE), _probe(y, GRAM_PROBE)
    ny = _unit(y)
    top = min(GRAM_TOP, y.shape[0])
    step = max(1, min(BLOCK, (1 << 22) // max(1, y.shape[0])))  # 16 MB of scores: see _search
    out = []
    for b0 in range(0, x.shape[0], step):
        xs = x[b0:b0 + step]
        scores = px[b0:b0 + step] @ py.T
        idx = _top_k(scores, top)
        num, den = _pair_sums(xs, y, idx)
        z = np.divide(num, den, out=np.full_like(den, -np.inf), where=den > 0)
        col = z.argmax(1)
        # Gram entries of independent matrices are not independent of each other: trained layers share the
        # geometry of the tokens, and through a shared (reused) embedding independent layers look alike. The
        # correlations with the other reference Grams (independent of the candidate's but for its one
        # partner) measure that null: the partner must stand out from them (Fisher z, Student t with the
        # sample's degrees of freedom), and the statistic is the smaller of the two.
        ux = _unit(xs)
        if y.shape[0] >= 6 and ceiling < SHARED_ROWS:
            r = np.clip(ux @ ny[::max(1, y.shape[0] // NULL_SAMPLE)].T, -0.9999, 0.9999)
            f = np.sort(np.arctanh(r.astype(np.float64)), axis=1)[:, :-1]  # all but the best (the partner, if any)
            mu, sd = f.mean(axis=1), np.maximum(f.std(axis=1, ddof=1), 1e-3)
            emp_df = f.shape[1] - 1
        best = idx[np.arange(xs.shape[0]), col]
        zs = z[np.arange(xs.shape[0]), col].astype(np.float64)
        sims = np.clip((ux * ny[best]).sum(axis=1).astype(np.float64), -0.9999, 0.9999)
        if y.shape[0] >= 6 and ceiling < SHARED_ROWS:
            t = (np.arctanh(sims) - mu) / sd
            logp = np.log(np.maximum(_special().stdtr(emp_df, -t), 1e-300))
            zs = np.minimum(zs, -_special().ndtri_exp(np.minimum(logp, -1e-12)))
        elif n_anchors:  # too few reference Grams to measure the shared structure: its measured ceiling
            zs = np.minimum(zs, _shared_null(sims, ceiling, n_anchors))
        out.extend(zip(best.tolist(), zs.tolist(), sims.tolist(), strict=True))
    return out


def _pair_sums(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row ``n`` of ``x`` and partner ``y[idx[n, t]]``: ``sum(x*y)`` and ``sqrt(sum(x^2 y^2))``.

    One partner column at a time, as row-wise dot products: no (rows x partners x width) product is
    materialized (it was the comparison's largest cost at 100B-MoE scale)."""
    num = np.empty(idx.shape, dtype=np.float32)
    den = np.empty_like(num)
    x = x.astype(np.float32, copy=False)  # sketches may come as stored (float16): products in float32
    x2 = x * x
    for t in range(idx.shape[1]):
        yt = y[idx[:, t]].astype(np.float32, copy=False)
        num[:, t] = np.einsum("nw,nw->n", x, yt)
        np.multiply(yt, yt, out=yt)
        den[:, t] = np.einsum("nw,nw->n", x2, yt)
    return num, np.sqrt(den, out=den)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` highest scores (repeated argmax: much faster than argpartition for
    the few partners wanted from rows of thousands). ``scores`` is overwritten."""
    if k >= scores.shape[1]:
        return np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    rows = np.arange(scores.shape[0])
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for q in range(k):
        out[:, q] = scores.argmax(axis=1)
        scores[rows, out[:, q]] = -np.inf
    return out


def _unit(m: np.ndarray) -> np.ndarray:
    """Rows centered and unit-normed (products are correlations)."""
    out = m - m.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


def _ref_sketch(references: list[Fingerprint], candidate: Fingerprint, r: int, j: int, kind: str) -> np.ndarray | None:
    if kind == "sample" and references[r].seed != candidate.seed:
        return None
    return references[r]._arrays.get((j, kind))


def _matrix(vectors: list[np.ndarray | None], width: int) -> np.ndarray:
    """Winsorized sketches as rows (zeros where a tensor lacks the sketch), float16 as stored: half the fresh
    memory of float32 (whose page faults cost more than the products); rows are converted where multiplied."""
    out = np.zeros((len(vectors), width), dtype=np.float16)
    for n, v in enumerate(vectors):
        if v is not None and v.size == width:
            out[n] = v
    return np.clip(out, -CLIP, CLIP, out=out)  # _clean, in place (exact: 3.0 is a float16)


def _probe(m: np.ndarray, width: int = PROBE) -> np.ndarray:
    """The first ``width`` columns, centered and unit-normed, so a product of two is a correlation."""
    out = m[:, :width].astype(np.float32)
    out -= out.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


def _components(matches: list[TensorMatch], total: int, alpha: float,
                ref_comp: dict[tuple[str, str], str] | None = None) -> tuple[list[ComponentResult], float]:
    """Group tensors into components, combine their evidence, decide verdicts; also return the threshold."""
    groups: dict[str, list[TensorMatch]] = defaultdict(list)
    for m in matches:
        groups[m.component].append(m)
    scored = {c: _distinct([m for m in ms if m.informative and m.adjusted is not None and not m.low_entropy])
              for c, ms in groups.items()}
    n_comp = max(1, sum(1 for c in groups if c != "norms" and any(m.informative for m in groups[c])))
    z_crit = float(-_special().ndtri(alpha / n_comp))
    out: list[ComponentResult] = []
    for comp in sorted(groups, key=_component_order):
        ms, sc = groups[comp], scored[comp]
        logp = _fisher([m.adjusted for m in sc])  # type: ignore[misc]
        # shown on a z scale; clipped below at the null band (p near 1 says nothing more)
        z = max(float(-_special().ndtri_exp(min(logp, -1e-12))), -NULL_BAND)
        informative = [m for m in ms if m.informative]
        weight: dict[str, float] = defaultdict(float)
        for m in sc:
            weight[m.reference] += max(m.adjusted, 0.0)  # type: ignore[index,arg-type]
        reference = max(sorted(weight), key=lambda r: weight[r]) if weight else None
        identical = [m for m in informative if m.identical]
        reason = None
        telling = [m for m in identical if not m.low_entropy]  # byte-identical and more than a constant
        if comp == "norms" or not informative or not sc:  # not sc: nothing to compare it with
            verdict: Verdict = "uninformative"
        elif telling and len(identical) == len(informative) and len({m.reference for m in identical}) == 1:
            verdict, reference = "identical", identical[0].reference
        elif z >= z_crit or telling:
            verdict = "derived"
        elif any(m.ndim == 2 for m in informative) and not any(m.invariant for m in informative):
            # matrices compared coordinate by coordinate only: a rotated copy would look independent
            verdict, reason = "cannot_tell", CANNOT_TELL
        else:
            verdict = "no_evidence"
        if verdict in ("no_evidence", "uninformative", "cannot_tell"):
            reference = None
        where: dict[str, float] = defaultdict(float)
        for m in sc:
            if reference is not None and m.reference == reference and m.reference_tensor:
                rt = m.reference_tensor.split("[", 1)[0]
                where[(ref_comp or {}).get((reference, rt)) or component_of(rt, 2)] += max(m.adjusted or 0.0, 0.0)
        sims = [m.similarity for m in sc if m.similarity is not None]
        raws = [m.raw_cosine for m in sc if m.raw_cosine is not None]
        layer = re.search(r"(?:^|\.)layers\.(\d+)\.", comp)
        params = sum(m.params for m in ms)
        out.append(ComponentResult(
            component=comp, verdict=verdict, reference=reference, param_share=round(params / total, 9),
            statistic=round(z, 4), p_value=float(math.exp(logp)), log10_p=round(logp / math.log(10), 4),
            params=params, tensors=len(ms), informative_tensors=len(informative),
            identical_tensors=len(identical), similarity=round(float(np.median(sims)), 6) if sims else None,
            raw_cosine=round(float(np.median(raws)), 6) if raws and comp == "norms" else None,
            layer=int(layer.group(1)) if layer else None,
            compared_tensors=sum(1 for m in ms if m.informative and m.adjusted is not None),
            reference_component=max(sorted(where), key=lambda k: where[k]) if where else None,
            reason=reason if verdict == "cannot_tell" else None,
        ))
    return out, z_crit


def _distinct(ms: list[TensorMatch]) -> list[TensorMatch]:
    """One piece of evidence per reference tensor: the best of the candidate tensors matched to it, with a
    Bonferroni correction for their number.

    Fisher's method needs independent p-values; near-copies of one tensor (the experts of a model upcycled
    from its own dense MLP, or parts of a fused projection) matched to the same reference tensor are not.
    """
    by_ref: dict[tuple[str | None, str | None], list[TensorMatch]] = defaultdict(list)
    for m in ms:
        by_ref[(m.reference, m.reference_tensor)].append(m)
    out = []
    for group in by_ref.values():
        best = max(group, key=lambda m: m.adjusted)  # type: ignore[arg-type,return-value]
        if len(group) > 1 and not best.identical:
            best = best.model_copy(update={"adjusted": round(_adjusted_z(best.adjusted, len(group)), 4)})  # type: ignore[arg-type]
        out.append(best)
    return out


def _component_order(comp: str) -> tuple:
    m = re.match(r"(.*?)layers\.(\d+)\.(\w+)", comp)
    if m:
        return (1, m.group(1), int(m.group(2)), m.group(3))
    first = ("embeddings",)
    last = ("lm_head", "vision_encoder", "audio_encoder", "other", "norms")
    return (0, "", 0, comp) if comp in first else (2, "", last.index(comp) if comp in last else 9, comp)


# ---------------------------------------------------------------- views for the notebook and HTML

def provenance_table(report: ProvenanceReport) -> pd.DataFrame:
    """One row per component: verdict, reference, parameter share, statistic, p-value, similarity."""
    rows = [{"component": c.component, "verdict": c.verdict, "reference": c.reference,
             "param_share": c.param_share, "statistic": c.statistic, "log10_p": c.log10_p,
             "similarity": c.similarity, "raw_cosine": c.raw_cosine, "tensors": c.tensors,
             "identical_tensors": c.identical_tensors} for c in report.components]
    return pd.DataFrame(rows, columns=["component", "verdict", "reference", "param_share", "statistic", "log10_p",
                                       "similarity", "raw_cosine", "tensors", "identical_tensors"])


FLAGGED = ("identical", "derived")


def provenance_chart(report: ProvenanceReport, lang: str = "en") -> alt.TopLevelMixin:
    """Every component's statistic over the null band (grey) and the threshold (dashed), on one symlog scale:
    per layer for the layers' attention, MLP and experts (lines), and beside it one dot for each component
    without a layer (embeddings, lm_head, a vision or audio encoder, ...). A flagged component is red with a
    black outline, so a tower the table flags is never left out of the picture (it once was: only the layers
    were drawn). Labels in ``lang``."""
    alt = altair()
    lo, hi = report.method["null_band"]
    threshold = report.method["threshold_z"]
    rows = [{"layer": c.layer, "part": re.sub(r"layers\.\d+\.", "", c.component), "component": c.component,
             "statistic": c.statistic, "verdict": c.verdict, "flagged": c.verdict in FLAGGED}
            for c in report.components]
    data = pd.DataFrame(rows, columns=["layer", "part", "component", "statistic", "verdict", "flagged"])
    stats = [float(v) for v in data["statistic"] if v is not None and math.isfinite(float(v))]
    # one domain for both panels, the band and the threshold: a dot is read against the same band everywhere
    domain = [min([0.0, lo, *stats]), max([hi, threshold, *stats]) * 1.1 + 1e-9]
    scale = alt.Scale(type="symlog", domain=domain, nice=False)
    y = alt.Y("statistic:Q", title=msg("chart_statistic", lang), scale=scale)
    band = {"lo": lo, "hi": hi}
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(strokeDash=[4, 4], color="firebrick").encode(
        y=alt.Y("threshold:Q", scale=scale))
    panels = []
    layered = data[data["layer"].notna()]
    if len(layered):
        layers = sorted(int(v) for v in layered["layer"].unique())
        null = alt.Chart(pd.DataFrame([{"layer": layers[0], **band}, {"layer": layers[-1], **band}])).mark_area(
            opacity=0.25, color="gray").encode(
            x=alt.X("layer:Q", title=msg("chart_layer", lang), axis=alt.Axis(values=layers, format="d")),
            y=alt.Y("lo:Q", scale=scale), y2="hi:Q")
        lines = alt.Chart(layered).mark_line(point=True).encode(
            x="layer:Q", y=y, color=alt.Color("part:N", title=msg("chart_component", lang)),
            tooltip=["component", "statistic", "verdict"])
        marks = [null, rule, lines]
        if layered["flagged"].any():
            marks.append(alt.Chart(layered[layered["flagged"]]).mark_point(
                size=110, shape="diamond", filled=True, color="#c0392b", stroke="black").encode(
                x="layer:Q", y=y, tooltip=["component", "statistic", "verdict"]))
        panels.append(alt.layer(*marks).properties(width=420, height=260))
    whole = data[data["layer"].isna()].copy()
    if len(whole):
        order = sorted(whole["component"], key=_component_order)
        x = alt.X("component:N", sort=order, title=msg("chart_component", lang), axis=alt.Axis(labelAngle=-30))
        null = alt.Chart(pd.DataFrame([band])).mark_rect(opacity=0.25, color="gray").encode(
            y=alt.Y("lo:Q", scale=scale), y2="hi:Q")
        dots = alt.Chart(whole).mark_point(size=110, filled=True, stroke="black").encode(
            x=x, y=alt.Y("statistic:Q", scale=scale, title=None if panels else msg("chart_statistic", lang)),
            shape=alt.Shape("flagged:N", legend=None),
            color=alt.condition("datum.flagged", alt.value("#c0392b"), alt.value("#1f4e8c")),
            tooltip=["component", "statistic", "verdict"])
        panels.append(alt.layer(null, rule, dots).properties(width=max(60, 46 * len(whole)), height=260))
    if not panels:  # nothing was compared: an empty panel with the band still says what the statistic is
        panels.append(alt.Chart(pd.DataFrame([band])).mark_rect(opacity=0.25, color="gray").encode(
            y=alt.Y("lo:Q", scale=scale, title=msg("chart_statistic", lang)), y2="hi:Q").properties(width=120, height=260))
    chart = panels[0] if len(panels) == 1 else alt.hconcat(*panels, spacing=24).resolve_scale(y="shared")
    return chart.properties(title=msg("chart_provenance_title", lang))


def report_html(report: ProvenanceReport, chart_svg: str | None = None) -> str:
    """A self-contained HTML page: summary, component table, chart (as SVG when given) and notes
    (template ``provenance.html.j2``)."""
    table = provenance_table(report).to_html(index=False, float_format=lambda v: f"{v:.6g}", border=0)
    return render("provenance.html.j2", candidate=report.candidate, references=report.references,
                  shares=[(k, f"{v:.4%}") for k, v in report.summary.items()], table=table, chart_svg=chart_svg or "",
                  notes=report.notes, method=str(report.method))
