"""Panel aggregation: from accepted sheets and computed points to totals, reliability, gates and a ranking.

The arithmetic is pure and lives in :mod:`workbench.publish.stats` (trimmed means, ICC(2,k), Krippendorff's
alpha, outliers, gate decisions, ranks, composite indices).

:func:`aggregate_round` applies it to a frozen, collected round. Benchmark points come from each team's
:class:`~workbench.evidence.dossier.Dossier` (:func:`benchmark_points`), user points from the survey and the vote
strengths from the votes, both from the signed inputs the rules name (:func:`user_points`, via
:mod:`workbench.round.userdata` and :mod:`workbench.evidence.users`); the dossiers, the
user evidence and the cost efficiency travel with the result for the report.

The result leaves the process as :class:`ReportData` (:meth:`Aggregate.report_data`): a versioned,
frozen model of every table and the evidence behind them, at full precision. The report signs exactly its
JSON form (:class:`SignedReport` adds the hashes of the published files) and the audit recomputes it.

Public API: :class:`Aggregate`, :class:`ReportData` and its rows, :class:`SignedReport`,
:class:`UserPoints`, :func:`benchmark_points`, :func:`user_points`, :func:`aggregate_round`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..core.base import require_safe_text
from ..core.errors import EvidenceError, RoundError
from ..core.files import canonical_json, sha256_bytes, sha256_file
from ..core.findings import Finding
from ..core.versions import problem_line_v2, schema_name
from ..evidence.cost import CostEfficiency, cost_efficiency
from ..evidence.dossier import Dossier, build_dossier
from ..evidence.users import BradleyTerry, SurveyPoints, bradley_terry, survey_points
from ..model.round import PANEL_ROLES, PARTS, Round, require_coordinator
from ..model.rubric import AnchoredScale, ComputedScale, GateScale, Rubric
from ..model.sheet import ScoreSheet, sheet_filename
from ..round import authority, ledger
from ..round.authority import Exclusion
from ..round.collect import CollectResult, SheetDecision, accepted_sheets
from ..round.lifecycle import check_frozen, signed_state
from ..round.userdata import UserSource, user_inputs
from ..run.refresh import StaleSheet, stale_sheets
from .stats import (
    composite_index,
    gate_decisions,
    icc2k,
    kripp_alpha,
    panel_score,
    rank_teams,
    reviewer_outliers,
)

__all__ = [
    "REPORT_SCHEMA",
    "Acknowledgement",
    "Aggregate",
    "GateRow",
    "OutlierRow",
    "ReliabilityRow",
    "ReportData",
    "ScoreRow",
    "SignedReport",
    "UnusedSheet",
    "VoteRow",
    "acknowledge",
    "aggregate_round",
    "benchmark_points",
    "point_problems",
    "user_points",
    "UserPoints",
]


# ---------------------------------------------------------------- inputs: evidence and user data

def benchmark_points(r: Round, dossiers: Mapping[str, Dossier]) -> dict[str, dict[str, float]]:
    """Team -> {computed criterion of the benchmark rubric -> points}, from each team's dossier.

    A criterion the dossier could not compute (no results submitted, or a result file with a problem)
    scores 0; the dossier's ``problems`` say why, and the report shows them.
    """
    want = [c.id for _, c in r.rubrics["benchmark"].criteria() if isinstance(c.scale, ComputedScale)]
    return {t.id: {cid: float(dossiers[t.id].points[cid].points) if cid in dossiers[t.id].points else 0.0
                   for cid in sorted(want)}
            for t in r.teams.teams}


@dataclass(frozen=True)
class UserPoints:
    """User points per team and item, the survey evidence behind them, and the vote strengths shown beside."""

    points: dict[str, dict[str, float]]
    survey: SurveyPoints
    strengths: BradleyTerry | None
    flags: tuple[Finding, ...] = ()  # codes users_no_answers, votes_not_fitted
    source: UserSource | None = None
    unanswered: tuple[str, ...] = ()  # teams without any user answer (scored 0)

    def votes_table(self, teams: Sequence[str]) -> pd.DataFrame:
        """One row per team: votes, Bradley-Terry strength and its interval (None without votes)."""
        by = {s.model: s for s in (self.strengths.strengths if self.strengths else ())}
        return pd.DataFrame([{"team": t, "votes": by[t].votes if t in by else 0,
                              "bt_strength": _r(by[t].strength) if t in by else None,
                              "bt_low": _r(by[t].ci_low) if t in by else None,
                              "bt_high": _r(by[t].ci_high) if t in by else None} for t in sorted(teams)],
                            columns=["team", "votes", "bt_strength", "bt_low", "bt_high"])

    def to_summary(self) -> dict[str, Any]:
        """JSON-able: where the inputs came from, survey points and agreement, strengths, flags."""
        return {"source": self.source.model_dump(mode="json") if self.source else None, "survey": self.survey.to_summary(),
                "strengths": self.strengths.to_summary() if self.strengths else None,
                "flags": [f.model_dump(mode="json") for f in self.flags]}


def user_points(r: Round, sheets: Mapping[tuple[str, str], ScoreSheet], *, seed: int = 0) -> UserPoints:
    """User points from the signed user inputs the rules name (:func:`workbench.round.userdata.user_inputs`: the
    accepted user sheets, or a ledgered import) and Bradley-Terry strengths from the votes among them.

    Survey answers are scored by :mod:`workbench.evidence.users` with the user rubric's points per item and
    level fractions (``P_j x mean fraction``), seeded bootstrap intervals and Krippendorff's alpha per item.
    Votes give strengths with intervals, shown next to the points; they do not change them. Votes that
    cannot be fitted (a team that never lost or never won) are flagged, not fitted. A team without answers
    scores 0 and is flagged.
    """
    rubric = r.rubrics["user"]
    items = {c.id: c for _, c in rubric.criteria() if isinstance(c.scale, AnchoredScale)}
    teams = {t.id for t in r.teams.teams}
    inputs = user_inputs(r, sheets)
    scored = survey_points(inputs.survey, {i: c.points for i, c in items.items()},
                           {i: {lv.value: lv.fraction for lv in c.scale.levels} for i, c in items.items()},  # type: ignore[union-attr]
                           seed=seed)
    by_team = {t.team: t for t in scored.teams}
    unanswered = tuple(sorted(teams - set(by_team)))
    flags = [Finding(code="users_no_answers", params={"team": t}) for t in unanswered]
    points = {t: ({row.item: row.points for row in by_team[t].items} if t in by_team else dict.fromkeys(sorted(items), 0.0))
              for t in sorted(teams)}
    strengths = None
    if inputs.votes is not None:
        try:
            strengths = bradley_terry(inputs.votes, seed=seed)
        except EvidenceError as e:
            flags.append(Finding(code="votes_not_fitted", params={"problem": e.problem().model_dump(mode="json")}))
    return UserPoints(points=points, survey=scored, strengths=strengths, flags=tuple(flags), source=inputs.source,
                      unanswered=unanswered)


# ---------------------------------------------------------------- the report's data

REPORT_SCHEMA = schema_name("report")  # workbench.report/3; /2 reports are read by workbench.core.versions


def _plain(v: Any) -> Any:
    """A pandas cell as JSON data: missing (NaN, NA, NaT) -> None, numpy scalars -> Python ones."""
    if isinstance(v, list | dict | tuple):
        return v
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float | np.floating) and math.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


class _Data(BaseModel):
    # the report's format is named by its "schema" field (the convention of workbench.core.versions) in every dump
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True,
                              serialize_by_alias=True)


class _Row(_Data):
    """A row of one of the aggregate's tables (built from a DataFrame record)."""

    @model_validator(mode="before")
    @classmethod
    def _from_pandas(cls, data: Any) -> Any:
        return {k: _plain(v) for k, v in data.items()} if isinstance(data, Mapping) else data

    @classmethod
    def rows(cls, df: pd.DataFrame) -> list[Any]:
        return [cls.model_validate(rec) for rec in df.to_dict(orient="records")]


