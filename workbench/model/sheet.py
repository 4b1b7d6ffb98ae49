"""Score sheets: one reviewer's judgments of one team against one rubric, with computed totals.

A sheet records everything needed to re-derive it: the rubric's id, version and content hash, the
parameters, the hash of every input file, the computed evidence, and the human judgments. Totals are
always computed from the rubric, never typed in; :func:`validate_sheet` recomputes and compares them.
The wire form is RFC 8785 canonical JSON, so equal sheets are equal bytes.

Public API: :class:`ScoreSheet` and its parts, :func:`check_judgments`, :func:`compute_totals`,
:func:`build_sheet`, :func:`validate_sheet`, :func:`sheet_bytes`, :func:`parse_sheet`, :func:`input_record`,
:func:`sheet_filename`, :func:`parse_sheet_filename`.
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .. import __version__
from ..core.base import ID_PATTERN, Hex64, Id, Model, pydantic_problems, rounded, unsafe_chars, utc_now
from ..core.errors import SheetError, WorkbenchError
from ..core.files import canonical_json, is_contained_relpath, parse_json, sha256_file
from ..core.messages import msg
from ..core.versions import schema_of, upgrade
from .rubric import AnchoredScale, ComputedScale, GateScale, Rubric

__all__ = [
    "COI",
    "SCHEMA",
    "ComputedValue",
    "InputFile",
    "Judgment",
    "Problem",
    "Reviewer",
    "RubricRef",
    "ScoreSheet",
    "Totals",
    "Vote",
    "build_sheet",
    "check_judgments",
    "compute_totals",
    "input_record",
    "parse_sheet",
    "parse_sheet_filename",
    "sheet_bytes",
    "sheet_filename",
    "validate_sheet",
]

SCHEMA = "workbench.scoresheet/4"  # /4: evidence problems carry their code; older sheets are read by versions.upgrade
MAX_SHEET_BYTES = 8 * 1024 * 1024
Scalar = str | int | float | bool | None


class Judgment(Model):
    """A person's judgment of one criterion: a level (anchored) or a verdict (gate), and a comment."""

    level: int | None = None
    verdict: str | None = None
    comment: Annotated[str, Field(max_length=20000)] = ""


class ComputedValue(Model):
    """Points computed from evidence by the rubric's formula, with what the formula reported."""

    points: float
    max_points: float
    formula: str
    detail: dict[str, Any] = Field(default_factory=dict)


class InputFile(Model):
    """An input the sheet depends on, named relative to the round folder."""

    path: Annotated[str, Field(min_length=1, max_length=1000)]
    sha256: Hex64
    bytes: Annotated[int, Field(ge=0)]

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if not is_contained_relpath(v):
            raise ValueError("must be a relative path inside the round, with '/' separators")
        return v


class COI(Model):
    """Conflict-of-interest declaration. ``has_conflict`` None means not declared yet."""

    has_conflict: bool | None = None
    statement: Annotated[str, Field(max_length=5000)] = ""


class Vote(Model):
    """A user's blind pairwise vote, filed in the sheet of the team shown as model A: for ``prompt_id``, this
    team's answer against ``opponent``'s; ``winner`` ``A`` (this team), ``B`` (the opponent) or ``tie``."""

    prompt_id: Annotated[str, Field(min_length=1, max_length=200)]
    opponent: Id
    winner: Literal["A", "B", "tie"]


class Reviewer(Model):
    id: Id
    role: Literal["expert", "committee", "user", "coordinator", "computed"]
    key_id: Annotated[str, Field(max_length=200)] = ""


class RubricRef(Model):
    id: str
    version: str
    sha256: Hex64


class Totals(Model):
    """Points per section and overall, all computed from the rubric."""

    sections: dict[str, float]
    total: float
    max: float
    gates: dict[str, str] = Field(default_factory=dict)


