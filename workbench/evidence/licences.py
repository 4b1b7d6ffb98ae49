"""The licence and transparency manifest: third-party components a team declares, checked against SPDX.

Public API:

- :func:`load_manifest` / :func:`parse_manifest`: a team's YAML manifest (untrusted, bounded, unknown
  fields refused) as a :class:`Manifest`. The format is documented in ``docs/independence-evidence.md``;
  ``data/examples/licences.yaml`` is an example.
- :func:`check_licences`: SPDX validation and flags, and - given weight-provenance components - the
  components found to be copied or derived that the manifest does not declare as a weights use; as a
  :class:`LicenceEvidence` (``to_summary()`` for the sheet).
- :func:`licences_table`: what the reviewer reads in the notebook.

Licence ids are checked with ``license-expression``, which ships the maintained SPDX licence list, so
expressions (``Apache-2.0 OR MIT``, ``... WITH ...``) and ``LicenseRef-...`` custom ids are understood.
Flags: ``weights_use`` (third-party weights inside the model bear on independence), ``non_commercial``
(every choice the expression allows includes a non-commercial licence), ``unknown_licence`` (not on the
SPDX list, or NOASSERTION/NONE), ``custom_licence`` (a LicenseRef: read the licence text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pydantic
from license_expression import AND, OR, ExpressionError, LicenseSymbol, Licensing, get_spdx_licensing
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.base import Model, from_pydantic
from ..core.errors import EvidenceError
from ..core.files import Loc, decode_text, line_for, parse_yaml
from ._inputs import InputFile, as_evidence_errors, read_input
from .provenance import component_stack

__all__ = [
    "ComponentCheck",
    "LicenceEvidence",
    "Manifest",
    "ManifestComponent",
    "ProvenanceComponent",
    "UndeclaredWeights",
    "check_licences",
    "licences_table",
    "load_manifest",
    "parse_manifest",
]

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_COMPONENTS = 10_000
Use = Literal["code", "weights", "data", "inference-only"]
NON_COMMERCIAL = re.compile(r"(^|-)NC(-|$)|non-?commercial", re.IGNORECASE)
UNKNOWN_IDS = {"NOASSERTION", "NONE"}
COPIED = ("identical", "derived")



@functools.cache
def _spdx() -> Licensing:
    """The SPDX licensing index, built once per process (building it takes ~40 ms, and a manifest
    check needs it for every expression)."""
    return get_spdx_licensing()

class ManifestComponent(Model):
    """One third-party component of the manifest."""


    name: str = Field(min_length=1)
    source: str = Field(min_length=1, description="where it came from: a URL or repository id")
    version: str = Field(min_length=1, description="quoted in YAML, so that 2.10 stays 2.10")
    licence: str = Field(min_length=1, description="an SPDX licence expression")
    use: list[Use] = Field(min_length=1, description="code, weights, data, inference-only (one or a list)")
    model_components: list[str] = Field(default_factory=list,
                                        description="parts of the team's model built from it (e.g. 'visual')")
    notes: str | None = None

    @field_validator("use", "model_components", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Manifest(Model):
    """A team's licence and transparency manifest."""


    manifest_version: Literal[1]
    model: str | None = None
    components: list[ManifestComponent] = Field(max_length=MAX_COMPONENTS)
    inputs: list[InputFile] = Field(default_factory=list, exclude=True)


class ProvenanceComponent(BaseModel):
    """The part of a weight-provenance component this check reads (other keys are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    component: str
    verdict: Literal["identical", "derived", "no_evidence", "uninformative", "cannot_tell"]
    reference: str | None = None
    param_share: float | None = Field(default=None, allow_inf_nan=False)


class ComponentCheck(BaseModel):
    """A manifest component with its normalized licence and flags."""

    name: str
    source: str
    version: str
    licence: str
    use: list[str]
    model_components: list[str]
    flags: list[str]
    unknown_ids: list[str]


class UndeclaredWeights(BaseModel):
    """A component the weight-provenance evidence found copied or derived, not declared as weights."""

    component: str
    verdict: str
    reference: str | None
    param_share: float | None
    declared_as: list[str] = Field(description="uses a matching manifest entry declares (without weights)")


class LicenceEvidence(BaseModel):
    """The result of :func:`check_licences`."""

    model: str | None
    inputs: list[InputFile]
    components: list[ComponentCheck]
    undeclared_weights: list[UndeclaredWeights] | None = Field(
        description="None when no weight-provenance evidence was given")
    counts: dict[str, int]
    spdx: str = Field(description="the licence list used: license-expression's version")

    def to_summary(self) -> dict:
        """JSON-able, deterministic summary for the score sheet."""
        return {"evidence": "licence_manifest", **self.model_dump(mode="json")}


# ---------------------------------------------------------------- loading

def load_manifest(path: str | Path, max_bytes: int = MAX_MANIFEST_BYTES) -> Manifest:
    """Load and validate a team's ``licences.yaml``."""
    data, _ = read_input(path, max_bytes)
    return parse_manifest(data, name=str(path))