class ScoreRow(_Row):
    """One team: points per part, indices, status and rank, and its vote strength (shown, not scored)."""

    team: str
    name: str
    benchmark: float
    expert: float
    user: float
    total: float
    n_expert_sheets: int
    frontier_index: float
    diffusion_index: float
    joined_by_amendment: bool
    status: str  # a code (status_<code> in the catalogue): ranked, advances, eliminated, tie, excluded, ...
    status_params: dict[str, Any] = Field(default_factory=dict)  # the values its wording uses
    rank: int | None
    votes: int
    bt_strength: float | None
    bt_low: float | None
    bt_high: float | None


class ReliabilityRow(_Row):
    """One expert criterion: ICC(2,k), Krippendorff's alpha and the mean range of points across reviewers."""

    criterion: str
    max_points: float
    n_teams: int
    n_reviewers: int
    icc2k: float | None
    alpha: float | None
    mean_range: float | None


class OutlierRow(_Row):
    """A reviewer total flagged as an outlier of its team's panel (shown only)."""

    reviewer: str
    team: str
    total: float
    z: float
    outlier: bool


class Justification(_Data):
    """A reviewer's verdict on a gate and their own words for it (shown as written)."""

    reviewer: str
    verdict: str
    comment: str


class GateRow(_Row):
    """One (team, gate criterion): the rule, verdict counts, the excluding ones, the justifications, whether the
    gate excludes the team."""

    team: str
    criterion: str
    rule: str
    n: int
    counts: dict[str, int]
    excluding: int
    justifications: list[Justification | str]  # text: as reports before workbench.report/3 signed it
    excluded: bool


