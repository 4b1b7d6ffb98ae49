"""Panel statistics: pure functions (no I/O, no round) from numbers to numbers.

- :func:`trimmed_mean`: drop the ``trim`` highest and lowest values (the usual rule of Korean public
  evaluations), then average; with ``2 * trim`` values or fewer nothing is dropped.
- :func:`panel_score`: the rules' method (``trimmed_mean``, ``mean`` or ``median``).
- :func:`icc2k`: ICC(2,k) of Shrout & Fleiss (1979), two-way random effects, average of k raters, from
  the ANOVA mean squares: ``(MSR - MSE) / (MSR + (MSC - MSE) / n)``; raters with a missing cell are left out.
- :func:`kripp_alpha`: Krippendorff's alpha (interval) via the ``krippendorff`` package; missing cells allowed.
- :func:`reviewer_outliers`: modified z-scores (Iglewicz & Hoaglin) of each reviewer's total against the
  team's panel median; ``|z| > threshold`` is flagged (and only shown: nothing is dropped for it).
- :func:`gate_decisions`: a team is excluded when more than half of its accepted expert sheets give an
  excluding verdict of a gate named in the rules, whatever its points; the justifications are kept.
- :func:`rank_teams`: total descending; ties broken by the rules' ``tie_break`` parts in order; teams still
  equal share a rank. Excluded and incomplete teams are not ranked. The first ``cut`` ranks advance; a tie
  across the cut line is reported as such (the committee decides), never broken silently.
- :func:`composite_index`: 100 x achieved / available points over the criteria the rules assign.

Public API: the functions above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import krippendorff
import numpy as np
import pandas as pd

__all__ = [
    "composite_index",
    "gate_decisions",
    "icc2k",
    "kripp_alpha",
    "panel_score",
    "rank_teams",
    "reviewer_outliers",
    "trimmed_mean",
]


def trimmed_mean(values: Sequence[float], trim: int = 1) -> float:
    """Mean after dropping the ``trim`` highest and lowest values (nothing dropped if too few values)."""
    if not values:
        raise ValueError("no values")
    v = sorted(float(x) for x in values)
    if len(v) > 2 * trim:
        v = v[trim: len(v) - trim]
    return sum(v) / len(v)


def panel_score(values: Sequence[float], method: str = "trimmed_mean", trim: int = 1) -> float:
    """A panel's score by the rules' method."""
    if method == "trimmed_mean":
        return trimmed_mean(values, trim)
    if method == "mean":
        return trimmed_mean(values, 0)
    if method == "median":
        return float(np.median(np.asarray(values, dtype=float)))
    raise ValueError(f"unknown method '{method}'")


def icc2k(matrix: np.ndarray) -> float | None:
    """ICC(2,k) for an n targets x k raters matrix (NaN = missing); None when undefined."""
    x = np.asarray(matrix, dtype=float)
    x = x[:, ~np.isnan(x).any(axis=0)]  # raters who rated every target
    n, k = x.shape
    if n < 2 or k < 2:
        return None
    grand = x.mean()
    ss_total = ((x - grand) ** 2).sum()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    # float noise is not variance: below this, a sum of squares is zero (points at 6 decimals)
    tiny = 1e-12 * max(1.0, float(np.abs(x).max())) ** 2 * n * k
    if ss_rows <= tiny:
        return None  # the targets do not differ: agreement about differences is undefined (0/0), not 1.09
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = max(0.0, ss_total - ss_rows - ss_cols)
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    denom = msr + (msc - mse) / n
    if denom <= 0 or not math.isfinite(denom):
        return None
    value = float((msr - mse) / denom)
    return value if value <= 1.0 + 1e-9 else None  # above 1 the model's assumptions fail: no estimate


def kripp_alpha(matrix: np.ndarray) -> float | None:
    """Krippendorff's alpha (interval) for an n targets x k raters matrix (NaN = missing); None if undefined."""
    x = np.asarray(matrix, dtype=float)
    vals = x[~np.isnan(x)]
    if x.shape[0] < 2 or len(np.unique(vals)) < 2:
        return None  # no variation at all: alpha is 0/0
    a = krippendorff.alpha(reliability_data=x.T, level_of_measurement="interval")
    return float(a) if math.isfinite(a) else None