def _fields_at(loc: Loc) -> list[str]:
    model = ManifestComponent if loc[:1] == ("components",) else Manifest
    return [f for f in model.model_fields if f != "inputs"]


def parse_manifest(data: bytes, *, name: str) -> Manifest:
    """Parse manifest bytes; the first problem is reported with its line."""
    with as_evidence_errors():
        obj, lines = parse_yaml(decode_text(data, name), name)
    if not isinstance(obj, dict):
        raise EvidenceError("not a mapping", file=name, line=1,
                            expected="manifest_version: 1 and a list of components (see docs/independence-evidence.md)")
    try:
        manifest = Manifest.model_validate(obj, strict=False)
    except pydantic.ValidationError as e:
        raise from_pydantic(e, EvidenceError, file=name, lines=lines, fields=_fields_at) from None
    for i, c in enumerate(manifest.components):
        _parse_expression(c.licence, name, lines, ("components", i, "licence"))  # syntax errors are bad input
    return manifest.model_copy(update={"inputs": [InputFile.of(name, data)]})


# ---------------------------------------------------------------- SPDX

def _parse_expression(expr: str, name: str, lines: dict[Loc, int], loc: Loc) -> Any:
    try:
        parsed = _spdx().parse(expr)
    except (ExpressionError, IndexError) as e:  # license-expression raises IndexError on '()'
        why = e if isinstance(e, ExpressionError) else "empty parentheses"
        raise EvidenceError(f"licence expression {expr!r} does not parse ({why})", file=name,
                            line=line_for(lines, loc), place=".".join(map(str, loc)),
                            expected="an SPDX expression such as 'Apache-2.0' or 'MIT OR Apache-2.0'") from None
    if parsed is None:
        raise EvidenceError("empty licence", file=name, line=line_for(lines, loc), place=".".join(map(str, loc)),
                            expected="an SPDX expression")
    return parsed


def _symbols(node: Any) -> list[LicenseSymbol]:
    return list(_spdx().license_symbols(node, decompose=True))


def _unavoidably(node: Any, test) -> bool:
    """True if every choice the expression allows includes a licence for which ``test`` holds."""
    if isinstance(node, OR):
        return all(_unavoidably(a, test) for a in node.args)
    if isinstance(node, AND):
        return any(_unavoidably(a, test) for a in node.args)
    return any(test(s.key) for s in _symbols(node))


def _check_component(c: ManifestComponent) -> ComponentCheck:
    licensing = _spdx()
    parsed = licensing.parse(c.licence)  # parsed once already at load time
    keys = [s.key for s in _symbols(parsed)]
    custom = sorted({k for k in keys if k.startswith("LicenseRef-")})
    unknown = sorted(set(licensing.unknown_license_keys(parsed)) - set(custom) | (set(keys) & UNKNOWN_IDS))
    flags = []
    if "weights" in c.use:
        flags.append("weights_use")
    if _unavoidably(parsed, lambda k: bool(NON_COMMERCIAL.search(k))):
        flags.append("non_commercial")
    if unknown:
        flags.append("unknown_licence")
    if custom:
        flags.append("custom_licence")
    # the SPDX spelling ("apache-2.0" -> "Apache-2.0"); kept as written when an id is unknown
    normalized = licensing.validate(c.licence).normalized_expression or c.licence
    return ComponentCheck(name=c.name, source=c.source, version=c.version, licence=normalized,
                          use=list(c.use), model_components=list(c.model_components), flags=flags,
                          unknown_ids=unknown)


# ---------------------------------------------------------------- provenance