class VoteRow(_Row):
    """One team's pairwise votes and Bradley-Terry strength with its interval (None without votes)."""

    team: str
    votes: int
    bt_strength: float | None
    bt_low: float | None
    bt_high: float | None


class UnusedSheet(SheetDecision):
    """A collected sheet version the results do not use (rejected, superseded or withdrawn by a later one)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Acknowledgement(_Data):
    """The coordinator's reasoned, ledgered acceptance of the problems a report is signed with."""

    seq: int
    time: str
    actor: str
    reason: str
    problems: list[Finding | str]  # text: a report signed before codes (workbench.report/2), read as signed


class ReportData(_Data):
    """What the report publishes and signs: every table of the aggregate and the evidence behind it.

    ``evidence`` holds each team's :meth:`~workbench.evidence.dossier.Dossier.summary`, ``users`` and
    ``cost_efficiency`` the user evidence's and the cost chart's summaries, ``rules`` the frozen rules,
    ``problems`` what changes points and could not be computed as the rules intend (see :func:`point_problems`)
    and ``acknowledged`` the coordinator's acknowledgement of exactly those problems (None when there are none).
    """

    schema_: Literal["workbench.report/3"] = Field(REPORT_SCHEMA, alias="schema")
    round_id: str
    frozen_version: int
    rules: dict[str, Any]
    scores: list[ScoreRow]
    reliability: list[ReliabilityRow]
    outliers: list[OutlierRow]
    gates: list[GateRow]
    votes: list[VoteRow]
    evidence: dict[str, dict[str, Any]]
    users: dict[str, Any] | None
    cost_efficiency: dict[str, Any] | None
    unused_sheets: list[UnusedSheet]
    amendments: list[dict[str, Any]]
    problems: list[Finding | str]  # text: as above
    acknowledged: Acknowledgement | None
    # accepted sheets taken out afterwards (withdrawn by their reviewer, excluded by a coordinator): who and why
    exclusions: list[Exclusion] = Field(default_factory=list)


class SignedReport(ReportData):
    """The payload of ``report/report.dsse.json``: the report's data, the sha256 of each published file, and
    the checkpoint it was made under: the ledger's size and head hash when it was signed (so a history
    rewritten before the report no longer matches the report, see :mod:`workbench.round.checkpoint`)."""

    files: dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]]
    ledger_size: Annotated[int, Field(ge=0)]
    ledger_head: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


# ---------------------------------------------------------------- the round

@dataclass
class Aggregate:
    """Everything the report shows: tables (pandas) and the evidence behind the computed points; the data that is
    published and signed is :meth:`report_data`."""

    round_id: str
    frozen_version: int
    scores: pd.DataFrame            # one row per team
    criteria: pd.DataFrame          # one row per (team, reviewer, expert criterion): points
    reliability: pd.DataFrame       # one row per expert criterion: ICC(2,k), alpha, spread
    outliers: pd.DataFrame
    gates: pd.DataFrame
    votes: pd.DataFrame             # one row per team: votes, Bradley-Terry strength and interval
    dossiers: dict[str, Dossier] = field(default_factory=dict)
    users: UserPoints | None = None
    cost: CostEfficiency | None = None
    unused: list[CollectResult] = field(default_factory=list)
    amendments: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, Any] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)
    acknowledged: Acknowledgement | None = None
    exclusions: list[Exclusion] = field(default_factory=list)

    def report_data(self) -> ReportData:
        """The published data (what the signed report carries; outliers: the flagged rows only)."""
        return ReportData(
            round_id=self.round_id,
            frozen_version=self.frozen_version,
            rules=self.rules,
            scores=ScoreRow.rows(self.scores),
            reliability=ReliabilityRow.rows(self.reliability),
            outliers=OutlierRow.rows(self.outliers[self.outliers["outlier"]]),
            gates=GateRow.rows(self.gates),
            votes=VoteRow.rows(self.votes),
            evidence={t: d.summary() for t, d in sorted(self.dossiers.items())},
            users=self.users.to_summary() if self.users else None,
            cost_efficiency=self.cost.to_summary() if self.cost else None,
            unused_sheets=[UnusedSheet.model_validate(u.model_dump(exclude={"new"})) for u in self.unused],
            amendments=self.amendments,
            problems=self.problems,
            acknowledged=self.acknowledged,
            exclusions=self.exclusions,
        )


