"""User evidence: survey answers and blind pairwise votes in; user points, Bradley-Terry strengths out.

Public API
----------
Survey (round file ``users/survey.csv``: ``user_id, team, item, value[, comment]``):
    :class:`Survey`, :func:`read_survey`, :func:`validate_survey`, :func:`survey_points`,
    :class:`SurveyPoints`, :class:`TeamUserPoints`, :class:`ItemRow`, :class:`ItemAgreement`,
    :func:`survey_chart`
Votes (round file ``users/votes.csv``: ``user_id, prompt_id, model_a, model_b, winner``):
    :class:`Votes`, :func:`read_votes`, :func:`validate_votes`, :func:`bradley_terry`, :func:`fit_strengths`,
    :func:`fit_strengths_batch`, :func:`count_votes`, :func:`bradley_terry_counts`,
    :class:`BradleyTerry`, :class:`Strength`, :func:`strengths_chart`

Survey points (per team, per item ``j`` with rubric points ``P_j``): ``P_j * mean_u fraction(level_u,j)``
over the users ``u`` who answered; the rubric's ``fraction`` maps a Likert level to a share of the points
(``(level-1)/4`` in the user rubric; one mapping for all items or one per item). A blank value is "not answered": it is left out of the mean and
counted in the result. The interval resamples the team's users with replacement (all of a user's answers
together), seeded. Agreement between users is Krippendorff's alpha (ordinal) per item, with users as
coders and teams as units.

Bradley-Terry: ``P(i beats j) = 1 / (1 + exp(-(s_i - s_j)))`` with strengths ``s`` on the logit scale.
A tie counts as half a win for each side (as Chatbot Arena does: each vote is one A-or-B row twice, a tie
once each way). The maximum-likelihood fit uses Newton's method on the aggregated pair counts; strengths
are centred (mean 0) or anchored at one model (``anchor``, strength 0). The interval is a seeded bootstrap
over votes; resampling N votes with replacement is exactly a multinomial draw of N over the distinct
(pair, outcome) cells, which we draw directly. The MLE exists only when every model has both won (or
tied) against and lost (or tied) to the others in a strongly connected way (Ford's condition); otherwise
the fit is refused with the models named, and bootstrap resamples that break it are counted and reported.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import krippendorff
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from ..core.charts import altair, style
from ..core.errors import EvidenceError
from ..core.findings import Finding
from ..core.messages import msg
from ._csv import MAX_CSV_BYTES, read_csv, require_filled, to_numbers

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "USER_ITEMS",
    "BradleyTerry",
    "ItemAgreement",
    "ItemRow",
    "Strength",
    "Survey",
    "SurveyPoints",
    "TeamUserPoints",
    "Votes",
    "bradley_terry",
    "bradley_terry_counts",
    "count_votes",
    "fit_strengths",
    "fit_strengths_batch",
    "read_survey",
    "read_votes",
    "strengths_chart",
    "survey_chart",
    "survey_points",
    "validate_survey",
    "validate_votes",
]

USER_ITEMS = ("user.usability", "user.korean_quality", "user.cost_efficiency", "user.applicability",
              "user.reliability")
SURVEY_COLUMNS = ("user_id", "team", "item", "value")
VOTE_COLUMNS = ("user_id", "prompt_id", "model_a", "model_b", "winner")
MAX_VOTES_BYTES = 256 * 1024 * 1024


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


# ---------------------------------------------------------------- survey

class Survey(BaseModel):
    """Validated survey answers: one row per (user, team, item); ``value`` NaN means not answered."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    frame: pd.DataFrame  # user_id, team, item, value, comment, line
    items: tuple[str, ...]
    levels: tuple[int, ...]
    source: str


