"""Rubrics: versioned, bilingual, validated scoring schemes loaded from YAML.

A rubric is one evaluation part (benchmark, expert or user). It has sections of criteria; each criterion
carries its points and a scale:

- ``anchored``: ordered levels, each with a descriptor and the fraction of the points it awards;
- ``gate``: a verdict (e.g. pass / concern / fail) worth no points that can exclude a team;
- ``computed``: points computed from evidence by a named formula (never typed in by a person).

Public API: :class:`Rubric` (and its parts), :func:`load_rubric`, :func:`parse_rubric`,
:func:`check_files`, :func:`json_schema`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, ValidationInfo, model_validator

from ..core.base import Model, pydantic_problems
from ..core.errors import RubricError, WorkbenchError
from ..core.files import Loc, canonical_json, line_for, load_yaml, parse_yaml, sha256_bytes
from .formulas import formulas

__all__ = [
    "AnchoredScale",
    "ComputedScale",
    "Criterion",
    "GateScale",
    "Level",
    "Rubric",
    "Section",
    "Text",
    "check_files",
    "json_schema",
    "load_rubric",
    "parse_rubric",
]

MAX_RUBRIC_BYTES = 1024 * 1024

ID_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=80)]




class Text(Model):
    """A text in Korean and English; both are required."""

    ko: Annotated[str, Field(min_length=1, max_length=4000)]
    en: Annotated[str, Field(min_length=1, max_length=4000)]

    def get(self, lang: str) -> str:
        """The text in ``lang`` ('ko' or 'en')."""
        return self.en if lang == "en" else self.ko


class Level(Model):
    """One anchored level: its ordinal value, the fraction of points it awards, and what it means."""

    value: int
    fraction: Annotated[float, Field(ge=0, le=1)]
    label: Text
    descriptor: Text


class AnchoredScale(Model):
    type: Literal["anchored"]
    levels: Annotated[list[Level], Field(min_length=2, max_length=20)]


class GateOption(Model):
    value: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: Text
    descriptor: Text
    excludes: bool = False  # a majority of this verdict excludes the team


class GateScale(Model):
    type: Literal["gate"]
    options: Annotated[list[GateOption], Field(min_length=2, max_length=10)]


class ComputedScale(Model):
    type: Literal["computed"]
    formula: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)


Scale = Annotated[AnchoredScale | GateScale | ComputedScale, Field(discriminator="type")]


class Criterion(Model):
    """One scored item."""

    id: Identifier
    title: Text
    description: Text
    points: Annotated[float, Field(ge=0, le=1000)]
    scale: Scale
    # when a comment is required: always, only for a level at either end of the scale, or never
    comment_required: Literal["always", "extremes", "never"] = "extremes"

    @property
    def kind(self) -> str:
        return self.scale.type

    def level(self, value: int) -> Level | None:
        """The anchored level with this value, or None."""
        if isinstance(self.scale, AnchoredScale):
            for lv in self.scale.levels:
                if lv.value == value:
                    return lv
        return None

    def needs_comment(self, level: int | None = None) -> bool:
        """Whether a judgment at ``level`` (anchored) or any verdict (gate) needs a comment."""
        if self.comment_required == "always" or isinstance(self.scale, GateScale):
            return True
        if self.comment_required == "extremes" and isinstance(self.scale, AnchoredScale) and level is not None:
            values = [lv.value for lv in self.scale.levels]
            return level in (min(values), max(values))
        return False


class Section(Model):
    """A group of criteria, shown together; ``evidence`` says which evidence the notebook shows first."""

    id: Identifier
    title: Text
    description: Text | None = None
    evidence: Literal["benchmark", "usability", "independence", "none"] = "none"
    criteria: Annotated[list[Criterion], Field(min_length=1)]


class Rubric(Model):
    """A validated rubric. ``sha256`` identifies its content independently of YAML formatting."""

    id: Identifier
    version: Annotated[str, Field(pattern=r"^\d+\.\d+(\.\d+)?$")]
    part: Literal["benchmark", "expert", "user"]
    # who fills it in: a person of this role, or nobody (computed from evidence)
    role: Literal["expert", "user", "computed"]
    title: Text
    description: Text
    total_points: Annotated[float, Field(gt=0, le=1000)]
    sections: Annotated[list[Section], Field(min_length=1)]

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> Rubric:
        if info.context and info.context.get("defer_semantics"):
            return self
        problems = semantic_problems(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in problems))
        return self

    # -- identity
    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of the RFC 8785 canonical JSON of the validated content (the model is frozen, so it is
        computed once: audits compare it for every sheet)."""
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))

    @property
    def ref(self) -> dict[str, str]:
        """What a sheet records to name this rubric."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    # -- navigation
    def criteria(self) -> Iterator[tuple[Section, Criterion]]:
        """Every (section, criterion) in rubric order."""
        for s in self.sections:
            for c in s.criteria:
                yield s, c

    def criterion(self, cid: str) -> Criterion:
        """The criterion with id ``cid``; KeyError if unknown."""
        for _, c in self.criteria():
            if c.id == cid:
                return c
        raise KeyError(cid)

    def ids(self, *kinds: str) -> list[str]:
        """Criterion ids, optionally only of the given scale types."""
        return [c.id for _, c in self.criteria() if not kinds or c.kind in kinds]


def semantic_problems(r: Rubric) -> list[tuple[Loc, str, str]]:
    """Rules that span fields: unique ids, points adding up, scale consistency, known formulas."""
    out: list[tuple[Loc, str, str]] = []
    ids = [c.id for _, c in r.criteria()]
    dup_ids = {i for i, n in Counter(ids).items() if n > 1}
    sec_ids = Counter(s.id for s in r.sections)
    total = 0.0
    for si, s in enumerate(r.sections):
        if sec_ids[s.id] > 1:
            out.append((("sections", si, "id"), f"duplicate section id '{s.id}'", "unique section ids"))
        for ci, c in enumerate(s.criteria):
            loc: Loc = ("sections", si, "criteria", ci)
            total += c.points
            if c.id in dup_ids:
                out.append(((*loc, "id"), f"duplicate criterion id '{c.id}'", "unique criterion ids"))
            sc = c.scale
            if isinstance(sc, AnchoredScale):
                values = [lv.value for lv in sc.levels]
                if values != sorted(set(values)):
                    out.append(((*loc, "scale", "levels"), f"level values {values} of '{c.id}' are not strictly increasing", "strictly increasing values"))
                fr = [lv.fraction for lv in sc.levels]
                if fr != sorted(fr):
                    out.append(((*loc, "scale", "levels"), f"level fractions of '{c.id}' decrease", "fractions that never decrease with the level"))
                if c.points == 0:
                    out.append(((*loc, "points"), f"anchored criterion '{c.id}' has 0 points", "points > 0 (use a gate for verdicts)"))
            elif isinstance(sc, GateScale):
                if c.points != 0:
                    out.append(((*loc, "points"), f"gate '{c.id}' has {c.points:g} points", "0 points for a gate"))
                if c.comment_required != "always":
                    out.append(((*loc, "comment_required"), f"gate '{c.id}' must always require a justification", "comment_required: always"))
                opts = [o.value for o in sc.options]
                if len(set(opts)) != len(opts):
                    out.append(((*loc, "scale", "options"), f"duplicate gate options in '{c.id}'", "unique option values"))
            elif isinstance(sc, ComputedScale):
                if sc.formula not in formulas():  # the one registry (workbench.model.formulas)
                    out.append(((*loc, "scale", "formula"), f"unknown formula '{sc.formula}' in '{c.id}'", "one of " + ", ".join(sorted(formulas()))))
                if r.role != "computed":
                    out.append(((*loc, "scale"), f"computed criterion '{c.id}' in a rubric filled in by a person", "role: computed"))
    if r.role == "computed" and any(c.kind != "computed" for _, c in r.criteria()):
        out.append((("role",), "a computed rubric holds criteria a person must score", "only computed criteria"))
    if abs(total - r.total_points) > 1e-9:
        out.append((("total_points",), f"criteria points add up to {total:g}, not {r.total_points:g}", f"total_points: {total:g} or criteria adding up to {r.total_points:g}"))
    return out


def parse_rubric(data: Any, lines: dict[Loc, int] | None = None, name: str = "<rubric>") -> Rubric:
    """Validate parsed rubric data; raise :class:`RubricError` listing every problem with its line."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise RubricError("rubric is not a mapping", file=name, line=1, expected="a YAML mapping with id, version, sections, ...")
    problems: list[WorkbenchError] = []
    try:
        rubric = Rubric.model_validate(data, context={"defer_semantics": True})
    except pydantic.ValidationError as e:
        # pydantic puts the scale's union tag into locations; the YAML has no such key
        problems += pydantic_problems(e, RubricError, file=name, lines=lines,
                                      skip=lambda part: part in ("anchored", "gate", "computed"))
    else:
        for loc, msg, expected in semantic_problems(rubric):
            problems.append(RubricError(msg, file=name, line=line_for(lines, loc), place=".".join(map(str, loc)), expected=expected))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        head = problems[0]
        raise RubricError(f"{len(problems)} problem(s); first: {head.message}", file=name, line=head.line,
                          problems=problems)
    return rubric


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate a rubric YAML file."""
    data, lines = load_yaml(path, max_bytes=MAX_RUBRIC_BYTES)
    return parse_rubric(data, lines, str(path))


def load_rubric_text(text: str, name: str = "<rubric>") -> Rubric:
    """Validate rubric YAML given as text (used by tests and tools)."""
    data, lines = parse_yaml(text, name)
    return parse_rubric(data, lines, name)


def check_files(paths: list[str | Path]) -> tuple[list[Rubric], list[WorkbenchError]]:
    """Check every file; return the valid rubrics and every problem found (never stops at the first)."""
    rubrics: list[Rubric] = []
    problems: list[WorkbenchError] = []
    seen: dict[str, str] = {}
    for p in paths:
        try:
            r = load_rubric(p)
        except RubricError as e:
            problems.extend(e.problems or [e])
            continue
        except WorkbenchError as e:
            problems.append(e)
            continue
        if r.id in seen:
            problems.append(RubricError(f"rubric id '{r.id}' also used by {seen[r.id]}", file=p, line=1, expected="unique rubric ids"))
        seen[r.id] = str(p)
        rubrics.append(r)
    return rubrics, problems


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the rubric format, generated from the models."""
    schema = Rubric.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://workbench.invalid/rubric.schema.json"
    return schema