def _points_of(sheet: ScoreSheet, rubric: Rubric) -> dict[str, float]:
    out = {}
    for _, c in rubric.criteria():
        j = sheet.judgments.get(c.id)
        if isinstance(c.scale, AnchoredScale) and j is not None and j.level is not None:
            out[c.id] = c.points * c.level(j.level).fraction  # type: ignore[union-attr]
    return out


def point_problems(r: Round, dossiers: Mapping[str, Dossier], user: UserPoints | None,
                   stale: Sequence[StaleSheet] = ()) -> list[Finding]:
    """Every problem that changes a team's points from what the rules intend, as codes with parameters
    (``problem_*`` of the catalogue), sorted by their English line (the order reports always had).

    Benchmark part (when it has points): a team that submitted no results, and each of its dossier's
    :attr:`~workbench.evidence.dossier.Dossier.point_problems` (an unreadable or partial results file, a missing
    benchmark, a ``--limit`` run, a criterion that could not be computed), with the criteria it changes. User part (when it has points): a team without any user answer. Any part: an
    accepted sheet made from inputs that changed since (``stale``, see :mod:`workbench.run.refresh`). A report is
    signed on top of these only with the coordinator's acknowledgement (:func:`acknowledge`).
    """
    out: list[Finding] = []
    if r.rules.uses("benchmark"):
        want = [c.id for _, c in r.rubrics["benchmark"].criteria() if isinstance(c.scale, ComputedScale)]
        for t in r.teams.teams:
            d = dossiers[t.id]
            results = t.evidence.get("benchmark_results")
            if results is None:
                out.append(Finding(code="problem_no_benchmark_results", params={"team": t.id}))
                continue
            out += [Finding(code="problem_evidence", params={"team": t.id, "criteria": list(p.criteria),
                                                             "problem": p.problem.model_dump(mode="json")})
                    for p in d.point_problems]
            flagged = {c for p in d.point_problems for c in p.criteria}
            out += [Finding(code="problem_not_computed", params={"team": t.id, "criterion": cid})
                    for cid in want if cid not in d.points and cid not in flagged]
    if user is not None and r.rules.uses("user"):
        out += [Finding(code="problem_no_user_answers", params={"team": t}) for t in user.unanswered]
    out += [Finding(code="problem_stale_sheet", params={
        "team": s.team, "reviewer": s.reviewer, "version": s.version,
        "files": [{"path": p, "state": "removed" if now is None else "changed"} for p, (_, now) in sorted(s.changed.items())]})
        for s in stale]
    unique = {canonical_json(f.model_dump(mode="json")): f for f in out}
    return sorted(unique.values(), key=lambda f: (problem_line_v2(f.model_dump(mode="json")), canonical_json(f.params)))


def _acknowledged(r: Round, problems: list[Finding]) -> Acknowledgement | None:
    """The latest acknowledgement of exactly ``problems`` by a coordinator (None when there is none): an
    acknowledge entry signed by anyone else counts for nothing (:mod:`workbench.round.authority`). An entry written
    before codes (its problems English lines) acknowledges the problems whose lines those were."""
    data = [f.model_dump(mode="json") for f in problems]
    lines = [problem_line_v2(d) for d in data]
    for e in reversed(authority.replay(r.path).of_type("acknowledge")):
        if e.data.get("problems") in (data, lines):
            return Acknowledgement(seq=e.seq, time=e.time, actor=e.actor, reason=str(e.data.get("reason", "")),
                                   problems=problems)
    return None