def validate_survey(
    frame: pd.DataFrame, *, items: Sequence[str] = USER_ITEMS, levels: Sequence[int] = (1, 2, 3, 4, 5),
    source: str = "<survey>",
) -> Survey:
    """Check a frame of string columns (``user_id, team, item, value, comment, line``) and type it.

    Refused with the line: an empty id/team/item, an unknown item, a value that is not one of ``levels``
    (text, ``NaN``, ``4.5``, out of range), and the same (user, team, item) answered twice.
    """
    require_filled(frame, SURVEY_COLUMNS[:3], source)
    bad = ~frame["item"].isin(items)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise EvidenceError(f"unknown item '{frame['item'].iloc[i]}'", file=source, line=int(frame["line"].iloc[i]),
                            place="column item", expected="one of " + ", ".join(items))
    values = to_numbers(frame, "value", source, allow_empty=True)
    off = ~np.isnan(values) & ~np.isin(values, np.asarray(levels, dtype=float))
    if off.any():
        i = int(np.argmax(off))
        raise EvidenceError(f"value {frame['value'].iloc[i]} is not a Likert level", file=source,
                            line=int(frame["line"].iloc[i]), place="column value",
                            expected="one of " + ", ".join(map(str, levels)) + " or empty (not answered)")
    dup = frame.duplicated(["user_id", "team", "item"], keep=False).to_numpy()
    if dup.any():
        rows = frame[dup]
        first = rows.iloc[0]
        again = rows[(rows[["user_id", "team", "item"]] == first[["user_id", "team", "item"]]).all(axis=1)]
        raise EvidenceError(f"user {first['user_id']} answered {first['item']} for team {first['team']} twice "
                            f"(lines {', '.join(map(str, again['line']))})", file=source, line=int(again['line'].iloc[1]),
                            expected="one answer per user, team and item")
    out = frame.assign(value=values)
    if "comment" not in out:
        out["comment"] = ""
    return Survey(frame=out[["user_id", "team", "item", "value", "comment", "line"]].reset_index(drop=True),
                  items=tuple(items), levels=tuple(levels), source=source)


def read_survey(
    path: str | Path, *, items: Sequence[str] = USER_ITEMS, levels: Sequence[int] = (1, 2, 3, 4, 5),
    max_bytes: int = MAX_CSV_BYTES,
) -> Survey:
    """Load ``users/survey.csv`` (bounded, UTF-8): columns ``user_id, team, item, value`` and optional ``comment``."""
    frame = read_csv(path, SURVEY_COLUMNS, ("comment",), max_bytes)
    return validate_survey(frame, items=items, levels=levels, source=str(path))


class ItemRow(BaseModel):
    """One item for one team: answers, mean level and points, each with its bootstrap interval."""

    model_config = ConfigDict(frozen=True)

    item: str
    answers: int
    not_answered: int
    mean_level: float | None
    mean_low: float | None
    mean_high: float | None
    points: float
    max_points: float
    points_low: float
    points_high: float


class TeamUserPoints(BaseModel):
    """A team's user points (sum over items) with its interval, the item rows and flags."""

    model_config = ConfigDict(frozen=True)

    team: str
    users: int
    points: float
    max_points: float
    ci_low: float
    ci_high: float
    items: tuple[ItemRow, ...]
    flags: tuple[Finding, ...]  # codes users_* (the catalogue words them)

    def to_summary(self) -> dict[str, Any]:
        """JSON-able summary of this team's user points."""
        return {
            "team": self.team, "users": self.users, "points": _r(self.points), "max_points": self.max_points,
            "ci_low": _r(self.ci_low), "ci_high": _r(self.ci_high),
            "items": [{k: (_r(v) if isinstance(v, float) else v) for k, v in row.model_dump().items()}
                      for row in self.items],
            "flags": [f.model_dump(mode="json") for f in self.flags],
        }


class ItemAgreement(BaseModel):
    """Krippendorff's alpha (ordinal) for one item; ``alpha`` None when the data cannot define it."""

    model_config = ConfigDict(frozen=True)

    item: str
    alpha: float | None
    users: int
    teams: int
    note: Finding | None = None  # why alpha is undefined (codes alpha_undefined_*)


