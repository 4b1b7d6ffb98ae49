"""Tokenizers as context for independence: vocabulary overlap, shared merge rules, special tokens.

Public API:

- :func:`load_tokenizer` / :func:`parse_tokenizer`: a Hugging Face ``tokenizer.json`` (BPE, Unigram,
  WordPiece models) or a ``vocab.json`` with its ``merges.txt``, as a :class:`Tokenizer`.
- :func:`compare_tokenizers`: one team tokenizer against reference tokenizers, as a
  :class:`TokenizerEvidence` (``to_summary()`` for the sheet).
- :func:`tokenizer_table`, :func:`tokenizer_chart`: what the reviewer reads in the notebook.

Tokens are compared as the strings the files store (byte-level BPE's ``Ġ`` and SentencePiece's ``▁``
included), so two tokenizers with different surface encodings share few strings even for the same
words; the result says so. Overlap is context: tokenizers of one family typically share 70% or more of
their vocabulary, and the publicly disputed case shared about 41% of the larger one. It is not a verdict on
weights, which are compared by the weight-provenance evidence.

The files are parsed with the workbench's bounded strict JSON loader, not with the ``tokenizers``
package: only the vocabulary and merge data are needed, and no team-supplied code path is run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.charts import altair, style
from ..core.errors import EvidenceError, WorkbenchError
from ..core.files import decode_text, parse_json
from ._inputs import InputFile, as_evidence_errors, read_input

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "BANDS",
    "Tokenizer",
    "TokenizerEvidence",
    "TokenizerOverlap",
    "compare_tokenizers",
    "load_tokenizer",
    "parse_tokenizer",
    "tokenizer_chart",
    "tokenizer_table",
]

MAX_TOKENIZER_BYTES = 128 * 1024 * 1024
MAX_VOCAB = 4_000_000
MAX_MERGES = 4_000_000
KINDS = ("BPE", "Unigram", "WordPiece")

# Shares of the larger vocabulary shown beside each comparison, as context (see the module docstring).
BANDS: tuple[tuple[str, float], ...] = (
    ("same family: typically 70% or more", 0.70),
    ("publicly disputed case: about 41%", 0.41),
)
ENCODING_SHARE = 0.01  # share of tokens with a marker prefix that makes a vocabulary byte-level / metaspace


class Tokenizer(BaseModel):
    """The comparable content of a tokenizer: token strings with ids, merge rules, special tokens."""

    model_config = ConfigDict(frozen=True)

    name: str
    format: Literal["tokenizer.json", "vocab.json"]
    kind: Literal["BPE", "Unigram", "WordPiece"]
    vocab: dict[str, int] = Field(repr=False)
    merges: list[tuple[str, str]] | None = Field(default=None, repr=False)
    special_tokens: list[str]
    encoding: Literal["byte-level", "metaspace", "plain"]
    inputs: list[InputFile]

    @property
    def vocab_size(self) -> int:
        """Distinct token strings (model vocabulary and added tokens)."""
        return len(self.vocab)


class TokenizerOverlap(BaseModel):
    """The candidate tokenizer against one reference."""

    reference: str
    vocab_candidate: int
    vocab_reference: int
    shared: int
    share_of_candidate: float
    share_of_reference: float
    share_of_larger: float
    jaccard: float
    same_id: int = Field(description="shared tokens that also have the same id on both sides")
    merges_candidate: int | None
    merges_reference: int | None
    identical_merge_prefix: int | None = Field(description="leading merge rules identical in order")
    special_shared: list[str]
    special_candidate_only: list[str]
    special_reference_only: list[str]
    notes: list[str]


class TokenizerEvidence(BaseModel):
    """The result of :func:`compare_tokenizers`."""

    candidate: str
    kind: str
    vocab_size: int
    merges: int | None
    special_tokens: list[str]
    encoding: str
    inputs: list[InputFile]
    pairs: list[TokenizerOverlap]
    bands: list[tuple[str, float]] = Field(default_factory=lambda: list(BANDS))

    def to_summary(self) -> dict:
        """JSON-able, deterministic summary for the score sheet."""
        return {"evidence": "tokenizer", **self.model_dump(mode="json")}


# ---------------------------------------------------------------- loading

def _label(path: Path) -> str:
    # the folder usually names the model ("team-a/tokenizer.json"); never an absolute path
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def load_tokenizer(
    path: str | Path, *, merges: str | Path | None = None, name: str | None = None,
    max_bytes: int = MAX_TOKENIZER_BYTES,
) -> Tokenizer:
    """Load ``tokenizer.json``, or ``vocab.json`` with ``merges.txt`` (given, or found beside it).

    The type is read from the content, not the file name; anything else is refused with a message that
    says what is accepted.
    """
    p = Path(path)
    if p.name == "merges.txt":
        raise EvidenceError("merges.txt alone is not a tokenizer", file=p,
                            expected="vocab.json (merges.txt beside it is read with it) or tokenizer.json")
    data, info = read_input(p, max_bytes)
    tok = parse_tokenizer(data, name=str(p), label=name or _label(p))
    mp = Path(merges) if merges is not None else p.with_name("merges.txt")
    if merges is not None and tok.format == "tokenizer.json":
        raise EvidenceError("merges given with a tokenizer.json", file=mp, expected="merges inside tokenizer.json")
    if tok.format == "vocab.json" and (merges is not None or mp.is_file()):
        merges_data, merges_info = read_input(mp, max_bytes)
        return tok.model_copy(update={"merges": _parse_merges(merges_data, str(mp)), "inputs": [info, merges_info]})
    return tok.model_copy(update={"inputs": [info]})


ACCEPTED = ("a Hugging Face tokenizer.json (with 'model') or a vocab.json (token -> id) with merges.txt; "
            "convert SentencePiece .model or vocab.txt files to tokenizer.json first")


def parse_tokenizer(
    data: bytes, *, name: str, merges: bytes | None = None, merges_name: str = "merges.txt",
    label: str | None = None,
) -> Tokenizer:
    """Parse tokenizer bytes (``tokenizer.json`` or ``vocab.json``, plus optional ``merges.txt`` bytes)."""
    try:
        obj = parse_json(data, name)
    except WorkbenchError as e:
        raise EvidenceError(f"unknown tokenizer file type: {e.message}", file=name, line=e.line,
                            expected=ACCEPTED) from None
    inputs = [InputFile.of(name, data)]
    label = label or Path(name).name
    if isinstance(obj, dict) and "model" in obj:
        if merges is not None:
            raise EvidenceError("merges given with a tokenizer.json", file=merges_name,
                                expected="merges inside tokenizer.json only")
        return _from_tokenizer_json(obj, name, label, inputs)
    if isinstance(obj, dict) and obj and all(type(v) is int for v in obj.values()):
        vocab = _vocab_dict(obj, name, "vocab.json")
        rules = None
        if merges is not None:
            rules = _parse_merges(merges, merges_name)
            inputs.append(InputFile.of(merges_name, merges))
        return _tokenizer(label, "vocab.json", "BPE", vocab, rules, [], False, inputs)
    raise EvidenceError("unknown tokenizer file type", file=name, expected=ACCEPTED)


def _vocab_dict(obj: Any, name: str, place: str) -> dict[str, int]:
    if not isinstance(obj, dict):
        raise EvidenceError(f"is {type(obj).__name__}", file=name, place=place, expected="an object token -> id")
    if len(obj) > MAX_VOCAB:
        raise EvidenceError(f"{len(obj)} tokens", file=name, place=place, expected=f"at most {MAX_VOCAB}")
    seen: dict[int, str] = {}
    for tok, i in obj.items():
        if type(i) is not int or i < 0:
            raise EvidenceError(f"id {i!r}", file=name, place=f"{place}[{tok!r}]", expected="an integer >= 0")
        if i in seen:
            raise EvidenceError(f"id {i} is used by {seen[i]!r} and {tok!r}", file=name, place=place,
                                expected="one token per id")
        seen[i] = tok
    return dict(obj)


def _unigram_vocab(obj: Any, name: str) -> dict[str, int]:
    if not isinstance(obj, list):
        raise EvidenceError(f"is {type(obj).__name__}", file=name, place="model.vocab",
                            expected="a list of [token, score] pairs")
    if len(obj) > MAX_VOCAB:
        raise EvidenceError(f"{len(obj)} tokens", file=name, place="model.vocab", expected=f"at most {MAX_VOCAB}")
    vocab: dict[str, int] = {}
    for i, entry in enumerate(obj):
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                or type(entry[1]) not in (int, float)):
            raise EvidenceError(f"entry is {str(entry)[:40]}", file=name, place=f"model.vocab[{i}]",
                                expected="[token, score]")
        if entry[0] in vocab:
            raise EvidenceError(f"token {entry[0]!r} repeated (first at {vocab[entry[0]]})", file=name,
                                place=f"model.vocab[{i}]", expected="each token once")
        vocab[entry[0]] = i  # a Unigram token's id is its position
    return vocab


def _merge_rules(obj: Any, name: str) -> list[tuple[str, str]]:
    if not isinstance(obj, list):
        raise EvidenceError(f"is {type(obj).__name__}", file=name, place="model.merges", expected="a list")
    if len(obj) > MAX_MERGES:
        raise EvidenceError(f"{len(obj)} merges", file=name, place="model.merges", expected=f"at most {MAX_MERGES}")
    rules = []
    for i, m in enumerate(obj):
        # two formats exist: "a b" (older) and ["a", "b"] (tokenizers >= 0.20, allows spaces in tokens)
        pair = m.split(" ") if isinstance(m, str) else m
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)):
            raise EvidenceError(f"merge is {str(m)[:40]!r}", file=name, place=f"model.merges[{i}]",
                                expected='"left right" or ["left", "right"]')
        rules.append((pair[0], pair[1]))
    return rules


def _parse_merges(data: bytes, name: str) -> list[tuple[str, str]]:
    with as_evidence_errors():
        text = decode_text(data, name)
    rules = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise EvidenceError(f"line is {line[:40]!r}", file=name, line=number,
                                expected="two tokens separated by one space")
        if len(rules) >= MAX_MERGES:
            raise EvidenceError("too many merges", file=name, line=number, expected=f"at most {MAX_MERGES}")
        rules.append((parts[0], parts[1]))
    return rules


def _from_tokenizer_json(obj: dict, name: str, label: str, inputs: list[InputFile]) -> Tokenizer:
    model = obj["model"]
    if not isinstance(model, dict):
        raise EvidenceError(f"is {type(model).__name__}", file=name, place="model", expected="an object")
    kind = model.get("type")
    if "type" not in model and "merges" in model:
        kind = "BPE"  # old tokenizers versions wrote BPE models without a type
    if kind not in KINDS:
        raise EvidenceError(f"unknown tokenizer model type {kind!r}", file=name, place="model.type",
                            expected="BPE, Unigram or WordPiece")
    if "vocab" not in model:
        raise EvidenceError("no vocabulary", file=name, place="model.vocab", expected="the model's vocab")
    if kind == "Unigram":
        vocab, rules = _unigram_vocab(model["vocab"], name), None
    else:
        vocab = _vocab_dict(model["vocab"], name, "model.vocab")
        rules = _merge_rules(model.get("merges", []), name) if kind == "BPE" else None
    specials: list[str] = []
    added = obj.get("added_tokens") or []
    if not isinstance(added, list):
        raise EvidenceError(f"is {type(added).__name__}", file=name, place="added_tokens", expected="a list")
    for i, t in enumerate(added):
        if not (isinstance(t, dict) and isinstance(t.get("content"), str) and type(t.get("id")) is int
                and isinstance(t.get("special", False), bool)):
            raise EvidenceError("malformed added token", file=name, place=f"added_tokens[{i}]",
                                expected='{"id": int, "content": str, "special": bool}')
        # added tokens may lie outside the model's vocabulary; they are part of what the model sees
        vocab.setdefault(t["content"], t["id"])
        if t.get("special", False):
            specials.append(t["content"])
    byte_level = "ByteLevel" in _component_types(obj)
    return _tokenizer(label, "tokenizer.json", kind, vocab, rules, specials, byte_level, inputs)


def _component_types(obj: dict) -> set[str]:
    """Types named by the pre-tokenizer and decoder (nested in Sequence components)."""
    found: set[str] = set()
    stack = [obj.get("pre_tokenizer"), obj.get("decoder")]
    while stack:
        c = stack.pop()
        if isinstance(c, dict):
            if isinstance(c.get("type"), str):
                found.add(c["type"])
            for key in ("pretokenizers", "decoders"):
                if isinstance(c.get(key), list):
                    stack.extend(c[key])
    return found


def _tokenizer(label: str, fmt: str, kind: str, vocab: dict[str, int], merges: list[tuple[str, str]] | None,
               specials: list[str], byte_level: bool, inputs: list[InputFile]) -> Tokenizer:
    n = max(len(vocab), 1)
    if byte_level or sum(t.startswith("Ġ") for t in vocab) / n >= ENCODING_SHARE:
        encoding = "byte-level"
    elif sum(t.startswith("▁") for t in vocab) / n >= ENCODING_SHARE:
        encoding = "metaspace"
    else:
        encoding = "plain"
    return Tokenizer(name=label, format=fmt, kind=kind, vocab=vocab, merges=merges, special_tokens=sorted(set(specials)),
                     encoding=encoding, inputs=inputs)


# ---------------------------------------------------------------- comparison

def _overlap(a: Tokenizer, b: Tokenizer) -> TokenizerOverlap:
    shared_tokens = a.vocab.keys() & b.vocab.keys()
    shared = len(shared_tokens)
    union = len(a.vocab) + len(b.vocab) - shared
    prefix = None
    if a.merges is not None and b.merges is not None:
        prefix = 0
        for x, y in zip(a.merges, b.merges, strict=False):
            if x != y:
                break
            prefix += 1
    sa, sb = set(a.special_tokens), set(b.special_tokens)
    notes = []
    if a.encoding != b.encoding:
        notes.append(f"surface encodings differ ({a.encoding} vs {b.encoding}): shared strings understate "
                     "shared words")
    if a.merges is None or b.merges is None:
        notes.append("merge rules not available on both sides")
    return TokenizerOverlap(
        reference=b.name, vocab_candidate=len(a.vocab), vocab_reference=len(b.vocab), shared=shared,
        share_of_candidate=shared / len(a.vocab) if a.vocab else 0.0,
        share_of_reference=shared / len(b.vocab) if b.vocab else 0.0,
        share_of_larger=shared / max(len(a.vocab), len(b.vocab), 1),
        jaccard=shared / union if union else 0.0,
        same_id=sum(1 for t in shared_tokens if a.vocab[t] == b.vocab[t]),
        merges_candidate=len(a.merges) if a.merges is not None else None,
        merges_reference=len(b.merges) if b.merges is not None else None,
        identical_merge_prefix=prefix,
        special_shared=sorted(sa & sb), special_candidate_only=sorted(sa - sb),
        special_reference_only=sorted(sb - sa), notes=notes,
    )


def compare_tokenizers(candidate: Tokenizer, references: Sequence[Tokenizer]) -> TokenizerEvidence:
    """Overlap of ``candidate`` with each reference, in the order given."""
    return TokenizerEvidence(
        candidate=candidate.name, kind=candidate.kind, vocab_size=candidate.vocab_size,
        merges=len(candidate.merges) if candidate.merges is not None else None,
        special_tokens=candidate.special_tokens, encoding=candidate.encoding, inputs=candidate.inputs,
        pairs=[_overlap(candidate, r) for r in references],
    )


# ---------------------------------------------------------------- notebook views

def tokenizer_table(result: TokenizerEvidence) -> pd.DataFrame:
    """One row per reference: sizes, shared tokens, shares, Jaccard, identical merge prefix, specials."""
    rows = [{
        "reference": p.reference, "vocab (team)": p.vocab_candidate, "vocab (reference)": p.vocab_reference,
        "shared": p.shared, "share of team": round(p.share_of_candidate, 4),
        "share of reference": round(p.share_of_reference, 4), "share of larger": round(p.share_of_larger, 4),
        "Jaccard": round(p.jaccard, 4), "same id": p.same_id,
        "identical merge prefix": p.identical_merge_prefix,
        "shared special tokens": len(p.special_shared), "notes": "; ".join(p.notes),
    } for p in result.pairs]
    table = pd.DataFrame(rows, columns=["reference", "vocab (team)", "vocab (reference)", "shared", "share of team",
                                        "share of reference", "share of larger", "Jaccard", "same id",
                                        "identical merge prefix", "shared special tokens", "notes"])
    return table.astype({"identical merge prefix": "Int64"})  # missing merges stay <NA>, not a float NaN


def tokenizer_chart(result: TokenizerEvidence) -> alt.TopLevelMixin:
    """Shared share of the larger vocabulary per reference, with the context bands as labelled lines."""
    alt = altair()
    bars = pd.DataFrame([{"reference": p.reference, "share": p.share_of_larger, "shared": p.shared}
                         for p in result.pairs])
    bands = pd.DataFrame([{"share": v, "label": label} for label, v in result.bands])
    base = alt.Chart(bars).mark_bar().encode(
        y=alt.Y("reference:N", title=None, sort=None),
        x=alt.X("share:Q", title="shared tokens / larger vocabulary", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        tooltip=["reference", alt.Tooltip("share:Q", format=".1%"), "shared"],
    )
    rules = alt.Chart(bands).mark_rule(strokeDash=[6, 4], color="gray").encode(x="share:Q")
    labels = alt.Chart(bands).mark_text(angle=270, align="left", dx=-4, dy=-4, color="gray", fontSize=10).encode(
        x="share:Q", y=alt.value(0), text="label:N")
    title = f"{result.candidate}: vocabulary overlap (context, not a verdict)"
    return style(alt.layer(base, rules, labels).properties(title=title, width=480,
                                                           height=max(60, 28 * len(result.pairs))))