class ScoreSheet(Model):
    """A complete, validated score sheet (the payload that is signed)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)

    schema_: Literal["workbench.scoresheet/4"] = Field(SCHEMA, alias="schema")
    round_id: Annotated[str, Field(min_length=1, max_length=100)]
    team_id: Id
    reviewer: Reviewer
    # The sheet binds its own version and the SHA-256 of the envelope file of the version it replaces
    # (none for v1), so an old version copied under a new name, or a version whose predecessor was
    # removed, is refused (see collect.check_sheet).
    version: Annotated[int, Field(ge=1, le=999_999_999)] = 1
    supersedes: Hex64 | None = None
    rubric: RubricRef
    parameters: dict[str, Scalar] = Field(default_factory=dict)
    inputs: list[InputFile] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)
    computed: dict[str, ComputedValue] = Field(default_factory=dict)
    judgments: dict[str, Judgment] = Field(default_factory=dict)
    # a user's pairwise votes with this team as model A (signed by the user like the judgments)
    votes: list[Vote] = Field(default_factory=list)
    coi: COI
    totals: Totals
    workbench_version: str
    created_at: str

    @model_validator(mode="after")
    def _votes(self) -> ScoreSheet:
        if self.votes and self.reviewer.role != "user":
            raise ValueError("only a user's sheet carries pairwise votes")
        seen = set()
        for v in self.votes:
            if v.opponent == self.team_id:
                raise ValueError(f"vote on prompt {v.prompt_id} compares {self.team_id} with itself")
            if (v.prompt_id, v.opponent) in seen:
                raise ValueError(f"two votes on prompt {v.prompt_id} against {v.opponent}")
            seen.add((v.prompt_id, v.opponent))
        return self

    # the version of the file it was read from (an older one was upgraded on read): what it is compared with
    _read_from: int = PrivateAttr(default=4)

    @property
    def read_from(self) -> int:
        """The ``workbench.scoresheet/<n>`` version of the file this sheet was read from (today's when built)."""
        return self._read_from

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (with ``schema`` as the key)."""
        return self.model_dump(mode="json", by_alias=True)


class Problem(Model):
    """Something that keeps a sheet from being complete, attached to a criterion (or to the COI)."""

    criterion: str
    code: str
    params: dict[str, Scalar] = Field(default_factory=dict)

    def text(self, lang: str = "en", rubric: Rubric | None = None) -> str:
        """The problem in ``lang``, with the criterion's title when the rubric is given."""
        name = self.criterion
        if self.criterion == "coi":  # the declaration, not a criterion: its title, not its id
            name = msg("coi_title", lang)
        elif rubric is not None:
            with contextlib.suppress(KeyError):
                name = rubric.criterion(self.criterion).title.get(lang)
        return f"{name}: {msg(self.code, lang, **self.params)}"


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_judgments(
    rubric: Rubric,
    judgments: dict[str, Judgment],
    computed: dict[str, ComputedValue] | None = None,
    coi: COI | None = None,
) -> list[Problem]:
    """Every problem that keeps these inputs from making a valid sheet, in rubric order (empty = complete)."""
    computed = computed or {}
    out: list[Problem] = []
    known = set(rubric.ids())
    for _, c in rubric.criteria():
        j = judgments.get(c.id)
        sc = c.scale
        if isinstance(sc, ComputedScale):
            if j is not None:
                out.append(Problem(criterion=c.id, code="computed_judged"))
            cv = computed.get(c.id)
            if cv is None:
                out.append(Problem(criterion=c.id, code="missing_computed"))
            elif not _finite(cv.points) or not 0 <= cv.points <= c.points + 1e-9:
                out.append(Problem(criterion=c.id, code="computed_range", params={"value": str(cv.points), "max": c.points}))
            continue
        if isinstance(sc, AnchoredScale):
            if j is None or j.level is None:
                out.append(Problem(criterion=c.id, code="missing_score"))
                continue
            if c.level(j.level) is None:
                out.append(Problem(criterion=c.id, code="bad_level", params={"value": j.level}))
                continue
            if c.needs_comment(j.level) and not (j.comment or "").strip():
                out.append(Problem(criterion=c.id, code="missing_comment"))
        elif isinstance(sc, GateScale):
            if j is None or j.verdict is None:
                out.append(Problem(criterion=c.id, code="missing_verdict"))
                continue
            if j.verdict not in {o.value for o in sc.options}:
                out.append(Problem(criterion=c.id, code="bad_verdict", params={"value": j.verdict}))
                continue
            if not (j.comment or "").strip():
                out.append(Problem(criterion=c.id, code="missing_comment"))
    for cid, j in judgments.items():
        if cid in known and (bad := unsafe_chars(j.comment or "")):
            out.append(Problem(criterion=cid, code="unsafe_text", params={"chars": ", ".join(bad)}))
    for cid in sorted(set(judgments) - known):
        out.append(Problem(criterion=cid, code="unknown_criterion"))
    for cid in sorted(set(computed) - known):
        out.append(Problem(criterion=cid, code="unknown_criterion"))
    if coi is not None:
        if coi.has_conflict is None:
            out.append(Problem(criterion="coi", code="missing_coi"))
        elif coi.has_conflict and not coi.statement.strip():
            out.append(Problem(criterion="coi", code="coi_statement"))
        if bad := unsafe_chars(coi.statement):
            out.append(Problem(criterion="coi", code="unsafe_text", params={"chars": ", ".join(bad)}))
    return out


def compute_totals(rubric: Rubric, judgments: dict[str, Judgment], computed: dict[str, ComputedValue] | None = None) -> Totals:
    """Points per section and in total, from the rubric's points and level fractions (missing counts 0)."""
    computed = computed or {}
    sections: dict[str, float] = {}
    gates: dict[str, str] = {}
    for s, c in rubric.criteria():
        pts = 0.0
        j = judgments.get(c.id)
        if isinstance(c.scale, AnchoredScale) and j is not None and j.level is not None:
            lv = c.level(j.level)
            pts = c.points * lv.fraction if lv else 0.0
        elif isinstance(c.scale, ComputedScale) and c.id in computed:
            pts = computed[c.id].points
        elif isinstance(c.scale, GateScale) and j is not None and j.verdict is not None:
            gates[c.id] = j.verdict
        sections[s.id] = sections.get(s.id, 0.0) + pts
    sections = {k: rounded(v) for k, v in sections.items()}
    return Totals(sections=sections, total=rounded(sum(sections.values())), max=rounded(rubric.total_points), gates=gates)


def _raise(problems: list[Problem], rubric: Rubric, name: str | None) -> None:
    errs = [SheetError(p.text("en", rubric), file=name, place=p.criterion) for p in problems]
    raise SheetError(f"{len(errs)} problem(s): " + "; ".join(e.message for e in errs), file=name, problems=errs)


def build_sheet(
    rubric: Rubric,
    *,
    round_id: str,
    team_id: str,
    reviewer: Reviewer,
    judgments: dict[str, Judgment],
    coi: COI,
    computed: dict[str, ComputedValue] | None = None,
    parameters: dict[str, Scalar] | None = None,
    inputs: list[InputFile] | None = None,
    evidence: dict[str, Any] | None = None,
    votes: list[Vote] | None = None,
    created_at: str | None = None,
) -> ScoreSheet:
    """Build a complete sheet with totals computed from the rubric; :class:`SheetError` lists what is wrong."""
    computed = computed or {}
    problems = check_judgments(rubric, judgments, computed, coi)
    if problems:
        _raise(problems, rubric, None)
    try:
        return ScoreSheet(
            round_id=round_id,
            team_id=team_id,
            reviewer=reviewer,
            rubric=RubricRef(**rubric.ref),
            parameters=dict(sorted((parameters or {}).items())),
            inputs=sorted(inputs or [], key=lambda f: f.path),
            evidence=evidence or {},
            computed=computed,
            judgments={k: judgments[k] for k in rubric.ids() if k in judgments},
            votes=sorted(votes or [], key=lambda v: (v.prompt_id, v.opponent)),
            coi=coi,
            totals=compute_totals(rubric, judgments, computed),
            workbench_version=__version__,
            created_at=created_at or utc_now(),
        )
    except pydantic.ValidationError as e:
        raise _from_pydantic(e, None) from None


def _from_pydantic(e: pydantic.ValidationError, name: str | None) -> SheetError:
    errs = pydantic_problems(e, SheetError, file=name)
    return SheetError(f"{len(errs)} problem(s): " + "; ".join(f"{x.place}: {x.message}" for x in errs), file=name, problems=errs)


def validate_sheet(sheet: ScoreSheet, rubric: Rubric, name: str | None = None) -> None:
    """Check a sheet against its rubric: same rubric hash, complete judgments, totals equal a recomputation."""
    if sheet.rubric.sha256 != rubric.sha256 or sheet.rubric.id != rubric.id:
        raise SheetError(
            f"sheet was made with rubric {sheet.rubric.id} {sheet.rubric.sha256[:12]}",
            file=name, place="rubric", expected=f"{rubric.id} {rubric.sha256[:12]}",
        )
    problems = check_judgments(rubric, sheet.judgments, sheet.computed, sheet.coi)
    if problems:
        _raise(problems, rubric, name)
    expected = compute_totals(rubric, sheet.judgments, sheet.computed)
    if expected != sheet.totals:
        raise SheetError(
            f"totals {sheet.totals.total:g} do not follow from the judgments",
            file=name, place="totals", expected=f"{expected.total:g} as computed from the rubric",
        )


def sheet_bytes(sheet: ScoreSheet) -> bytes:
    """The canonical (RFC 8785) JSON bytes of a sheet: what gets signed."""
    return canonical_json(sheet.to_json())


def parse_sheet(data: bytes | str | dict[str, Any], name: str = "<sheet>") -> ScoreSheet:
    """Parse and type-check a sheet (not its rubric consistency: see :func:`validate_sheet`)."""
    if isinstance(data, bytes | str):
        if len(data) > MAX_SHEET_BYTES:
            raise SheetError(f"sheet is {len(data)} bytes", file=name, expected=f"at most {MAX_SHEET_BYTES}")
        data = parse_json(data, name)
    if not isinstance(data, dict):
        raise SheetError("sheet is not a JSON object", file=name, expected="an object with schema, round_id, ...")
    try:
        # a sheet of an earlier release reads in today's shape (after its signature was checked on its bytes)
        version = schema_of(data, "scoresheet", name)
        sheet = ScoreSheet.model_validate(upgrade(data, "scoresheet", name))
    except WorkbenchError as e:
        raise SheetError(e.message, file=name, place=e.place, expected=e.expected) from None
    except pydantic.ValidationError as e:
        raise _from_pydantic(e, name) from None
    sheet._read_from = version
    return sheet


# ---------------------------------------------------------------- file names

MAX_SHEET_VERSION = 999_999_999
_SHEET_NAME = re.compile(rf"^(?P<team>{ID_PATTERN[1:-1]})\.v(?P<version>[1-9][0-9]{{0,8}})\.dsse\.json$")


def sheet_filename(team_id: str, version: int) -> str:
    """``<team>.v<N>.dsse.json``: the one name of a signed sheet version (``sheets/<reviewer>/`` holds it)."""
    if not 1 <= version <= MAX_SHEET_VERSION or parse_sheet_filename(f"{team_id}.v{version}.dsse.json") is None:
        raise SheetError(f"no sheet file name for team '{team_id}', version {version}",
                         expected=f"a team id and a version 1..{MAX_SHEET_VERSION}")
    return f"{team_id}.v{version}.dsse.json"


def parse_sheet_filename(name: str) -> tuple[str, int] | None:
    """``(team, version)`` of a sheet file name, or ``None`` when the name is not one :func:`sheet_filename` makes."""
    m = _SHEET_NAME.match(name)
    return (m["team"], int(m["version"])) if m else None


def input_record(path: str | Path, root: str | Path) -> InputFile:
    """Hash a file and name it relative to ``root`` (the round folder), so the sheet is path-independent."""
    p, r = Path(path), Path(root)
    try:
        rel = p.resolve().relative_to(r.resolve())
    except ValueError:
        raise WorkbenchError("input file is outside the round folder", file=p, expected=f"a file under {r}") from None
    return InputFile(path=rel.as_posix(), sha256=sha256_file(p), bytes=p.stat().st_size)