class SurveyPoints(BaseModel):
    """User points for every team, agreement per item, and how the intervals were made."""

    model_config = ConfigDict(frozen=True)

    teams: tuple[TeamUserPoints, ...]
    agreement: tuple[ItemAgreement, ...]
    fraction: dict[str, dict[int, float]]  # item -> level -> share
    confidence: float
    resamples: int
    seed: int
    method: str
    source: str

    def team(self, team: str) -> TeamUserPoints:
        """One team's points; an unknown team is an error listing the teams found."""
        for t in self.teams:
            if t.team == team:
                return t
        raise EvidenceError(f"no survey answers for team {team}", file=self.source,
                            expected="one of " + ", ".join(t.team for t in self.teams))

    def table(self) -> pd.DataFrame:
        """One row per (team, item)."""
        return pd.DataFrame([{"team": t.team, **row.model_dump()} for t in self.teams for row in t.items])

    def to_summary(self, team: str | None = None) -> dict[str, Any]:
        """JSON-able summary (all teams, or one ``team`` for its score sheet) with agreement and method."""
        teams = [self.team(team)] if team is not None else list(self.teams)
        return {
            "teams": [t.to_summary() for t in teams],
            "agreement": [{"item": a.item, "alpha": _r(a.alpha), "users": a.users, "teams": a.teams,
                           "note": a.note.model_dump(mode="json") if a.note else None}
                          for a in self.agreement],
            "fraction": {item: {str(k): v for k, v in sorted(f.items())} for item, f in sorted(self.fraction.items())},
            "confidence": self.confidence, "resamples": self.resamples, "seed": self.seed, "method": self.method,
        }


def survey_points(
    survey: Survey, item_points: Mapping[str, float],
    fraction: Mapping[int, float] | Mapping[str, Mapping[int, float]], *,
    resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
) -> SurveyPoints:
    """Per-team user points by the rubric: ``P_j * mean(fraction(level))`` per item, summed, with intervals.

    ``item_points`` (item id -> points) and ``fraction`` (Likert level -> share in [0, 1], either one
    mapping for every item or a mapping per item id, as the rubric's anchored scales give it) come from the
    user rubric. An item the survey has but the rubric does not score is an error; an item a team got no
    answers for scores 0 and is flagged.
    """
    unscored = sorted(set(survey.frame["item"]) - set(item_points))
    if unscored:
        raise EvidenceError(f"survey items without rubric points: {', '.join(unscored)}", file=survey.source,
                            expected="points for every item: " + ", ".join(sorted(item_points)))
    by_item = all(isinstance(k, str) for k in fraction)
    per_item = {i: dict(fraction.get(i, {}) if by_item else fraction) for i in item_points}  # type: ignore[arg-type]
    for item, f in per_item.items():
        if any(lv not in f for lv in survey.levels) or any(not 0 <= x <= 1 for x in f.values()):
            raise EvidenceError(f"fraction mapping for {item} {f} does not cover levels {list(survey.levels)}",
                                expected="a share in [0, 1] for every Likert level")
    items = sorted(item_points)
    alpha = (1 - confidence) / 2
    rng = np.random.default_rng(seed)
    # share of the points by (level position + 1, item); row 0 (NaN) stands for "not answered"
    order = np.array(sorted(survey.levels), dtype=float)
    table = np.full((len(order) + 1, len(items)), np.nan)
    for j, item in enumerate(items):
        table[1:, j] = [per_item[item][int(lv)] for lv in order]
    teams = []
    for team, sub in sorted(survey.frame.groupby("team", sort=True), key=lambda kv: kv[0]):
        level = sub.pivot(index="user_id", columns="item", values="value").reindex(columns=items).sort_index()
        levels = level.to_numpy(dtype=float)
        row = np.where(np.isnan(levels), 0, np.searchsorted(order, np.nan_to_num(levels, nan=order[0])) + 1)
        fracs = table[row, np.arange(len(items))]
        n_users = levels.shape[0]
        idx = rng.integers(0, n_users, size=(resamples, n_users))
        with warnings.catch_warnings():  # an all-blank item warns; it is flagged below instead
            warnings.simplefilter("ignore", RuntimeWarning)
            boot_level = np.nanmean(levels[idx], axis=1)  # (resamples, items)
            boot_frac = np.nanmean(fracs[idx], axis=1)
            mean_level = np.nanmean(levels, axis=0)
            mean_frac = np.nanmean(fracs, axis=0)
        weights = np.array([item_points[i] for i in items], dtype=float)
        pts = np.nan_to_num(mean_frac) * weights
        boot_pts = np.nan_to_num(boot_frac) * weights
        total = boot_pts.sum(axis=1)
        flags = []
        rows = []
        for j, item in enumerate(items):
            answered = int(np.sum(~np.isnan(levels[:, j])))
            not_answered = int(np.sum((sub["item"] == item) & sub["value"].isna()))
            if answered == 0:
                flags.append(Finding(code="users_item_unanswered", params={"item": item}))
            if not_answered:
                flags.append(Finding(code="users_item_blank", params={"item": item, "n": not_answered}))
            lo, hi = (np.nanquantile(boot_level[:, j], [alpha, 1 - alpha]) if answered else (np.nan, np.nan))
            plo, phi = np.quantile(boot_pts[:, j], [alpha, 1 - alpha])
            rows.append(ItemRow(item=item, answers=answered, not_answered=not_answered,
                                mean_level=_r(mean_level[j], 12), mean_low=_r(lo, 12), mean_high=_r(hi, 12),
                                points=float(pts[j]), max_points=float(weights[j]),
                                points_low=float(plo), points_high=float(phi)))
        if n_users < 2:
            flags.append(Finding(code="users_few", params={}))
        ci = np.quantile(total, [alpha, 1 - alpha])
        teams.append(TeamUserPoints(team=str(team), users=n_users, points=float(pts.sum()),
                                    max_points=float(weights.sum()), ci_low=float(ci[0]), ci_high=float(ci[1]),
                                    items=tuple(rows), flags=tuple(flags)))
    method = (f"bootstrap over each team's users (all their answers together), {resamples} resamples, seed {seed}, "
              f"{confidence:.0%} percentile interval; agreement: Krippendorff's alpha (ordinal)")
    return SurveyPoints(teams=tuple(teams), agreement=_agreement(survey, items), fraction=per_item,
                        confidence=confidence, resamples=resamples, seed=seed, method=method, source=survey.source)


