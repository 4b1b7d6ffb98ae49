"""The kinds of evidence a team may submit: one registry, which ``teams.yaml``, the dossier and the panels read.

A kind is registered once, as an :class:`EvidenceKind`: its key in ``teams.yaml`` (``evidence: {key: path}``),
what the file is (in words, for people and for the error that lists the known keys), where its reader lives
(``"module:function"``, imported when a dossier is built, so loading a round imports no evidence code), the
dossier field its part fills, the kinds whose parts it reads, the review section whose panel shows it, and its
words (message ids and texts added to the catalogue). The built-in kinds are in :data:`BUILTIN`; another package
adds one with an entry point in the group ``workbench.evidence_kinds`` whose object is an :class:`EvidenceKind`
(as :mod:`workbench.model.formulas` finds formulas), or, in a running process, with
:func:`register_evidence_kind`.

A reader is called as ``fn(ctx)`` with a :class:`workbench.evidence.dossier.EvidenceContext` and returns the
part (a pydantic model, or JSON-able data), or None when there is nothing to show; an
:class:`~workbench.core.errors.EvidenceError` it raises becomes a problem of the dossier.

Public API: :class:`EvidenceKind`, :data:`BUILTIN`, :data:`EVIDENCE_KEYS`, :data:`ENTRY_POINT_GROUP`,
:func:`evidence_kinds`, :func:`get_evidence_kind`, :func:`register_evidence_kind`, :func:`reading_order`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import WorkbenchError
from ..core.registry import entry_point_objects

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "EVIDENCE_KEYS", "EvidenceKind", "evidence_kinds", "get_evidence_kind",
           "reading_order", "register_evidence_kind"]

ENTRY_POINT_GROUP = "workbench.evidence_kinds"
SECTIONS = ("benchmark", "usability", "independence")  # the review sections whose panels show evidence


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence: its key, its description, its reader and where its part goes and is shown."""

    key: str
    description: str
    reader: str | None = None  # "package.module:function"; None: hashed as an input, not parsed
    part: str | None = None  # the Dossier field its part fills (None: Dossier.extra[key])
    needs: tuple[str, ...] = ()  # kinds whose parts the reader uses: read before it
    references: str | None = None  # the references.yaml field of the reference files it compares with
    section: str | None = None  # the review section whose panel shows the part
    title: str | None = None  # message id of the part's heading in that panel
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # its words: id -> {ko, en}
    model: str | None = None  # "module:Class", the pydantic model of a part, to read it back from the cache

    @staticmethod
    def _load(ref: str | None) -> Any:
        if ref is None:
            return None
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)

    def read(self) -> Callable[..., Any] | None:
        """The reader, imported now (None for a kind that is hashed, not parsed)."""
        return self._load(self.reader)

    def load_model(self) -> Any:
        """The part's pydantic model, imported now (None: the part is plain JSON)."""
        return self._load(self.model)


_D = "workbench.evidence.dossier:"
BUILTIN: dict[str, EvidenceKind] = {k.key: k for k in (
    EvidenceKind("benchmark_results", "lm-evaluation-harness results JSON, or the tidy results CSV",
                 _D + "read_benchmark_results", part="results", section="benchmark"),
    EvidenceKind("model_card", "model-card cost data (YAML or JSON): model, active/total parameters, inference cost",
                 _D + "read_model_card", part="cost", section="usability"),
    EvidenceKind("training_log", "loss curve, CSV or JSONL (step, tokens, loss, ...)", _D + "read_training_log",
                 part="training", section="independence", title="evidence_training"),
    EvidenceKind("tokenizer", "tokenizer.json (or vocab.json with merges.txt beside it)", _D + "read_tokenizer",
                 part="tokenizer", references="tokenizer", section="independence", title="evidence_tokenizer"),
    EvidenceKind("config", "the model's config.json", _D + "read_config", part="config", references="config",
                 section="independence", title="evidence_config"),
    EvidenceKind("licences", "licence and transparency manifest (YAML)", _D + "read_licences", part="licences",
                 needs=("weights",), section="independence", title="evidence_licences"),
    EvidenceKind("weights", "a weight fingerprint file (workbench fingerprint) or a model folder of safetensors",
                 _D + "read_weights", part="provenance", references="fingerprint", section="independence",
                 title="evidence_weights"),
    EvidenceKind("technical_report", "the technical report (read by the experts; hashed, not parsed)"),
)}
_registered: dict[str, EvidenceKind] = {}
_from_entry_points: dict[str, EvidenceKind] | None = None


