"""A round's files: the models of ``rules.yaml``, ``roster.yaml``, ``teams.yaml``, ``assignments.yaml``,
loading and cross-checking them, and the one eligibility rule (who may score which team).

The state a round freezes is :func:`round_state` (the validated content, the rubric hashes and the benchmark
scheme, ``rubrics/benchmarks.yaml``, pinned in ``rules.yaml`` like the rubrics); the
lifecycle that signs and amends it (freeze, amend, status) is :mod:`workbench.round.lifecycle`, one layer up.
Comparisons use the parsed content, so reformatting or comments never count.

Public API: :class:`Rules` (and :class:`Witnessing`, :class:`Witness`), :class:`Roster`, :class:`Teams`, :class:`Assignments` (and parts),
:class:`Round`, :func:`find_round`, :func:`load_round`, :func:`eligibility`, :func:`round_state`, :func:`state_hash`,
:func:`ledger_keys`, :func:`pinned_keys`, :func:`raw_key_b64`, :func:`require_coordinator`, :func:`load_round_file`, :func:`round_from_state`,
:data:`PARTS`, :data:`ROUND_FILES`, :data:`EVIDENCE_KEYS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, Field, field_validator, model_validator

from ..core.base import Hex64, Id, Model, from_pydantic
from ..core.errors import IneligibleError, KeyFileError, RoundError
from ..core.files import canonical_json, is_contained_relpath, line_for, load_yaml, sha256_bytes
from ..core.signing import key_id, public_key_from_pem
from .evidence_kinds import EVIDENCE_KEYS
from .rubric import GateScale, Rubric, load_rubric
from .scheme import SCHEME_FILE, BenchmarkSets, load_benchmark_sets

__all__ = [
    "EVIDENCE_KEYS",
    "PANEL_ROLES",
    "PARTS",
    "RUBRIC_OF",
    "ROUND_FILES",
    "Assignment",
    "Assignments",
    "GateRule",
    "Roster",
    "RosterEntry",
    "Round",
    "Rules",
    "SchemePin",
    "Team",
    "Teams",
    "Threshold",
    "Witness",
    "Witnessing",
    "eligibility",
    "find_round",
    "ledger_keys",
    "load_round",
    "load_round_file",
    "pinned_keys",
    "raw_key_b64",
    "require_coordinator",
    "round_from_state",
    "round_state",
    "state_hash",
]

PARTS = ("benchmark", "expert", "user")
# who scores with which part's rubric: a re-challenge's committee members are the expert panel of that round
RUBRIC_OF: dict[str, str] = {"expert": "expert", "committee": "expert", "user": "user"}
PANEL_ROLES = ("expert", "committee")
MAX_ROUND_FILE = 4 * 1024 * 1024
Part = Literal["benchmark", "expert", "user"]


# ---------------------------------------------------------------- rules

class RubricPin(Model):
    """A frozen rubric copy: its file under the round and the content hash it must have."""

    file: str
    id: str
    version: str
    sha256: Hex64


class SchemePin(Model):
    """The round's benchmark scheme copy: its file under the round and the content hash it must have
    (:attr:`workbench.model.scheme.BenchmarkSets.sha256`)."""

    file: str = SCHEME_FILE
    sha256: Hex64


class Aggregation(Model):
    """How panels become points. ``trimmed_mean`` drops the ``trim`` highest and lowest reviewer totals;
    ``user_source`` says whose signature the user part rests on (see :mod:`workbench.round.userdata`)."""

    expert: Literal["trimmed_mean", "mean", "median"] = "trimmed_mean"
    trim: Annotated[int, Field(ge=0, le=5)] = 1
    user: Literal["survey_mean"] = "survey_mean"
    # where user answers come from: the users' own signed sheets, or a coordinator-signed import (userdata)
    user_source: Literal["sheets", "import"] = "sheets"
    min_reviewers: Annotated[int, Field(ge=1)] = 3
    outlier_z: Annotated[float, Field(gt=0)] = 3.5


class GateRule(Model):
    """A gate criterion of the expert rubric and how its verdicts decide.

    ``majority``: the team is excluded when more than half of its panel gives an excluding verdict (a tie
    keeps it). ``majority_approve``: the team advances only when more than half of its panel gives an
    approving (non-excluding) verdict; a tie, or no verdict at all, excludes it.
    """

    criterion: str
    rule: Literal["majority", "majority_approve"] = "majority"


class Threshold(Model):
    """An absolute bar: a team whose points on ``criterion`` are below ``min_share`` of its maximum is excluded,
    whatever its total. With ``frontier_ratio`` (share 0.95, cap 1) ``min_share: 1.0`` means "at least 95% of the
    frontier model on every benchmark of the set"; with share 1.0, ``min_share: 0.95`` means "a mean of at least
    95% of the frontier (each benchmark capped at 100%)"."""

    criterion: str
    min_share: Annotated[float, Field(gt=0, le=1)]
    text: Annotated[str, Field(max_length=500)] = ""