def _agreement(survey: Survey, items: Sequence[str]) -> tuple[ItemAgreement, ...]:
    out = []
    for item in items:
        sub = survey.frame[survey.frame["item"] == item]
        grid = sub.pivot(index="user_id", columns="team", values="value").sort_index().sort_index(axis=1)
        users, teams = grid.shape
        data = grid.to_numpy(dtype=float)
        rated = np.sum(~np.isnan(data), axis=0)
        if users < 2 or np.sum(rated >= 2) < 1 or len(np.unique(data[~np.isnan(data)])) < 2:
            out.append(ItemAgreement(item=item, alpha=None, users=users, teams=teams,
                                     note=Finding(code="alpha_undefined_sparse", params={})))
            continue
        a = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                               value_domain=np.asarray(survey.levels, dtype=float))
        out.append(ItemAgreement(item=item, alpha=float(a) if math.isfinite(a) else None, users=users, teams=teams,
                                 note=None if math.isfinite(a) else Finding(code="alpha_undefined_no_disagreement",
                                                                            params={})))
    return tuple(out)


# ---------------------------------------------------------------- votes

class Votes(BaseModel):
    """Validated pairwise votes: ``winner`` is ``A``, ``B`` or ``TIE``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    frame: pd.DataFrame  # user_id, prompt_id, model_a, model_b, winner, line
    source: str


def validate_votes(frame: pd.DataFrame, *, source: str = "<votes>") -> Votes:
    """Check a frame of string columns (``user_id, prompt_id, model_a, model_b, winner`` and ``line``).

    ``winner`` is ``A``, ``B`` or ``tie`` (any case). Refused with the line: an empty cell, another winner,
    a model compared with itself, and a user voting twice on the same pair of models for the same prompt
    (in either order). A frame without ``line`` (e.g. built in memory) is numbered as if read from a file.
    """
    if "line" not in frame:
        frame = frame.assign(line=np.arange(2, len(frame) + 2))
    require_filled(frame, VOTE_COLUMNS, source)
    winner = frame["winner"].str.upper()
    bad = ~winner.isin(["A", "B", "TIE"]).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise EvidenceError(f"winner '{frame['winner'].iloc[i]}'", file=source, line=int(frame["line"].iloc[i]),
                            place="column winner", expected="A, B or tie")
    a, b = frame["model_a"].to_numpy(dtype=object), frame["model_b"].to_numpy(dtype=object)
    same = a == b
    if same.any():
        i = int(np.argmax(same))
        raise EvidenceError(f"model {a[i]} is compared with itself", file=source, line=int(frame["line"].iloc[i]),
                            expected="two different models")
    key = pd.DataFrame({"u": frame["user_id"].to_numpy(), "p": frame["prompt_id"].to_numpy(),
                        "lo": np.where(a < b, a, b), "hi": np.where(a < b, b, a)})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        again = np.flatnonzero(dup & (key == key.iloc[i]).all(axis=1).to_numpy())
        lines = frame["line"].to_numpy()[again]
        raise EvidenceError(f"user {key['u'].iloc[i]} voted twice on {key['lo'].iloc[i]} vs {key['hi'].iloc[i]} "
                            f"for prompt {key['p'].iloc[i]} (lines {', '.join(map(str, lines))})", file=source,
                            line=int(lines[1]), expected="one vote per user, prompt and pair of models")
    out = frame[list(VOTE_COLUMNS) + ["line"]].assign(winner=winner.to_numpy()).reset_index(drop=True)
    return Votes(frame=out, source=source)


def read_votes(path: str | Path, *, max_bytes: int = MAX_VOTES_BYTES) -> Votes:
    """Load ``users/votes.csv`` (bounded, UTF-8): ``user_id, prompt_id, model_a, model_b, winner``."""
    return validate_votes(read_csv(path, VOTE_COLUMNS, (), max_bytes), source=str(path))


class Strength(BaseModel):
    """One model's Bradley-Terry strength (logit scale) with its interval and its record."""

    model_config = ConfigDict(frozen=True)

    model: str
    strength: float
    ci_low: float
    ci_high: float
    votes: int
    wins: int
    losses: int
    ties: int