def reviewer_outliers(totals: pd.DataFrame, threshold: float = 3.5) -> pd.DataFrame:
    """Flag (reviewer, team) totals far from the team's panel median.

    ``totals`` has columns reviewer, team, total. Returns those rows plus ``z`` (modified z-score,
    0.6745 (x - median) / MAD) and ``outlier``; a team whose MAD is 0 gets z = 0 for everyone equal to
    the median and is otherwise scaled by the mean absolute deviation (Iglewicz & Hoaglin's fallback).
    """
    out = totals[["reviewer", "team", "total"]].copy()
    z = pd.Series(0.0, index=out.index)
    for _, g in out.groupby("team", sort=True):
        med = g["total"].median()
        dev = g["total"] - med
        mad = dev.abs().median()
        if mad > 0:
            z[g.index] = 0.6745 * dev / mad
        else:
            meanad = dev.abs().mean()
            z[g.index] = dev / (1.253314 * meanad) if meanad > 0 else 0.0
    out["z"] = z.round(3)
    out["outlier"] = out["z"].abs() > threshold
    return out.sort_values(["team", "reviewer"]).reset_index(drop=True)


def gate_decisions(verdicts: Iterable[tuple[str, str, str, str, str]], excluding: Mapping[str, set[str]],
                   rules: Mapping[str, str] | None = None, teams: Sequence[str] = ()) -> pd.DataFrame:
    """Gate decisions, one row per (team, criterion), with each justification as data (reviewer, verdict and the
    reviewer's own comment); the decision is ``excluded`` with the counts it follows from (the report words it).
    ``verdicts``: (team, criterion, reviewer, verdict, comment) from accepted sheets; ``excluding``: criterion ->
    verdicts that exclude; ``rules``: criterion ->
    ``majority`` (the default: excluded when more than half exclude; a tie keeps the team) or
    ``majority_approve`` (advances only when more than half approve; a tie fails). For a
    ``majority_approve`` gate every team of ``teams`` gets a row: no verdict at all is no approval."""
    rules = rules or {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row_of(team: str, crit: str) -> dict[str, Any]:
        return rows.setdefault((team, crit), {"team": team, "criterion": crit, "rule": rules.get(crit, "majority"), "n": 0,
                                              "counts": {}, "excluding": 0, "justifications": []})

    for crit, rule in sorted(rules.items()):
        if rule == "majority_approve":
            for team in teams:
                row_of(team, crit)
    for team, crit, reviewer, verdict, comment in sorted(verdicts):
        row = row_of(team, crit)
        row["n"] += 1
        row["counts"][verdict] = row["counts"].get(verdict, 0) + 1
        if verdict in excluding.get(crit, set()):
            row["excluding"] += 1
        row["justifications"].append({"reviewer": reviewer, "verdict": verdict, "comment": comment.strip()})
    out = pd.DataFrame([rows[k] for k in sorted(rows)],
                       columns=["team", "criterion", "rule", "n", "counts", "excluding", "justifications"])
    approve = out["rule"] == "majority_approve"
    approving = out["n"] - out["excluding"]
    out["excluded"] = np.where(approve, approving * 2 <= out["n"], out["excluding"] * 2 > out["n"]).astype(bool)
    return out


def rank_teams(scores: pd.DataFrame, cut: int, tie_break: Sequence[str]) -> pd.DataFrame:
    """Rank the teams whose ``status`` is ``ranked``; set rank and status (codes: ``advances``, ``eliminated``,
    ``tie`` at the cut line, worded by the catalogue's ``status_<code>``).

    ``scores`` has columns team, total, status and every part named in ``tie_break``.
    """
    out = scores.copy()
    out["rank"] = pd.Series([pd.NA] * len(out), dtype="Int64")
    ranked = out[out["status"] == "ranked"]
    keys = ["total", *tie_break]
    key = ranked[keys].round(6).apply(tuple, axis=1)
    order = sorted(ranked.index, key=lambda i: (tuple(-v for v in key[i]), out.at[i, "team"]))
    rank, prev = 0, None
    for pos, i in enumerate(order, start=1):
        if key[i] != prev:
            rank, prev = pos, key[i]
        out.at[i, "rank"] = rank
    for i in order:
        r = out.at[i, "rank"]
        same = sum(1 for j in order if out.at[j, "rank"] == r)
        if r + same - 1 <= cut:
            out.at[i, "status"] = "advances"
        elif r > cut:
            out.at[i, "status"] = "eliminated"
        else:
            out.at[i, "status"] = "tie"
    return out


def composite_index(points: Mapping[str, float], max_points: Mapping[str, float], criteria: Sequence[str]) -> float:
    """100 x sum of achieved points / sum of available points over ``criteria``."""
    avail = sum(max_points[c] for c in criteria)
    return 100.0 * sum(points.get(c, 0.0) for c in criteria) / avail if avail else 0.0