class DecisionRule(Model):
    id: Id
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class Indices(Model):
    """Criteria (ids from any rubric) behind the two composite views, each shown on 0..100."""

    frontier: Annotated[list[str], Field(min_length=1)]
    diffusion: Annotated[list[str], Field(min_length=1)]


def title_in(title: str | Mapping[str, str], lang: str) -> str:
    """A round title in ``lang``: the other language's when only that one is given; a one-string title (rounds
    made before titles had languages) as it is."""
    if isinstance(title, str):
        return title
    return title.get(lang) or next(iter(title.values()), "")


def _valid_pem(v: str) -> str:
    """``v`` when it is an Ed25519 public key in PEM, else the reason as a ValueError (for pydantic)."""
    try:
        public_key_from_pem(v)
    except KeyFileError as e:
        raise ValueError(e.message) from None
    return v


class Witness(Model):
    """A witness of the round's ledger: the name on their checkpoint signature line and their public key (PEM).
    Only a listed witness's cosignature counts (see :mod:`workbench.round.checkpoint`)."""

    name: Id
    public_key: Annotated[str, Field(min_length=1, max_length=4000)]

    @field_validator("public_key")
    @classmethod
    def _pem(cls, v: str) -> str:
        return _valid_pem(v)

    def key(self) -> Ed25519PublicKey:
        return public_key_from_pem(self.public_key)