def acknowledge(r: Round, agg: Aggregate, key: Ed25519PrivateKey, actor: str, reason: str) -> Acknowledgement:
    """Record the coordinator's reasoned acceptance of ``agg``'s problems in the ledger; return it.

    It covers exactly these problems: when they change, a report needs a new acknowledgement.
    """
    require_coordinator(r, actor, key)
    if not reason.strip():
        raise RoundError("an acknowledgement needs a reason", expected="--acknowledge 'why the report is published anyway'")
    require_safe_text(reason, "--acknowledge")
    if not agg.problems:
        raise RoundError("there is nothing to acknowledge: no problem changes points", file=r.path)
    data = [f.model_dump(mode="json") for f in agg.problems]
    e = ledger.append(r.ledger_path, actor=actor, key=key, type="acknowledge",
                      payload_sha256=sha256_bytes(canonical_json(data)),
                      data={"problems": data, "reason": reason.strip()})
    return Acknowledgement(seq=e.seq, time=e.time, actor=e.actor, reason=reason.strip(), problems=agg.problems)


def _unused_sheet(r: Round, key: tuple[str, str], sheet: ScoreSheet, reason: str) -> CollectResult:
    rel = f"sheets/{key[0]}/{sheet_filename(key[1], sheet.version)}"
    return CollectResult(path=rel, reviewer=key[0], team=key[1], version=sheet.version, sha256=sha256_file(r.path / rel),
                         decision="accepted", reason=reason, total=sheet.totals.total)


def _cost(dossiers: Mapping[str, Dossier], bench: Mapping[str, Mapping[str, float]]) -> CostEfficiency | None:
    """Benchmark points against model size for the teams that submitted a model card (None: no team did)."""
    cards = [d.cost for _, d in sorted(dossiers.items()) if d.cost is not None]
    if not cards:
        return None
    return cost_efficiency(cards, {c.team: sum(bench[c.team].values()) for c in cards}, points_label="benchmark points")