class BradleyTerry(BaseModel):
    """Bradley-Terry strengths of every model, how they were fitted and what could not be used."""

    model_config = ConfigDict(frozen=True)

    strengths: tuple[Strength, ...]
    anchor: str | None
    votes: int
    confidence: float
    resamples: int
    failed_resamples: int
    seed: int
    method: str
    flags: tuple[Finding, ...]  # code bt_unbounded

    def table(self) -> pd.DataFrame:
        """One row per model, strongest first."""
        return pd.DataFrame([s.model_dump() for s in self.strengths])

    def to_summary(self) -> dict[str, Any]:
        """JSON-able summary (strengths rounded to 4 decimals)."""
        return {
            "strengths": [{k: (_r(v) if isinstance(v, float) else v) for k, v in s.model_dump().items()}
                          for s in self.strengths],
            "anchor": self.anchor, "votes": self.votes, "confidence": self.confidence,
            "resamples": self.resamples, "failed_resamples": self.failed_resamples, "seed": self.seed,
            "method": self.method, "flags": [f.model_dump(mode="json") for f in self.flags],
        }


def _connected(wins: np.ndarray) -> bool:
    # Ford's condition: the "beat or tied" graph is strongly connected
    count, _ = connected_components(csr_matrix(wins > 0), directed=True, connection="strong")
    return count == 1


def _connected_batch(wins: np.ndarray) -> np.ndarray:
    """:func:`_connected` for every matrix of ``wins[r]`` at once: the transitive closure by repeated squaring of
    the reachability matrices (batched matrix products), strongly connected when every model reaches every
    other. For the bootstrap's hundreds of small graphs this is far cheaper than one sparse-graph call each."""
    k = wins.shape[-1]
    reach = ((wins > 0) | np.eye(k, dtype=bool)).astype(np.float32)
    for _ in range(max(1, math.ceil(math.log2(max(k - 1, 1))))):
        reach = np.minimum(reach @ reach, 1.0)  # paths of up to twice the length
    return reach.min(axis=(-2, -1)) > 0