class Witnessing(Model):
    """``rules.yaml`` ``witnesses:``: who may cosign the ledger's checkpoints (``keys``) and how many distinct
    listed witnesses must have cosigned one for it to count as witnessed (``quorum``)."""

    quorum: Annotated[int, Field(ge=1)] = 1
    keys: Annotated[list[Witness], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _unique(self) -> Witnessing:
        names = [w.name for w in self.keys]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate witness names: {', '.join(dup)}")
        ids = [key_id(w.key()) for w in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("two witnesses have the same public key: each witness needs their own")
        if self.quorum > len(self.keys):
            raise ValueError(f"quorum {self.quorum} is more than the {len(self.keys)} listed witness(es)")
        return self

    def by_name(self) -> dict[str, Ed25519PublicKey]:
        """Witness name -> public key."""
        return {w.name: w.key() for w in self.keys}


class Rules(Model):
    """``rules.yaml``: everything that decides a result, frozen before anyone scores."""

    round_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    stage: Annotated[int, Field(ge=1)]
    # one string (older rounds), or the title in each language: {ko: "1단계 평가", en: "Stage 1 evaluation"}
    title: str | dict[Literal["ko", "en"], Annotated[str, Field(max_length=200)]] = ""
    # the round's language: generated notebooks open in it. Left out of the signed state when unset, so that rounds
    # frozen before it existed keep the state their signature covers.
    lang: Literal["ko", "en"] | None = Field(default=None, exclude_if=lambda v: v is None)
    rubrics: dict[Part, RubricPin]
    benchmarks: SchemePin
    points: dict[Part, Annotated[float, Field(ge=0)]]
    aggregation: Aggregation = Aggregation()
    cut: Annotated[int, Field(ge=0)]
    tie_break: list[Literal["expert", "benchmark", "user"]] = ["expert", "benchmark", "user"]
    gates: list[GateRule] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    decision_rules: list[DecisionRule] = Field(default_factory=list)
    indices: Indices
    # how many coordinators must sign an amendment that changes the coordinators or a key, the points and
    # aggregation, the gates, thresholds or the cut (TUF's root threshold; workbench.round.authority)
    coordinator_threshold: Annotated[int, Field(ge=1, le=20)] = Field(default=1, exclude_if=lambda v: v == 1)
    # left out of the signed state when unset (like coordinator_threshold at 1): rounds frozen before these
    # existed keep the state, and the state hash, their signatures cover
    witnesses: Witnessing | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="before")
    @classmethod
    def _short_witnesses(cls, data: Any) -> Any:
        # the short form: ``witnesses:`` a list of {name, public_key} and ``witness_quorum: N`` beside it (default 1)
        if isinstance(data, dict) and isinstance(data.get("witnesses"), list):
            data = dict(data)
            data["witnesses"] = {"keys": data["witnesses"], "quorum": data.pop("witness_quorum", 1)}
        return data

    @model_validator(mode="after")
    def _parts(self) -> Rules:
        if set(self.points) != set(PARTS):
            raise ValueError(f"points must name exactly {', '.join(PARTS)} (0 for a part the round does not use)")
        used = {p for p in PARTS if self.points[p] > 0}  # type: ignore[index]
        if set(self.rubrics) != used:
            raise ValueError(f"rubrics must name exactly the parts with points ({', '.join(sorted(used)) or 'none'})")
        if not used:
            raise ValueError("at least one part needs points")
        return self

    def title_in(self, lang: str) -> str:
        """The round's title in ``lang`` (see :func:`title_in`)."""
        return title_in(self.title, lang)

    def uses(self, part: str) -> bool:
        """Whether the round scores ``part`` (a part with 0 points has no rubric, sheets or points)."""
        return self.points.get(part, 0) > 0  # type: ignore[call-overload]


# ---------------------------------------------------------------- roster, teams, assignments

class RosterEntry(Model):
    id: Id
    role: Literal["expert", "committee", "user", "coordinator"]
    name: str = ""
    # optional until the freeze (``workbench hub accounts`` writes the key made in each home; the freeze
    # refuses a member without one: workbench.round.readiness.check_keys)
    public_key: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    coi: list[Id] = Field(default_factory=list)

    @field_validator("public_key")
    @classmethod
    def _pem(cls, v: str | None) -> str | None:
        return v if v is None else _valid_pem(v)

    def key(self) -> Ed25519PublicKey:
        """The member's public key; :class:`RoundError` when the roster names none yet."""
        if self.public_key is None:
            raise RoundError(f"'{self.id}' has no public_key in the roster yet", file="roster.yaml",
                             expected="'workbench hub accounts' (writes the key made in their home) or a PEM key")
        return public_key_from_pem(self.public_key)


class Roster(Model):
    reviewers: list[RosterEntry]

    @model_validator(mode="after")
    def _unique(self) -> Roster:
        # ids name folders and accounts, which a case-insensitive file system or hub would merge
        ids = [r.id.casefold() for r in self.reviewers]
        dup = sorted({r.id for r in self.reviewers if ids.count(r.id.casefold()) > 1})
        if dup:
            raise ValueError(f"duplicate reviewer ids (letter case does not make an id unique): {', '.join(dup)}")
        if not any(r.role == "coordinator" for r in self.reviewers):
            raise ValueError("the roster needs at least one coordinator")
        return self

    def get(self, rid: str) -> RosterEntry | None:
        return next((r for r in self.reviewers if r.id == rid), None)


def _relative_path(v: str) -> str:
    if not is_contained_relpath(v):
        raise ValueError(f"path '{v}' must be relative, with '/' separators and no '..'")
    return v


class Team(Model):
    """A team: its model, declared targets and facts, and the evidence files it submitted.

    Declared facts (optional; each enables a training-log check): ``vocab_size`` (for ln V),
    ``training_tokens`` (claimed), ``gpu`` (an accelerator id of ``workbench/data/accelerators.yaml``) and
    ``gpu_hours`` (GPUs x wall-clock hours); the parameter count is ``active_params_b``.
    """

    id: Id
    name: str
    model: str
    active_params_b: Annotated[float, Field(gt=0)]
    total_params_b: Annotated[float, Field(gt=0)]
    target_model: str
    targets: dict[str, float] = Field(default_factory=dict)
    individual_benchmarks: Annotated[list[str], Field(min_length=2, max_length=2)]
    evidence: dict[str, str] = Field(default_factory=dict)
    vocab_size: Annotated[int, Field(ge=2)] | None = None
    training_tokens: Annotated[float, Field(gt=0)] | None = None
    gpu: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    gpu_hours: Annotated[float, Field(gt=0)] | None = None
    joined_by_amendment: bool = False

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: dict[str, str]) -> dict[str, str]:
        # the keys of the registered evidence kinds (EVIDENCE_KEYS is read live); paths are relative to
        # ``evidence/<team>/``: see docs/coordinator-guide.md, "Evidence files", and workbench.evidence.dossier
        unknown = sorted(set(v) - set(EVIDENCE_KEYS))
        if unknown:
            raise ValueError(f"unknown evidence key(s) {', '.join(unknown)}; expected some of {', '.join(EVIDENCE_KEYS)}")
        for path in v.values():
            _relative_path(path)
        return v