def aggregate_round(r: Round, *, dossiers: Mapping[str, Dossier] | None = None, seed: int = 0) -> Aggregate:
    """Aggregate a frozen, collected round (see the module docstring for every rule).

    ``dossiers`` (team -> :class:`~workbench.evidence.dossier.Dossier`) are built with ``seed`` when not given;
    the same seed drives the user-point and vote intervals.
    """
    version = check_frozen(r)
    rules = r.rules
    agg = rules.aggregation
    expert = r.rubrics.get("expert")
    sheets, unused = accepted_sheets(r)
    expert_sheets = {k: s for k, s in sheets.items() if s.reviewer.role in PANEL_ROLES}
    dossiers = dict(dossiers) if dossiers is not None else {t.id: build_dossier(r, t.id, seed=seed) for t in r.teams.teams}
    # a part the round does not use (0 points, no rubric) scores 0 and is not computed
    bench = benchmark_points(r, dossiers) if rules.uses("benchmark") else {t.id: {} for t in r.teams.teams}
    user = user_points(r, sheets, seed=seed) if rules.uses("user") else None
    if rules.aggregation.user_source == "import":
        # the rules say the import counts: the users' own sheets are listed, never silently ignored
        unused = [*unused, *(_unused_sheet(r, k, s, "not used: the rules take user points from the ledgered import "
                                          "(aggregation.user_source)") for k, s in sorted(sheets.items())
                            if s.reviewer.role == "user")]
    users = user.points if user is not None else {t.id: {} for t in r.teams.teams}
    votes = (user.votes_table([t.id for t in r.teams.teams]) if user is not None
             else pd.DataFrame({"team": sorted(t.id for t in r.teams.teams), "votes": 0, "bt_strength": None, "bt_low": None,
                                "bt_high": None}))
    max_points = {c.id: c.points for p in PARTS if p in r.rubrics for _, c in r.rubrics[p].criteria()}

    crit_rows = [{"team": t, "reviewer": rv, "criterion": cid, "points": round(p, 6)}
                 for (rv, t), s in expert_sheets.items() if expert is not None for cid, p in _points_of(s, expert).items()]
    crit = pd.DataFrame(crit_rows, columns=["team", "reviewer", "criterion", "points"])
    totals = pd.DataFrame([{"reviewer": rv, "team": t, "total": s.totals.total} for (rv, t), s in expert_sheets.items()],
                          columns=["reviewer", "team", "total"])

    excluding = {g.criterion: {o.value for o in expert.criterion(g.criterion).scale.options if o.excludes}  # type: ignore[union-attr]
                 for g in rules.gates if expert is not None and isinstance(expert.criterion(g.criterion).scale, GateScale)}
    verdicts = [(t, cid, rv, j.verdict, j.comment) for (rv, t), s in expert_sheets.items()
                for cid, j in s.judgments.items() if cid in excluding and j.verdict]
    gates = gate_decisions(verdicts, excluding, {g.criterion: g.rule for g in rules.gates},
                           sorted(t.id for t in r.teams.teams))
    # a team's status: a code and the values its wording uses (the first excluding gate, threshold)
    gate_status = {row.team: ("not_selected" if row.rule == "majority_approve" else "excluded",
                              {"criterion": row.criterion, "n": int(row.n),
                               "k": int(row.n - row.excluding if row.rule == "majority_approve" else row.excluding)})
                   for row in gates[gates["excluded"]].itertuples()}

    rows = []
    for t in sorted(r.teams.teams, key=lambda t: t.id):
        mine = totals[totals["team"] == t.id]["total"].tolist()
        e_pts = panel_score(mine, agg.expert, agg.trim) if mine else 0.0
        per_crit = {cid: panel_score(g["points"].tolist(), agg.expert, agg.trim)
                    for cid, g in crit[crit["team"] == t.id].groupby("criterion", sort=True)}
        pts = {**bench[t.id], **per_crit, **users[t.id]}
        b_pts, u_pts = sum(bench[t.id].values()), sum(users[t.id].values())
        below = [("below", {"criterion": th.criterion, "got": pts.get(th.criterion, 0.0) / max_points[th.criterion],
                            "need": th.min_share}) for th in rules.thresholds
                 if pts.get(th.criterion, 0.0) < th.min_share * max_points[th.criterion] - 1e-9]
        status, status_params = (gate_status[t.id] if t.id in gate_status else below[0] if below
                                 else ("incomplete", {"got": len(mine), "need": agg.min_reviewers})
                                 if rules.uses("expert") and len(mine) < agg.min_reviewers else ("ranked", {}))
        rows.append({"team": t.id, "name": t.name, "benchmark": round(b_pts, 4), "expert": round(e_pts, 4),
                     "user": round(u_pts, 4), "total": round(b_pts + e_pts + u_pts, 4), "n_expert_sheets": len(mine),
                     "frontier_index": round(composite_index(pts, max_points, rules.indices.frontier), 2),
                     "diffusion_index": round(composite_index(pts, max_points, rules.indices.diffusion), 2),
                     "joined_by_amendment": t.joined_by_amendment, "status": status, "status_params": status_params})
    scores = pd.DataFrame(rows)
    scores = rank_teams(scores, rules.cut, rules.tie_break).merge(votes, on="team", how="left")

    rel = []
    for cid in (expert.ids("anchored") if expert is not None else []):
        sub = crit[crit["criterion"] == cid]
        m = sub.pivot_table(index="team", columns="reviewer", values="points", aggfunc="first").sort_index().sort_index(axis=1)
        spread = sub.groupby("team")["points"].agg(lambda s: s.max() - s.min())
        rel.append({"criterion": cid, "max_points": max_points[cid], "n_teams": m.shape[0], "n_reviewers": m.shape[1],
                    "icc2k": None if m.empty else _r(icc2k(m.to_numpy())),
                    "alpha": None if m.empty else _r(kripp_alpha(m.to_numpy())),
                    "mean_range": round(float(spread.mean()), 4) if len(spread) else None})
    # every amendment as the two signed states give it (recomputed, never the change list an entry records)
    auth = authority.replay(r.path)
    amendments = [dict(a) for a in auth.amendments]
    problems = point_problems(r, dossiers, user, stale_sheets(r, sheets))
    return Aggregate(
        round_id=rules.round_id, frozen_version=version, scores=scores, criteria=crit,
        reliability=pd.DataFrame(rel), outliers=reviewer_outliers(totals, agg.outlier_z), gates=gates, votes=votes,
        dossiers=dossiers, users=user, cost=_cost(dossiers, bench), unused=unused, amendments=amendments, rules=signed_state(r, version)["rules"],
        problems=problems, acknowledged=_acknowledged(r, problems) if problems else None,
        exclusions=[x for x in auth.exclusions if x.after_acceptance],
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)