def _loglik(theta: np.ndarray, wins: np.ndarray) -> float:
    return -float(np.sum(wins * np.logaddexp(0.0, theta[None, :] - theta[:, None])))


def fit_strengths(wins: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry log-strengths (mean 0) from ``wins[i, j]`` = wins of i over j.

    Newton's method with step halving on the concave log-likelihood, the first strength held at 0 while
    solving (the model is invariant to a common shift). ``wins`` may hold half-wins from ties. Raises
    ``ValueError`` when the MLE does not exist (Ford's condition fails).
    """
    wins = np.asarray(wins, dtype=float)
    k = wins.shape[0]
    if not _connected(wins):
        raise ValueError("the comparison graph is not strongly connected")
    n = wins + wins.T
    theta = np.zeros(k)
    ll = _loglik(theta, wins)
    for _ in range(max_iter):
        p = expit(theta[:, None] - theta[None, :])
        grad = (wins - n * p).sum(axis=1)
        w = n * p * p.T
        info = np.diag(w.sum(axis=1)) - w  # observed information (graph Laplacian), PSD
        step = np.zeros(k)
        step[1:] = np.linalg.solve(info[1:, 1:], grad[1:])
        t = 1.0
        while True:
            new = theta + t * step
            new_ll = _loglik(new, wins)
            if new_ll >= ll - 1e-12 * abs(ll) or t < 1e-6:
                break
            t /= 2
        theta, ll = new, new_ll
        if np.max(np.abs(t * step)) < tol:
            break
    return theta - theta.mean()


def fit_strengths_batch(wins: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_strengths` for many win matrices at once (``wins[r]``, shape ``(R, k, k)``), as the bootstrap
    needs: one Newton iteration updates every resample with batched linear algebra instead of ``R`` Python-level
    fits. Returns the strengths ``(R, k)`` (mean 0) and which resamples have an MLE (Ford's condition); the
    rows without one are NaN. Each step is halved where it would lower that resample's log-likelihood, as in
    :func:`fit_strengths`, so the results agree with it to the tolerance."""
    wins = np.asarray(wins, dtype=float)
    r, k, _ = wins.shape
    ok = _connected_batch(wins)
    w_ok = wins[ok]
    n = w_ok + w_ok.transpose(0, 2, 1)
    theta = np.zeros((len(w_ok), k))

    def loglik(t: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return -np.sum(w_ok[rows] * np.logaddexp(0.0, t[:, None, :] - t[:, :, None]), axis=(1, 2))

    ll = loglik(theta)
    active = np.ones(len(w_ok), dtype=bool)
    idx = np.arange(k)
    for _ in range(max_iter):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        th = theta[rows]
        p = expit(th[:, :, None] - th[:, None, :])
        grad = (w_ok[rows] - n[rows] * p).sum(axis=2)
        w = n[rows] * p * p.transpose(0, 2, 1)
        info = -w
        info[:, idx, idx] += w.sum(axis=2)  # observed information: a graph Laplacian per resample
        step = np.zeros_like(th)
        step[:, 1:] = np.linalg.solve(info[:, 1:, 1:], grad[:, 1:, None])[:, :, 0]
        t = np.ones(len(rows))
        new = th + step
        new_ll = loglik(new, rows)
        worse = (new_ll < ll[rows] - 1e-12 * np.abs(ll[rows])) & (t >= 1e-6)
        while worse.any():  # step halving, only where the full step lowered the likelihood
            t[worse] /= 2
            new[worse] = th[worse] + t[worse, None] * step[worse]
            new_ll[worse] = loglik(new[worse], rows[worse])
            worse = (new_ll < ll[rows] - 1e-12 * np.abs(ll[rows])) & (t >= 1e-6)
        theta[rows], ll[rows] = new, new_ll
        active[rows] = np.max(np.abs(t[:, None] * step), axis=1) >= tol
    out = np.full((r, k), np.nan)
    out[ok] = theta - theta.mean(axis=1, keepdims=True)
    return out, ok


def count_votes(votes: Votes) -> tuple[list[str], np.ndarray]:
    """The votes counted per cell: the models (sorted) and ``counts[lo, hi, outcome]`` for every pair
    ``lo < hi`` of model indices, with outcome 0 = ``lo`` won, 1 = ``hi`` won, 2 = tie (what
    :func:`bradley_terry_counts` fits)."""
    f = votes.frame
    n = len(f)
    # one hashing pass over both columns (a million votes: ~5x faster than two Categoricals)
    codes, uniques = pd.factorize(np.concatenate([f["model_a"].to_numpy(), f["model_b"].to_numpy()]))
    names = np.asarray(uniques, dtype=object)
    order = np.argsort(names)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    models = [str(m) for m in names[order]]
    k = len(models)
    a, b = rank[codes[:n]], rank[codes[n:]]
    wcodes, wvalues = pd.factorize(f["winner"].to_numpy())  # validated: A, B or TIE
    outcome = np.array([{"A": 0, "B": 1}.get(w, 2) for w in wvalues], dtype=np.int64)[wcodes]
    swap = a > b
    outcome = np.where(swap & (outcome < 2), 1 - outcome, outcome)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    counts = np.bincount((lo * k + hi) * 3 + outcome, minlength=k * k * 3).reshape(k, k, 3)
    return models, counts


def _wins(counts: np.ndarray) -> np.ndarray:
    # the upper triangle holds each pair once; ties add half a win each way (leading axes: resamples)
    wins = counts[..., 0] + 0.5 * counts[..., 2]
    return wins + np.swapaxes(counts[..., 1] + 0.5 * counts[..., 2], -1, -2)


def bradley_terry(
    votes: Votes | pd.DataFrame, *, resamples: int = 200, seed: int = 0, anchor: str | None = None,
    confidence: float = 0.95,
) -> BradleyTerry:
    """Bradley-Terry strengths of the voted models with bootstrap intervals (see the module docstring).

    ``votes`` is a :class:`Votes` or a frame with the vote columns (validated first). ``anchor`` names
    the model fixed at strength 0; by default strengths have mean 0.
    """
    if isinstance(votes, pd.DataFrame):
        votes = validate_votes(votes)
    if votes.frame.empty:
        raise EvidenceError("no votes", file=votes.source, expected="at least one vote")
    models, counts = count_votes(votes)
    return bradley_terry_counts(models, counts, source=votes.source, resamples=resamples, seed=seed,
                                anchor=anchor, confidence=confidence)


def bradley_terry_counts(
    models: Sequence[str], counts: np.ndarray, *, source: str = "<votes>", resamples: int = 200, seed: int = 0,
    anchor: str | None = None, confidence: float = 0.95,
) -> BradleyTerry:
    """:func:`bradley_terry` on votes already counted by :func:`count_votes` (``source`` names them in errors).

    The bootstrap draws every cell's count from a multinomial over all votes, which is resampling the votes.
    """
    models = list(models)
    if anchor is not None and anchor not in models:
        raise EvidenceError(f"anchor model {anchor} has no votes", file=source,
                            expected="one of " + ", ".join(models))
    wins = _wins(counts)
    try:
        theta = fit_strengths(wins)
    except ValueError:
        count, label = connected_components(csr_matrix(wins > 0), directed=True, connection="strong")
        groups = [", ".join(m for m, g in zip(models, label, strict=True) if g == c) for c in range(count)]
        raise EvidenceError("strengths are unbounded: some models never lost to (or never beat) the rest "
                            f"(groups: {' | '.join(groups)})", file=source,
                            expected="votes linking every model both ways (Ford's condition)") from None
    shift = (lambda t: t - t[models.index(anchor)]) if anchor is not None else (lambda t: t)
    theta = shift(theta)

    flat = counts.reshape(-1)
    cells = np.flatnonzero(flat)
    n_votes = int(flat.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_votes, flat[cells] / n_votes, size=resamples)
    c = np.zeros((resamples, flat.size), dtype=flat.dtype)
    c[:, cells] = draws
    fitted, ok = fit_strengths_batch(_wins(c.reshape(resamples, *counts.shape)))
    boot = [shift(t) for t in fitted[ok]]
    failed = resamples - len(boot)
    alpha = (1 - confidence) / 2
    if boot:
        lo, hi = np.quantile(np.array(boot), [alpha, 1 - alpha], axis=0)
    else:
        lo = hi = np.full(len(models), np.nan)
    won = counts[:, :, 0].sum(1) + counts[:, :, 1].sum(0)
    lost = counts[:, :, 1].sum(1) + counts[:, :, 0].sum(0)
    tied = counts[:, :, 2].sum(1) + counts[:, :, 2].sum(0)
    rows = sorted(
        (Strength(model=m, strength=float(theta[i]), ci_low=float(lo[i]), ci_high=float(hi[i]),
                  votes=int(won[i] + lost[i] + tied[i]), wins=int(won[i]), losses=int(lost[i]), ties=int(tied[i]))
         for i, m in enumerate(models)),
        key=lambda s: (-s.strength, s.model))
    flags = []
    if failed:
        flags.append(Finding(code="bt_unbounded", params={"failed": failed, "resamples": resamples}))
    method = (f"Bradley-Terry MLE (Newton, ties = half a win each), {'anchor ' + anchor if anchor else 'mean 0'}; "
              f"bootstrap over votes (multinomial), {resamples} resamples, seed {seed}, "
              f"{confidence:.0%} percentile interval")
    return BradleyTerry(strengths=tuple(rows), anchor=anchor, votes=n_votes, confidence=confidence,
                        resamples=resamples, failed_resamples=failed, seed=seed, method=method, flags=tuple(flags))


# ---------------------------------------------------------------- charts

def strengths_chart(bt: BradleyTerry, lang: str = "ko", names: Mapping[str, str] | None = None) -> alt.TopLevelMixin:
    """Strengths as points with interval bars, strongest on top; ``names`` maps the compared ids (teams) to the
    names a reader knows them by."""
    alt = altair()
    data = bt.table()
    data["model"] = [(names or {}).get(m, m) for m in data["model"]]
    y = alt.Y("model:N", sort=list(data["model"]), title=msg("chart_team" if names else "chart_model", lang))
    base = alt.Chart()
    bars = base.mark_errorbar(ticks=True).encode(y=y, x=alt.X("ci_low:Q", title=msg("chart_bt_strength", lang)), x2="ci_high:Q")
    dots = base.mark_point(filled=True, size=60).encode(y=y, x="strength:Q",
                                                        tooltip=["model", "strength", "ci_low", "ci_high", "votes"])
    return style(alt.layer(bars, dots, data=data).properties(title=msg("chart_bt_title", lang), width=360))


def survey_chart(points: SurveyPoints, lang: str = "ko", labels: Mapping[str, str] | None = None) -> alt.TopLevelMixin:
    """Mean Likert level per item and team with interval bars; ``labels`` maps item ids to display names."""
    alt = altair()
    data = points.table().dropna(subset=["mean_level"])
    data["label"] = data["item"].map(lambda i: (labels or {}).get(i, i))
    x = alt.X("label:N", title=msg("chart_item", lang), sort=None)
    base = alt.Chart()
    bars = base.mark_errorbar(ticks=True).encode(x=x, y=alt.Y("mean_low:Q", title=msg("chart_likert", lang)), y2="mean_high:Q",
                                                 color=alt.Color("team:N", title=msg("chart_team", lang)), xOffset="team:N")
    dots = base.mark_point(filled=True).encode(x=x, y="mean_level:Q", color="team:N", xOffset="team:N",
                                               tooltip=["team", "item", "mean_level", "answers"])
    return style(alt.layer(bars, dots, data=data).properties(title=msg("chart_survey_title", lang), width=alt.Step(60)))