class Teams(Model):
    teams: list[Team]

    @model_validator(mode="after")
    def _unique(self) -> Teams:
        # ids name folders and accounts, which a case-insensitive file system or hub would merge
        ids = [t.id.casefold() for t in self.teams]
        dup = sorted({t.id for t in self.teams if ids.count(t.id.casefold()) > 1})
        if dup:
            raise ValueError(f"duplicate team ids (letter case does not make an id unique): {', '.join(dup)}")
        return self


class Assignment(Model):
    reviewer: Id
    team: Id


class Assignments(Model):
    assignments: list[Assignment]


# ---------------------------------------------------------------- loading

@dataclass(frozen=True)
class Round:
    """A loaded, cross-checked round folder."""

    path: Path
    rules: Rules
    roster: Roster
    teams: Teams
    assignments: Assignments
    rubrics: dict[str, Rubric]
    scheme: BenchmarkSets

    @property
    def ledger_path(self) -> Path:
        return self.path / "ledger.jsonl"

    def team(self, tid: str) -> Team | None:
        return next((t for t in self.teams.teams if t.id == tid), None)

    def eligibility(self, reviewer_id: str, team_id: str, role: str | None = None) -> IneligibleError | None:
        """:func:`eligibility` in this round, with file names under the round folder."""
        e = eligibility(self.roster, self.teams, self.assignments, reviewer_id, team_id, role)
        if e is None:
            return None
        return IneligibleError(e.message, reason=e.reason, file=self.path / str(e.file), place=e.place, expected=e.expected)

    def coordinators(self) -> list[RosterEntry]:
        return [r for r in self.roster.reviewers if r.role == "coordinator"]


def _load_model(path: Path, model: type[BaseModel]) -> tuple[Any, dict]:
    data, lines = load_yaml(path, MAX_ROUND_FILE)
    if not isinstance(data, dict):
        raise RoundError("not a YAML mapping", file=path, line=1, expected=f"the fields of {model.__name__}")
    try:
        return model.model_validate(data), lines
    except pydantic.ValidationError as e:
        raise from_pydantic(e, RoundError, file=path, lines=lines) from None


def _load_scheme(rd: Path, rules: Rules) -> BenchmarkSets:
    """The round's benchmark scheme, checked against its pin in ``rules.yaml``."""
    pin = rules.benchmarks
    if not is_contained_relpath(pin.file):
        raise RoundError(f"scheme path '{pin.file}' leaves the round", file=rd / "rules.yaml", place="benchmarks.file",
                         expected="a path under the round folder")
    scheme = load_benchmark_sets(rd / pin.file)
    if scheme.sha256 != pin.sha256:
        # the full hash, so that an intended edit can be pinned (and amended) without another tool
        raise RoundError(f"benchmark scheme {scheme.sha256} does not match the rules' pin {pin.sha256[:12]}",
                         file=rd / pin.file, place="benchmarks",
                         expected="the frozen scheme (edited after freeze?), or for an intended change its hash "
                                  "as rules.yaml benchmarks.sha256 and 'workbench round amend'")
    return scheme


