"""A round: a folder of plain files with frozen, signed rules and every change recorded in the ledger.

Files (see docs/coordinator-guide.md): ``rules.yaml``, ``rubrics/<part>.yaml``, ``roster.yaml``,
``teams.yaml``, ``assignments.yaml``, ``ledger.jsonl``, ``frozen/v<N>.dsse.json``.

The *state* of a round is the validated content of rules, roster, teams and assignments plus the rubric
hashes. :func:`freeze` signs the state with the coordinator's key, writes it as ``frozen/v1.dsse.json``
and records its hash in the ledger. After that any change needs :func:`amend` with a reason: it writes
the next signed version, and the ledger entry lists every changed value and whether the change came after
the first sheet was submitted. :func:`check_frozen` refuses a round whose files no longer match the last
signed state (a hand edit). Comparisons use the parsed content, so reformatting or comments never count.

Public API: :class:`Rules`, :class:`Roster`, :class:`Teams`, :class:`Assignments` (and parts),
:class:`Round`, :func:`init_round`, :func:`load_round`, :func:`round_state`, :func:`state_hash`,
:func:`diff_states`, :func:`freeze`, :func:`amend`, :func:`check_frozen`, :func:`status`,
:func:`ledger_keys`, :func:`require_coordinator`, :func:`signed_state`, :data:`PARTS`, :data:`EVIDENCE_KEYS`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import ledger
from .errors import KeyFileError, RoundError, WorkbenchError
from .files import (
    atomic_write_bytes,
    atomic_write_text,
    canonical_json,
    is_contained_relpath,
    line_for,
    load_yaml,
    parse_json,
    read_bounded,
    sha256_bytes,
)
from .rubric import GateScale, Rubric, load_rubric
from .signing import (
    RULES_TYPE,
    envelope_bytes,
    key_id,
    public_key_from_pem,
    public_key_pem,
    sign_payload,
    verify_envelope,
)

__all__ = [
    "EVIDENCE_KEYS",
    "PARTS",
    "Assignment",
    "Assignments",
    "GateRule",
    "Roster",
    "RosterEntry",
    "Round",
    "Rules",
    "Team",
    "Teams",
    "amend",
    "check_frozen",
    "diff_states",
    "freeze",
    "init_round",
    "ledger_keys",
    "load_round",
    "require_coordinator",
    "round_state",
    "signed_state",
    "state_hash",
    "status",
]

PARTS = ("benchmark", "expert", "user")
MAX_ROUND_FILE = 4 * 1024 * 1024
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Part = Literal["benchmark", "expert", "user"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ---------------------------------------------------------------- rules

class RubricPin(_Model):
    """A frozen rubric copy: its file under the round and the content hash it must have."""

    file: str
    id: str
    version: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Aggregation(_Model):
    """How panels become points. ``trimmed_mean`` drops the ``trim`` highest and lowest reviewer totals."""

    expert: Literal["trimmed_mean", "mean", "median"] = "trimmed_mean"
    trim: Annotated[int, Field(ge=0, le=5)] = 1
    user: Literal["survey_mean"] = "survey_mean"
    min_reviewers: Annotated[int, Field(ge=1)] = 3
    outlier_z: Annotated[float, Field(gt=0)] = 3.5


class GateRule(_Model):
    """A gate criterion of the expert rubric: a team is excluded when the rule holds for an excluding verdict."""

    criterion: str
    rule: Literal["majority"] = "majority"


class DecisionRule(_Model):
    id: Id
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class Indices(_Model):
    """Criteria (ids from any rubric) behind the two composite views, each shown on 0..100."""

    frontier: Annotated[list[str], Field(min_length=1)]
    diffusion: Annotated[list[str], Field(min_length=1)]


class Rules(_Model):
    """``rules.yaml``: everything that decides a result, frozen before anyone scores."""

    round_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    stage: Annotated[int, Field(ge=1)]
    title: str = ""
    rubrics: dict[Part, RubricPin]
    points: dict[Part, Annotated[float, Field(ge=0)]]
    aggregation: Aggregation = Aggregation()
    cut: Annotated[int, Field(ge=0)]
    tie_break: list[Literal["expert", "benchmark", "user"]] = ["expert", "benchmark", "user"]
    gates: list[GateRule] = Field(default_factory=list)
    decision_rules: list[DecisionRule] = Field(default_factory=list)
    indices: Indices

    @model_validator(mode="after")
    def _parts(self) -> Rules:
        for name, d in (("rubrics", self.rubrics), ("points", self.points)):
            if set(d) != set(PARTS):
                raise ValueError(f"{name} must name exactly {', '.join(PARTS)}")
        return self


# ---------------------------------------------------------------- roster, teams, assignments

class RosterEntry(_Model):
    id: Id
    role: Literal["expert", "user", "coordinator"]
    name: str = ""
    public_key: Annotated[str, Field(min_length=1, max_length=4000)]
    coi: list[Id] = Field(default_factory=list)

    @field_validator("public_key")
    @classmethod
    def _pem(cls, v: str) -> str:
        try:
            public_key_from_pem(v)
        except KeyFileError as e:
            raise ValueError(e.message) from None
        return v

    def key(self) -> Ed25519PublicKey:
        return public_key_from_pem(self.public_key)


class Roster(_Model):
    reviewers: list[RosterEntry]

    @model_validator(mode="after")
    def _unique(self) -> Roster:
        ids = [r.id for r in self.reviewers]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate reviewer ids: {', '.join(dup)}")
        if not any(r.role == "coordinator" for r in self.reviewers):
            raise ValueError("the roster needs at least one coordinator")
        return self

    def get(self, rid: str) -> RosterEntry | None:
        return next((r for r in self.reviewers if r.id == rid), None)


# The evidence a team may submit (``teams.yaml`` ``evidence:``): key -> what the file is. Paths are relative
# to ``evidence/<team>/``; see docs/coordinator-guide.md, "Evidence files", and workbench.dossier.
EVIDENCE_KEYS: dict[str, str] = {
    "benchmark_results": "lm-evaluation-harness results JSON, or the tidy results CSV",
    "model_card": "model-card cost data (YAML or JSON): model, active/total parameters, inference cost",
    "training_log": "loss curve, CSV or JSONL (step, tokens, loss, ...)",
    "tokenizer": "tokenizer.json (or vocab.json with merges.txt beside it)",
    "config": "the model's config.json",
    "licences": "licence and transparency manifest (YAML)",
    "weights": "a weight fingerprint file (workbench fingerprint) or a model folder of safetensors",
    "technical_report": "the technical report (read by the experts; hashed, not parsed)",
}


def _relative_path(v: str) -> str:
    if not is_contained_relpath(v):
        raise ValueError(f"path '{v}' must be relative, with '/' separators and no '..'")
    return v


class Team(_Model):
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
        unknown = sorted(set(v) - set(EVIDENCE_KEYS))
        if unknown:
            raise ValueError(f"unknown evidence key(s) {', '.join(unknown)}; expected some of {', '.join(EVIDENCE_KEYS)}")
        for path in v.values():
            _relative_path(path)
        return v


class Teams(_Model):
    teams: list[Team]

    @model_validator(mode="after")
    def _unique(self) -> Teams:
        ids = [t.id for t in self.teams]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate team ids: {', '.join(dup)}")
        return self


class Assignment(_Model):
    reviewer: Id
    team: Id


class Assignments(_Model):
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

    @property
    def ledger_path(self) -> Path:
        return self.path / "ledger.jsonl"

    def team(self, tid: str) -> Team | None:
        return next((t for t in self.teams.teams if t.id == tid), None)

    def coordinators(self) -> list[RosterEntry]:
        return [r for r in self.roster.reviewers if r.role == "coordinator"]


def _load_model(path: Path, model: type[BaseModel]) -> tuple[Any, dict]:
    data, lines = load_yaml(path, MAX_ROUND_FILE)
    if not isinstance(data, dict):
        raise RoundError("not a YAML mapping", file=path, line=1, expected=f"the fields of {model.__name__}")
    try:
        return model.model_validate(data), lines
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise RoundError(err["msg"][0].lower() + err["msg"][1:] + more, file=path, line=line_for(lines, loc),
                         place=".".join(map(str, loc)) or None) from None


def _cross_check(rd: Path, rules: Rules, roster: Roster, teams: Teams, asg: Assignments, asg_lines: dict) -> dict[str, Rubric]:
    rubrics: dict[str, Rubric] = {}
    for part in PARTS:
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
                raise RoundError(f"unknown criterion '{cid}'", file=rd / "rules.yaml", place=name, expected="a criterion id of a frozen rubric")
    for i, g in enumerate(rules.gates):
        try:
            c = rubrics["expert"].criterion(g.criterion)
        except KeyError:
            c = None
        if c is None or not isinstance(c.scale, GateScale):
            raise RoundError(f"'{g.criterion}' is not a gate of the expert rubric", file=rd / "rules.yaml", place=f"gates.{i}")
    team_ids = {t.id for t in teams.teams}
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(asg.assignments):
        where = dict(file=rd / "assignments.yaml", line=line_for(asg_lines, ("assignments", i)), place=f"assignments.{i}")
        r = roster.get(a.reviewer)
        if r is None or r.role == "coordinator":
            raise RoundError(f"reviewer '{a.reviewer}' is not an expert or user in the roster", **where)
        if a.team not in team_ids:
            raise RoundError(f"team '{a.team}' is not in teams.yaml", **where)
        if a.team in r.coi:
            raise RoundError(f"{a.reviewer} declared a conflict of interest with {a.team}", **where,
                             expected="no assignment where the reviewer declared a conflict")
        if (a.reviewer, a.team) in seen:
            raise RoundError(f"{a.reviewer} x {a.team} assigned twice", **where)
        seen.add((a.reviewer, a.team))
    return rubrics


def load_round(path: str | Path) -> Round:
    """Load and cross-check a round folder; :class:`RoundError` names the file, line and problem."""
    rd = Path(path)
    if not (rd / "rules.yaml").is_file():
        raise RoundError("not a round folder (no rules.yaml)", file=rd, expected="a folder made by 'workbench round init'")
    rules, _ = _load_model(rd / "rules.yaml", Rules)
    roster, _ = _load_model(rd / "roster.yaml", Roster)
    teams, _ = _load_model(rd / "teams.yaml", Teams)
    asg, asg_lines = _load_model(rd / "assignments.yaml", Assignments)
    rubrics = _cross_check(rd, rules, roster, teams, asg, asg_lines)
    return Round(rd, rules, roster, teams, asg, rubrics)


# ---------------------------------------------------------------- init

def default_rules(round_id: str, stage: int, rubrics: dict[str, Rubric]) -> dict[str, Any]:
    """Stage-1 style rules for the given rubrics (the coordinator edits them before freezing)."""
    gate_ids = [c.id for _, c in rubrics["expert"].criteria() if isinstance(c.scale, GateScale)]
    have = {c for r in rubrics.values() for c in r.ids()}
    frontier = [c for c in ("bench.nia", "bench.common", "bench.individual", "expert.strategy.performance") if c in have]
    diffusion = [c for c in ("expert.diffusion.applicability", "expert.diffusion.cost_efficiency",
                             "expert.diffusion.ecosystem", "user.applicability", "user.cost_efficiency") if c in have]
    return {
        "round_id": round_id,
        "stage": stage,
        "title": f"Stage {stage} evaluation",
        "rubrics": {p: {"file": f"rubrics/{p}.yaml", **rubrics[p].ref} for p in PARTS},
        "points": {p: rubrics[p].total_points for p in PARTS},
        "aggregation": Aggregation().model_dump(),
        "cut": 4,
        "tie_break": ["expert", "benchmark", "user"],
        "gates": [{"criterion": g, "rule": "majority"} for g in gate_ids],
        "decision_rules": [],
        "indices": {"frontier": frontier or sorted(have)[:1], "diffusion": diffusion or sorted(have)[:1]},
    }


def _dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=110)


def init_round(
    path: str | Path,
    *,
    round_id: str,
    stage: int,
    rubrics_dir: str | Path,
    coordinator_id: str,
    coordinator_key: Ed25519PublicKey,
    rules_overrides: dict[str, Any] | None = None,
) -> Round:
    """Create a round folder: rubric copies, default rules, a roster holding the coordinator, no teams.

    A new stage is a new round: nothing is carried over from an earlier one.
    """
    rd = Path(path)
    if (rd / "rules.yaml").exists():
        raise RoundError("round folder exists already", file=rd / "rules.yaml", expected="a new folder (a new stage is a new round)")
    rubrics: dict[str, Rubric] = {}
    for p in PARTS:
        src = Path(rubrics_dir) / f"{p}.yaml"
        rubrics[p] = load_rubric(src)
        (rd / "rubrics").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, rd / "rubrics" / f"{p}.yaml")
    rules = {**default_rules(round_id, stage, rubrics), **(rules_overrides or {})}
    roster = {"reviewers": [{"id": coordinator_id, "role": "coordinator", "name": "", "coi": [],
                             "public_key": public_key_pem(coordinator_key)}]}
    atomic_write_text(rd / "rules.yaml", _dump_yaml(rules))
    atomic_write_text(rd / "roster.yaml", _dump_yaml(roster))
    atomic_write_text(rd / "teams.yaml", _dump_yaml({"teams": []}))
    atomic_write_text(rd / "assignments.yaml", _dump_yaml({"assignments": []}))
    for d in ("evidence", "answers", "sheets"):
        (rd / d).mkdir(exist_ok=True)
    return load_round(rd)


# ---------------------------------------------------------------- state, freeze, amend

def round_state(r: Round) -> dict[str, Any]:
    """The content that freeze signs: rules, roster, teams, assignments and rubric hashes (JSON data)."""
    return {
        "rules": r.rules.model_dump(mode="json"),
        "roster": r.roster.model_dump(mode="json"),
        "teams": r.teams.model_dump(mode="json"),
        "assignments": r.assignments.model_dump(mode="json"),
        "rubrics": {p: r.rubrics[p].sha256 for p in PARTS},
    }


def state_hash(state: dict[str, Any]) -> str:
    """SHA-256 of the state's canonical JSON."""
    return sha256_bytes(canonical_json(state))


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for k in sorted(obj):
            _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) and ("id" in x or {"reviewer", "team"} <= set(x)) for x in obj):
        # lists of records are keyed by id so that inserting one shows as one addition, not a shift
        for x in obj:
            key = x["id"] if "id" in x else f"{x['reviewer']}:{x['team']}"
            _flatten({k: v for k, v in x.items() if k != "id"} if "id" in x else True, f"{prefix}[{key}]", out)
    else:
        out[prefix] = obj