def _provenance(items: Mapping | Sequence) -> list[ProvenanceComponent]:
    if isinstance(items, Mapping):
        items = items.get("components", [])
    out = []
    for i, item in enumerate(items):
        try:
            out.append(item if isinstance(item, ProvenanceComponent) else ProvenanceComponent.model_validate(item))
        except pydantic.ValidationError as e:
            raise from_pydantic(e, EvidenceError, file="weight provenance", prefix=("components", i)) from None
    return out


def _norm(s: str) -> str:
    return s.strip().rstrip("/").casefold()


def _matches(entry: ManifestComponent, p: ProvenanceComponent) -> bool:
    """A manifest entry covers a provenance component by name (or the name of its stack: ``vision_encoder``
    covers ``vision_encoder.layers.3.mlp``), or by the reference model it came from."""
    if p.component in entry.model_components or component_stack(p.component) in entry.model_components:
        return True
    if p.reference:
        ref = _norm(p.reference)
        return ref in (_norm(entry.name), _norm(entry.source)) or _norm(entry.source).endswith("/" + ref)
    return False


def check_licences(manifest: Manifest, provenance: Mapping | Sequence | None = None) -> LicenceEvidence:
    """Check every component's licence; with weight-provenance evidence, find undeclared weight reuse.

    ``provenance`` is the weight-provenance JSON (a dict with ``components``) or its list of components
    (dicts or :class:`ProvenanceComponent`). A component with verdict ``identical`` or ``derived`` is
    declared when a manifest entry with use ``weights`` lists it in ``model_components``, or names its
    reference model in ``name`` or ``source`` (``Qwen/Qwen2.5-VL-7B`` matches
    ``https://huggingface.co/Qwen/Qwen2.5-VL-7B``).
    """
    checks = [_check_component(c) for c in manifest.components]
    undeclared = None
    if provenance is not None:
        undeclared = []
        for p in _provenance(provenance):
            if p.verdict not in COPIED:
                continue
            entries = [c for c in manifest.components if _matches(c, p)]
            if any("weights" in c.use for c in entries):
                continue
            undeclared.append(UndeclaredWeights(
                component=p.component, verdict=p.verdict, reference=p.reference, param_share=p.param_share,
                declared_as=sorted({u for c in entries for u in c.use})))
        undeclared = _by_stack(undeclared)
    counts = {f: sum(f in c.flags for c in checks)
              for f in ("weights_use", "non_commercial", "unknown_licence", "custom_licence")}
    counts["components"] = len(checks)
    counts["undeclared_weights"] = len(undeclared or [])
    return LicenceEvidence(model=manifest.model, inputs=manifest.inputs, components=checks,
                           undeclared_weights=undeclared, counts=counts,
                           spdx=f"license-expression {version('license-expression')}")


def _by_stack(found: list[UndeclaredWeights]) -> list[UndeclaredWeights]:
    """One entry per tower (stack) and reference, its blocks' shares summed: a copied encoder is one undeclared
    use, not one per block; the language model's own components stay one each."""
    groups: dict[tuple[str, str | None], list[UndeclaredWeights]] = {}
    for u in found:
        stack = component_stack(u.component)
        groups.setdefault((stack or u.component, u.reference), []).append(u)
    return [us[0] if len(us) == 1 and not component_stack(us[0].component) else UndeclaredWeights(
        component=name, verdict="identical" if all(u.verdict == "identical" for u in us) else "derived",
        reference=ref, param_share=round(sum(u.param_share for u in us), 9),
        declared_as=sorted({d for u in us for d in u.declared_as}))
        for (name, ref), us in groups.items()]


def licences_table(result: LicenceEvidence) -> pd.DataFrame:
    """One row per declared component, then one per undeclared copied or derived component."""
    rows = [{"component": c.name, "source": c.source, "version": c.version, "licence": c.licence,
             "use": ", ".join(c.use), "flags": ", ".join(c.flags)} for c in result.components]
    for u in result.undeclared_weights or []:
        declared = f" (declared only as {', '.join(u.declared_as)})" if u.declared_as else ""
        rows.append({"component": u.component, "source": u.reference or "", "version": "", "licence": "",
                     "use": f"weights ({u.verdict}, per weight provenance)",
                     "flags": "undeclared_weights" + declared})
    return pd.DataFrame(rows, columns=["component", "source", "version", "licence", "use", "flags"])