def _add_messages(kind: EvidenceKind) -> None:
    """The kind's words into the catalogue; an id the catalogue already has with other words is refused."""
    from ..core.messages import MESSAGES

    for mid, words in kind.messages.items():
        if mid in MESSAGES and dict(MESSAGES[mid]) != dict(words):
            raise WorkbenchError(f"evidence kind '{kind.key}': message '{mid}' is already in the catalogue",
                                 expected="a new message id")
        if "en" not in words:
            raise WorkbenchError(f"evidence kind '{kind.key}': message '{mid}' has no English text",
                                 expected="{'ko': ..., 'en': ...}")
    for mid, words in kind.messages.items():
        MESSAGES[mid] = dict(words)


def register_evidence_kind(kind: EvidenceKind) -> EvidenceKind:
    """Add ``kind`` for this process (a test, a notebook); its key must be new."""
    if kind.key in evidence_kinds():
        raise WorkbenchError(f"evidence kind '{kind.key}' is already registered", expected="a new evidence key")
    _add_messages(kind)
    _registered[kind.key] = kind
    return kind


def _entry_points() -> dict[str, EvidenceKind]:
    global _from_entry_points
    if _from_entry_points is None:
        found = {name: k for name, k in entry_point_objects(
            ENTRY_POINT_GROUP, EvidenceKind, lambda k: k.key, what="an EvidenceKind with key",
            expected="workbench.model.evidence_kinds.EvidenceKind(key=...)").items()
            if name not in BUILTIN}  # a built-in kind is never replaced
        for k in found.values():
            _add_messages(k)
        _from_entry_points = found
    return _from_entry_points


def evidence_kinds() -> dict[str, EvidenceKind]:
    """Every kind, in order: the built-in ones, those of installed packages' entry points, registered ones."""
    return {**BUILTIN, **{k: v for k, v in {**_entry_points(), **_registered}.items() if k not in BUILTIN}}


def get_evidence_kind(key: str) -> EvidenceKind:
    """The kind ``key``; an unknown key is a :class:`WorkbenchError` listing the known ones."""
    known = evidence_kinds()
    if key not in known:
        raise WorkbenchError(f"unknown evidence key '{key}'", expected="one of " + ", ".join(known))
    return known[key]


def reading_order(keys: Iterator[str] | list[str] | None = None) -> list[EvidenceKind]:
    """The kinds in the order a dossier reads them: registry order, each after the kinds it ``needs``."""
    kinds = evidence_kinds()
    todo = [kinds[k] for k in (kinds if keys is None else keys)]
    done: list[EvidenceKind] = []
    while todo:
        ready = next((k for k in todo if not any(n in kinds and kinds[n] in todo for n in k.needs)), todo[0])
        done.append(ready)
        todo.remove(ready)
    return done


class _EvidenceKeys(Mapping[str, str]):
    """Key -> description of every registered kind, read live (a kind registered later is in it)."""

    def __getitem__(self, key: str) -> str:
        return evidence_kinds()[key].description

    def __iter__(self) -> Iterator[str]:
        return iter(evidence_kinds())

    def __len__(self) -> int:
        return len(evidence_kinds())

    def __repr__(self) -> str:
        return f"EVIDENCE_KEYS({dict(self)!r})"


# The evidence a team may submit (``teams.yaml`` ``evidence:``): key -> what the file is
EVIDENCE_KEYS: Mapping[str, str] = _EvidenceKeys()