def diff_states(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every changed value between two states: ``{path, old, new}`` (``None`` for added/removed), sorted by path."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old, "", a)
    _flatten(new, "", b)
    out = [{"path": k, "old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out


def ledger_keys(r: Round) -> dict[str, Ed25519PublicKey]:
    """Actor id -> roster public key, for :func:`workbench.ledger.verify_chain`."""
    return {e.id: e.key() for e in r.roster.reviewers}


def require_coordinator(r: Round, actor: str, key: Ed25519PrivateKey) -> None:
    """Raise :class:`RoundError` unless ``actor`` is a roster coordinator and ``key`` is their roster key."""
    entry = r.roster.get(actor)
    if entry is None or entry.role != "coordinator":
        raise RoundError(f"'{actor}' is not a coordinator in the roster", file=r.path / "roster.yaml")
    if key_id(entry.key()) != key_id(key.public_key()):
        raise RoundError(f"the key given is not {actor}'s roster key", file=r.path / "roster.yaml", place=actor,
                         expected=f"the private key of {key_id(entry.key())[:16]}")


def _versions(r: Round) -> list[ledger.Entry]:
    return [e for e in ledger.read_entries(r.ledger_path) if e.type in ("freeze", "amend")]


def _write_version(r: Round, n: int, state: dict[str, Any], key: Ed25519PrivateKey) -> Path:
    env = sign_payload(canonical_json(state), RULES_TYPE, key)
    return atomic_write_bytes(r.path / "frozen" / f"v{n}.dsse.json", envelope_bytes(env), overwrite=False)


def freeze(path: str | Path, key: Ed25519PrivateKey, actor: str) -> ledger.Entry:
    """Sign the round's state as version 1 and record it in the ledger (once per round)."""
    r = load_round(path)
    require_coordinator(r, actor, key)
    if _versions(r):
        raise RoundError("round is frozen already", file=r.ledger_path, expected="'workbench round amend --reason ...' for a change")
    state = round_state(r)
    _write_version(r, 1, state, key)
    return ledger.append(r.ledger_path, actor=actor, key=key, type="freeze", payload_sha256=state_hash(state),
                         data={"version": 1, "round_id": r.rules.round_id, "file": "frozen/v1.dsse.json"})


def signed_state(r: Round, version: int) -> dict[str, Any]:
    """The signed state of ``version``, verified against the roster's coordinator keys and the ledger."""
    f = r.path / "frozen" / f"v{version}.dsse.json"
    data = read_bounded(f)
    # an edited ledger may hold any JSON as a version: only numbers can name one (no TypeError on a dict)
    entries = {v: e for e in _versions(r) if isinstance(v := e.data.get("version"), int)}
    entry = entries.get(version)
    if entry is None:
        raise RoundError(f"version {version} is not in the ledger", file=f)
    keys = ledger_keys(r)
    if entry.actor not in keys:
        raise RoundError(f"version {version} was signed by '{entry.actor}', who is not in the roster", file=f)
    payload = verify_envelope(data, keys[entry.actor], RULES_TYPE, str(f))
    if sha256_bytes(payload) != entry.payload_sha256:
        raise RoundError(f"version {version} does not match its ledger hash", file=f)
    return parse_json(payload, str(f))


def amend(path: str | Path, key: Ed25519PrivateKey, actor: str, reason: str) -> ledger.Entry:
    """Record the edited files as the next signed version, with the reason and every changed value."""
    if not reason.strip():
        raise RoundError("an amendment needs a reason", expected="--reason 'why the rules change'")
    r = load_round(path)
    require_coordinator(r, actor, key)
    versions = _versions(r)
    if not versions:
        raise RoundError("round is not frozen yet", file=r.ledger_path, expected="'workbench round freeze' first")
    last = versions[-1].data["version"]
    old = signed_state(r, last)
    new = round_state(r)
    changes = diff_states(old, new)
    if not changes:
        raise RoundError("nothing changed since the last frozen version", file=r.path / "rules.yaml",
                         expected="edit rules/roster/teams/assignments first, then amend")
    after = any(e.type == "submit" for e in ledger.read_entries(r.ledger_path))
    _write_version(r, last + 1, new, key)
    return ledger.append(r.ledger_path, actor=actor, key=key, type="amend", payload_sha256=state_hash(new),
                         data={"version": last + 1, "reason": reason.strip(), "changes": changes,
                               "after_first_submission": after, "file": f"frozen/v{last + 1}.dsse.json"})


def check_frozen(r: Round) -> int:
    """The current frozen version; :class:`RoundError` if not frozen or if files differ from it (hand edit)."""
    versions = _versions(r)
    if not versions:
        raise RoundError("round is not frozen", file=r.path / "rules.yaml", expected="'workbench round freeze' before scoring")
    ledger.verify_chain(r.ledger_path, ledger_keys(r))
    last = versions[-1]
    cur = state_hash(round_state(r))
    if cur != last.payload_sha256:
        changed = sorted({c["path"].split(".")[0].split("[")[0] for c in diff_states(signed_state(r, last.data["version"]), round_state(r))})
        raise RoundError(f"round files changed after version {last.data['version']} was frozen: {', '.join(changed)}",
                         file=r.path, expected="the frozen files, or 'workbench round amend --reason ...'")
    return int(last.data["version"])


def status(path: str | Path) -> dict[str, Any]:
    """A JSON-able summary: frozen version, amendments, drift, ledger check, batch and sheet counts."""
    r = load_round(path)
    out: dict[str, Any] = {"round_id": r.rules.round_id, "stage": r.rules.stage, "teams": len(r.teams.teams),
                           "reviewers": len(r.roster.reviewers), "assignments": len(r.assignments.assignments)}
    try:
        out["frozen_version"] = check_frozen(r)
        out["problem"] = None
    except WorkbenchError as e:
        out["frozen_version"] = None
        out["problem"] = str(e)
    entries = ledger.read_entries(r.ledger_path)
    out["ledger_entries"] = len(entries)
    out["amendments"] = [
        {"seq": e.seq, "time": e.time, "version": e.data.get("version"), "reason": e.data.get("reason"),
         "after_first_submission": e.data.get("after_first_submission"), "changes": e.data.get("changes", [])}
        for e in entries if e.type == "amend"
    ]
    counts: dict[str, int] = {}
    for f in sorted((r.path / "notebooks").glob("*/*.status.json")):
        try:
            state = parse_json(read_bounded(f, 1 << 20), str(f)).get("state", "?")
        except WorkbenchError:
            state = "unreadable"
        counts[state] = counts.get(state, 0) + 1
    out["notebooks"] = dict(sorted(counts.items()))
    out["sheets"] = len(list((r.path / "sheets").glob("*/*.dsse.json")))
    decisions = [e.data.get("decision") for e in entries if e.type == "collect"]
    out["collected"] = {"accepted": decisions.count("accepted"), "rejected": decisions.count("rejected")}
    return out