def _cross_check(rd: Path, rules: Rules, roster: Roster, teams: Teams, asg: Assignments, asg_lines: dict,
                 problems: list[RoundError]) -> dict[str, Rubric]:
    """The round's rubrics, checked against their pins (a mismatch raises at once: nothing else can be judged
    against the wrong rubric); every other cross-file problem is appended to ``problems``, so that one pass names
    them all (a coordinator once fixed seven problems in seven runs of freeze)."""
    rubrics: dict[str, Rubric] = {}
    for part in (p for p in PARTS if rules.uses(p)):
        pin = rules.rubrics[part]  # type: ignore[index]
        f = rd / pin.file
        if not is_contained_relpath(pin.file):
            raise RoundError(f"rubric path '{pin.file}' leaves the round", file=rd / "rules.yaml", place=f"rubrics.{part}.file",
                             expected="a path under the round folder")
        r = load_rubric(f)
        if r.part != part or r.sha256 != pin.sha256 or r.id != pin.id:
            raise RoundError(f"rubric {r.id} {r.sha256[:12]} does not match the rules' pin {pin.id} {pin.sha256[:12]}",
                             file=f, place=f"rubrics.{part}", expected="the frozen rubric (edited after freeze?)")
        if abs(r.total_points - rules.points[part]) > 1e-9:  # type: ignore[index]
            raise RoundError(f"rules give {part} {rules.points[part]:g} points but the rubric has {r.total_points:g}",  # type: ignore[index]
                             file=rd / "rules.yaml", place=f"points.{part}", expected="the rubric's total")
        rubrics[part] = r
    known = {c for r in rubrics.values() for c in r.ids()}
    for name, ids in (("indices.frontier", rules.indices.frontier), ("indices.diffusion", rules.indices.diffusion)):
        for cid in ids:
            if cid not in known:
                problems.append(RoundError(f"unknown criterion '{cid}'", file=rd / "rules.yaml", place=name,
                                           expected="a criterion id of a frozen rubric"))
    for i, g in enumerate(rules.gates):
        try:
            c = rubrics["expert"].criterion(g.criterion) if "expert" in rubrics else None
        except KeyError:
            c = None
        if c is None or not isinstance(c.scale, GateScale):
            problems.append(RoundError(f"'{g.criterion}' is not a gate of the expert rubric", file=rd / "rules.yaml",
                                       place=f"gates.{i}"))
    for i, th in enumerate(rules.thresholds):
        if th.criterion not in known:
            problems.append(RoundError(f"unknown criterion '{th.criterion}'", file=rd / "rules.yaml",
                                       place=f"thresholds.{i}", expected="a criterion id of a frozen rubric"))
    if rules.witnesses is not None:
        # a coordinator cosigning their own checkpoint would witness nothing
        coords = {key_id(e.key()): e.id for e in roster.reviewers if e.role == "coordinator" and e.public_key}
        for i, w in enumerate(rules.witnesses.keys):
            if key_id(w.key()) in coords:
                problems.append(RoundError(f"witness {w.name} has the key of coordinator {coords[key_id(w.key())]}",
                                           file=rd / "rules.yaml", place=f"witnesses.keys.{i}",
                                           expected="a key held by someone independent of the coordinators"))
    for e in roster.reviewers:
        part = RUBRIC_OF.get(e.role)
        if part is not None and part not in rubrics:
            problems.append(RoundError(f"{e.id} has role {e.role}, but the round has no {part} part",
                                       file=rd / "roster.yaml", place=f"reviewers.{e.id}.role",
                                       expected="a role of a part with points: "
                                       + ", ".join(r for r, p in RUBRIC_OF.items() if p in rubrics)))
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(asg.assignments):
        where = dict(file=rd / "assignments.yaml", line=line_for(asg_lines, ("assignments", i)), place=f"assignments.{i}")
        problem = eligibility(roster, teams, None, a.reviewer, a.team)
        if problem is not None:
            problems.append(RoundError(problem.message, **where, expected=problem.expected))
        elif (a.reviewer, a.team) in seen:
            problems.append(RoundError(f"{a.reviewer} x {a.team} assigned twice", **where))
        seen.add((a.reviewer, a.team))
    return rubrics


def all_problems(problems: Sequence[object], *, what: str | None = None, file: str | Path | None = None) -> RoundError:
    """One error for several problems (errors or :class:`~workbench.core.errors.Problem`), each on its own line; a
    single :class:`RoundError` with nothing to add is returned as it is."""
    if len(problems) == 1 and what is None and isinstance(problems[0], RoundError):
        return problems[0]
    lines = "\n".join(f"  {p}" for p in problems)
    head = f"cannot {what} until these {len(problems)} problem(s) are fixed" if what else f"{len(problems)} problems"
    return RoundError(f"{head}:\n{lines}", file=file)


def eligibility(roster: Roster, teams: Teams, assignments: Assignments | None, reviewer_id: str, team_id: str,
                role: str | None = None) -> IneligibleError | None:
    """Why ``reviewer_id`` may not score ``team_id`` (in ``role``, when given), or ``None`` when they may.

    The one rule for everyone (round loading, the reviewer notebook, collection, audit): the reviewer is an
    expert or user of the roster (of ``role``), the team is listed, (unless ``assignments`` is ``None``) the
    pair is assigned, and the reviewer declared no conflict of interest with the team.
    """
    entry = roster.get(reviewer_id)
    if entry is None or entry.role == "coordinator":
        return IneligibleError(f"'{reviewer_id}' is not an expert or user in the roster", reason="roster",
                               file="roster.yaml", place="reviewers", expected=f"an expert or user with id: {reviewer_id}")
    if role is not None and entry.role != role:
        return IneligibleError(f"reviewer '{reviewer_id}' has role '{entry.role}'", reason="role", file="roster.yaml",
                               place="reviewers", expected=role)
    if not any(t.id == team_id for t in teams.teams):
        return IneligibleError(f"team '{team_id}' is not in teams.yaml", reason="team", file="teams.yaml", place="teams",
                               expected=f"an entry with id: {team_id}")
    if assignments is not None and not any(a.reviewer == reviewer_id and a.team == team_id for a in assignments.assignments):
        return IneligibleError(f"{reviewer_id} is not assigned to {team_id}", reason="assignment", file="assignments.yaml",
                               place="assignments", expected="an assignment {reviewer, team}")
    if team_id in entry.coi:
        return IneligibleError(f"{reviewer_id} declared a conflict of interest with {team_id}", reason="coi",
                               file="roster.yaml", place=f"reviewers.{reviewer_id}.coi",
                               expected="no assignment where the reviewer declared a conflict")
    return None


def find_round(path: str | os.PathLike[str] = ".", start: str | Path | None = None) -> Path:
    """The round folder a notebook names with ``path`` (its ``round_dir`` parameter).

    An absolute ``path`` is the round (:func:`load_round` says if it is not one). A relative one is read from
    ``start`` (default: the current folder, where Jupyter starts a notebook's kernel: the notebook's own
    folder), and when that is no round, the nearest folder from ``start`` upwards that holds ``rules.yaml``
    is: papermill starts the kernel wherever it is run, often in the round itself. So a generated notebook
    names its round by a relative path and keeps working after the round folder moves.
    """
    p = Path(path)
    if p.is_absolute():
        return p
    here = Path(start) if start is not None else Path.cwd()
    if (here / p / "rules.yaml").is_file():
        return (here / p).resolve()
    for d in (here.resolve(), *here.resolve().parents):
        if (d / "rules.yaml").is_file():
            return d
    raise RoundError(f"no round folder at '{p}' from {here}, nor in a folder above it", file=here / p,
                     place="round_dir",
                     expected="the round folder (with rules.yaml), or a path to it from the notebook's folder")


def load_round(path: str | Path) -> Round:
    """Load and cross-check a round folder; :class:`RoundError` names the file, line and problem (every
    cross-file problem at once, one per line)."""
    r, problems = load_round_with_problems(path)
    if problems:
        raise all_problems(problems, file=path)
    return r


def load_round_with_problems(path: str | Path) -> tuple[Round, list[RoundError]]:
    """The round and its cross-file problems (assignments, roles, criteria the rules name), not raised.

    A file that does not load, or a rubric that does not match its pin, still raises: nothing else can be
    judged then. ``freeze`` uses this to report these problems and the readiness checks in one pass."""
    rd = Path(path)
    if not (rd / "rules.yaml").is_file():
        raise RoundError("not a round folder (no rules.yaml)", file=rd, expected="a folder made by 'workbench round init'")
    rules, _ = _load_model(rd / "rules.yaml", Rules)
    roster, _ = _load_model(rd / "roster.yaml", Roster)
    teams, _ = _load_model(rd / "teams.yaml", Teams)
    asg, asg_lines = _load_model(rd / "assignments.yaml", Assignments)
    problems: list[RoundError] = []
    rubrics = _cross_check(rd, rules, roster, teams, asg, asg_lines, problems)
    return Round(rd, rules, roster, teams, asg, rubrics, _load_scheme(rd, rules)), problems


ROUND_FILES: dict[str, type[Model]] = {"rules": Rules, "roster": Roster, "teams": Teams, "assignments": Assignments}


def load_round_file(path: str | Path, name: str) -> Model:
    """One of the round's files (``rules``, ``roster``, ``teams``, ``assignments``) alone, validated but not
    cross-checked with the others: what an audit compares when the whole round does not load."""
    return _load_model(Path(path) / f"{name}.yaml", ROUND_FILES[name])[0]


def round_from_state(path: str | Path, state: dict[str, Any], rubrics: dict[str, Rubric]) -> Round:
    """A round made of a signed state (:func:`round_state`'s data) instead of its files: the frozen round as it
    was signed, for an audit of a round whose files no longer load. ``rubrics`` must have the hashes the state
    pins; a part whose frozen content is not at hand is left out, so only checks that need no rubric of that
    part may use the result (:func:`round_state` and rubric checks need every part)."""
    rd = Path(path)
    parts: dict[str, Any] = {}
    for name, model in ROUND_FILES.items():
        try:
            parts[name] = model.model_validate(state.get(name))
        except pydantic.ValidationError as e:
            raise from_pydantic(e, RoundError, file=rd / f"{name}.yaml") from None
    pins = state.get("rubrics")
    for p, r in rubrics.items():
        if not isinstance(pins, dict) or r.sha256 != pins.get(p):
            raise RoundError(f"rubric {r.id} {r.sha256[:12]} is not the one the signed state pins for part {p}",
                             file=rd / "rubrics" / f"{p}.yaml", expected="the frozen rubric")
    try:
        scheme = BenchmarkSets.model_validate(state.get("benchmarks"))
    except pydantic.ValidationError as e:
        raise from_pydantic(e, RoundError, file=rd / "rubrics" / "benchmarks.yaml") from None
    return Round(rd, parts["rules"], parts["roster"], parts["teams"], parts["assignments"], dict(rubrics), scheme)


# ---------------------------------------------------------------- state, keys

def round_state(r: Round) -> dict[str, Any]:
    """The content that freeze signs: rules, roster, teams, assignments, rubric hashes and the benchmark scheme
    (its content, so that an amendment lists what changed in it)."""
    return {
        "rules": r.rules.model_dump(mode="json"),
        "roster": r.roster.model_dump(mode="json"),
        "teams": r.teams.model_dump(mode="json"),
        "assignments": r.assignments.model_dump(mode="json"),
        "rubrics": {p: r.rubrics[p].sha256 for p in PARTS if p in r.rubrics},
        "benchmarks": r.scheme.model_dump(mode="json"),
    }


def state_hash(state: dict[str, Any]) -> str:
    """SHA-256 of the state's canonical JSON."""
    return sha256_bytes(canonical_json(state))


def ledger_keys(r: Round) -> dict[str, Ed25519PublicKey]:
    """Actor id -> roster public key, for :func:`workbench.round.ledger.verify_chain`."""
    return {e.id: e.key() for e in r.roster.reviewers if e.public_key is not None}


def raw_key_b64(key: Ed25519PublicKey) -> str:
    """The key's raw 32 bytes in base64: the form the verify page and checkpoint lines use."""
    import base64

    from cryptography.hazmat.primitives import serialization

    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def pinned_keys(r: Round) -> dict[str, Any]:
    """What the round's first signed entry pins as its root of trust (``freeze``'s data): ``coordinators``, a
    list of ``{id, key_id, public_key}`` sorted by id (public_key: raw key, base64), and, when the rules list
    witnesses, ``witnesses``: ``{quorum, keys: [{name, key_id, public_key}]}``. The verify page reads them from
    the ledger copy instead of a file anyone can edit."""
    out: dict[str, Any] = {"coordinators": [
        {"id": c.id, "key_id": key_id(c.key()), "public_key": raw_key_b64(c.key())}
        for c in sorted((e for e in r.roster.reviewers if e.role == "coordinator"), key=lambda c: c.id)]}
    if r.rules.witnesses is not None:
        out["witnesses"] = {"quorum": r.rules.witnesses.quorum, "keys": [
            {"name": w.name, "key_id": key_id(w.key()), "public_key": raw_key_b64(w.key())}
            for w in r.rules.witnesses.keys]}
    return out


def require_coordinator(r: Round, actor: str, key: Ed25519PrivateKey) -> None:
    """Raise :class:`RoundError` unless ``actor`` is a roster coordinator and ``key`` is their roster key."""
    entry = r.roster.get(actor)
    if entry is None or entry.role != "coordinator":
        raise RoundError(f"'{actor}' is not a coordinator in the roster", file=r.path / "roster.yaml")
    if key_id(entry.key()) != key_id(key.public_key()):
        raise RoundError(f"the key given is not {actor}'s roster key", file=r.path / "roster.yaml", place=actor,
                         expected=f"the private key of {key_id(entry.key())[:16]}")
