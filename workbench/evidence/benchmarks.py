"""Benchmark evidence: teams' result files in, the rubric's benchmark points out, with their uncertainty.

Public API
----------
Scheme (re-exported from :mod:`workbench.model.scheme`; a round's copy is ``Round.scheme``):
    :class:`BenchmarkSpec`, :class:`TaskAlias`, :class:`BenchmarkSets`, :func:`load_benchmark_sets`
Results in:
    :class:`BenchmarkResult`, :class:`ResultSet`, :func:`parse_harness_results`, :func:`read_harness_json`,
    :func:`read_results_csv`, :func:`combine_results`
Declared references (from the coordinator's ``teams.yaml``):
    :class:`Reference`, :class:`Targets`
Points (formulas are data: the rubric names a formula id and its params):
    :func:`achievement_ratio`, :func:`frontier_ratio`, :func:`compute_points`,
    :class:`ComputedPoints`, :class:`BenchmarkRow`
Chart:
    :func:`results_chart`

Formulas (per benchmark ``b`` of the set, team score ``s_b``):

* ``achievement_ratio`` (params ``set``, ``cap`` = 1.0): ``r_b = min(s_b / t_b, cap)`` where ``t_b`` is the
  team's declared target-model score; for a lower-is-better metric ``r_b = min(t_b / s_b, cap)``.
* ``frontier_ratio`` (params ``set``, ``share`` = 0.95, ``cap`` = 1.0): the same with ``t_b`` replaced by
  ``share * f_b``, ``f_b`` the frontier reference score (for lower-is-better ``f_b / share``).

Points for the set: ``points * mean_b(r_b)`` (each benchmark weighs the same). Optional params for both:
``missing`` and ``confidence`` (0.95) and ``resamples`` (2000) for the interval. ``missing`` is the
partial-credit rule: ``"zero"`` (the default) scores a benchmark without a result ``r_b = 0``, so it costs
its own share ``points / k`` of the set and nothing more, and flags it (the dossier lists it as a problem
that changes points); ``"error"`` makes the whole criterion uncomputable instead.

Uncertainty: each score's standard error is the harness's ``*_stderr`` value, else (for a proportion metric
with a known item count ``n``) the binomial ``sqrt(s(1-s)/n)``, else unknown (the score is treated as exact
and a flag says so). The interval of the points is a seeded parametric bootstrap: every score is redrawn
from ``Normal(s_b, se_b)`` (clipped to the metric's range) and the formula re-applied; the percentile
interval is reported. The bootstrap, unlike the delta method, stays right at the ``cap`` kink. A benchmark
that misses its reference while its own interval reaches it is flagged "within noise".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.base import rounded
from ..core.charts import altair, style
from ..core.errors import EvidenceError, Problem, RubricError
from ..core.files import MAX_DOC_BYTES, load_json
from ..core.findings import Finding
from ..core.messages import msg
from ..model.formulas import COMMON_PARAMS, get_formula
from ..model.scheme import BenchmarkSets, BenchmarkSpec, TaskAlias, load_benchmark_sets
from ._csv import MAX_CSV_BYTES, read_csv, require_filled, to_numbers

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "BenchmarkResult",
    "BenchmarkRow",
    "BenchmarkSets",
    "BenchmarkSpec",
    "ComputedPoints",
    "Reference",
    "ResultProblem",
    "ResultSet",
    "TaskAlias",
    "Targets",
    "achievement_ratio",
    "combine_results",
    "compute_points",
    "frontier_ratio",
    "load_benchmark_sets",
    "parse_harness_results",
    "read_harness_json",
    "read_results_csv",
    "results_chart",
]

SetName = Literal["nia", "common", "individual"]
RESULT_COLUMNS = ("team", "model", "benchmark", "metric", "value", "stderr", "n")


# ---------------------------------------------------------------- the scheme
# The scheme's models live in the core (workbench.model.scheme): a round pins and freezes its copy.

# ---------------------------------------------------------------- results

class BenchmarkResult(BaseModel):
    """One team's score on one benchmark, with what is known of its uncertainty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str
    model: str
    benchmark: str
    metric: str
    value: float = Field(allow_inf_nan=False)
    stderr: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    n: int | None = Field(default=None, ge=1)
    source: str


class ResultProblem(BaseModel):
    """A problem with a result that was read (e.g. a ``--limit`` run): the benchmark it is about, as data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str
    problem: Problem


class ResultSet(BaseModel):
    """Results read from one or more files, plus what was seen and not used (nothing is dropped silently)
    and the problems of results that were read but do not mean what the scheme says (``problems``)."""

    model_config = ConfigDict(frozen=True)

    results: tuple[BenchmarkResult, ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[ResultProblem, ...] = ()

    def table(self) -> pd.DataFrame:
        """The tidy table: team, model, benchmark, metric, value, stderr, n, source."""
        cols = [*RESULT_COLUMNS, "source"]
        return pd.DataFrame([r.model_dump() for r in self.results], columns=cols)

    def to_summary(self) -> dict[str, Any]:
        """JSON-able summary: the results (rounded) and the notes."""
        return {
            "results": [
                {"team": r.team, "model": r.model, "benchmark": r.benchmark, "metric": r.metric,
                 "value": rounded(r.value, 6), "stderr": rounded(r.stderr, 6), "n": r.n, "source": r.source}
                for r in sorted(self.results, key=lambda r: (r.team, r.benchmark))
            ],
            "notes": list(self.notes),
        }


def _number(value: Any, where: str, name: str, expected: str = "a finite number") -> float:
    # JSON booleans are ints in Python; a true/false score is a mistake, not 1/0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvidenceError(f"value {value!r} is not a number", file=name, place=where, expected=expected)
    return float(value)


def parse_harness_results(
    doc: Any, name: str, *, team: str, model: str, benchmarks: Sequence[BenchmarkSpec], source: str | None = None,
) -> ResultSet:
    """Read the ``benchmarks`` found in one lm-evaluation-harness results document (``name``: how errors name
    the file; ``source``: how results name it, default its base name).

    Accepts harness 0.4+ keys (``acc,none`` / ``acc_stderr,none``) and harness 0.3 keys (``acc`` /
    ``acc_stderr``); a stderr of ``"N/A"`` (harness run without bootstrap) means unknown. A benchmark is
    found under its task or an alias, each with its own metric key (:meth:`BenchmarkSpec.task_keys`). The
    item count comes from ``n-samples[task].effective`` (0.4.2+) or ``sample_len`` when present (a group has
    none). A run with ``--limit`` (``effective < original`` for the task or, for a group, one of its
    ``group_subtasks``) is read and listed in ``problems``: it changes what the score means.
    Tasks present in the file but not asked for are listed in the notes. Errors name the task and list what
    was found: a file holding none of the benchmarks, a benchmark's task present without its metric, a task
    matched twice.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise EvidenceError("no 'results' object", file=name, place="top level",
                            expected="an lm-evaluation-harness results JSON with a 'results' block")
    block: dict[str, Any] = doc["results"]
    n_samples = doc.get("n-samples") if isinstance(doc.get("n-samples"), dict) else {}
    groups = doc.get("group_subtasks") if isinstance(doc.get("group_subtasks"), dict) else {}
    results: list[BenchmarkResult] = []
    problems: list[ResultProblem] = []
    used: set[str] = set()
    source = source or Path(name).name
    for spec in benchmarks:
        keys = [k for k in spec.task_keys() if k.task in block]
        if not keys:
            continue
        if len(keys) > 1:
            raise EvidenceError(f"benchmark {spec.id} matches several tasks: {', '.join(k.task for k in keys)}",
                                file=name, place="results", expected="one of them")
        task, metric, legacy = keys[0]
        used.add(task)
        entry = block[task]
        where = f"results.{task}"
        if not isinstance(entry, dict):
            raise EvidenceError("task entry is not an object", file=name, place=where, expected="metric: value pairs")
        filt = metric.split(",", 1)[1] if "," in metric else None
        if metric in entry:
            key = metric
            se_key = metric.split(",", 1)[0] + "_stderr" + (f",{filt}" if filt is not None else "")
        elif legacy in entry:
            key, se_key = legacy, legacy + "_stderr"
        else:
            found = sorted(k for k in entry if "_stderr" not in k and k not in ("alias", "name", "sample_len"))
            raise EvidenceError(f"metric '{metric}' missing for {spec.id} (found: {', '.join(found) or 'none'})",
                                file=name, place=where, expected=f"'{metric}' or legacy '{legacy}'")
        value = _number(entry[key], f"{where}.{key}", name)
        if (why := spec.check_value(value)) is not None:
            # a problem of this benchmark only (it is scored 0, with the problem); the file's other results count
            problems.append(ResultProblem(benchmark=spec.id, problem=Problem(
                message=f"{spec.id}: {why}: not used", file=name, place=f"{where}.{key}",
                expected="the metric's native scale")))
            continue
        se_raw = entry.get(se_key)
        stderr = None if se_raw in (None, "N/A") else _number(se_raw, f"{where}.{se_key}", name, "a number or 'N/A'")
        if stderr is not None and stderr < 0:
            raise EvidenceError(f"negative stderr {stderr}", file=name, place=f"{where}.{se_key}", expected=">= 0")
        n = _item_count(n_samples.get(task), entry.get("sample_len"), f"n-samples.{task}", name)
        for sub, eff, orig in _sample_counts(task, n_samples, groups, name):
            if orig is not None and eff < orig:
                problems.append(ResultProblem(benchmark=spec.id, problem=Problem(
                    message=f"{spec.id}: run with --limit: {eff} of {orig} items of {sub} scored, so the score "
                            "is not the benchmark's", file=name, place=f"n-samples.{sub}",
                    expected="a run over every item (effective = original, no --limit)",
                    code="bench_limit", params={"benchmark": spec.id, "task": sub, "effective": eff, "original": orig})))
        results.append(BenchmarkResult(team=team, model=model, benchmark=spec.id, metric=key, value=value,
                                       stderr=stderr, n=n, source=f"{source}:{where}"))
    if not results:
        wanted = ", ".join(sorted({k.task for s in benchmarks for k in s.task_keys()}))
        raise EvidenceError(f"none of the scheme's benchmarks found (found tasks: {', '.join(sorted(block)) or 'none'})",
                            file=name, place="results", expected=f"at least one of: {wanted}")
    others = sorted(set(block) - used)
    notes = (f"{source}: not used (not in the scheme): {', '.join(others)}",) if others else ()
    return ResultSet(results=tuple(results), notes=notes, problems=tuple(problems))


MAX_GROUP_DEPTH = 8


def _sample_counts(task: str, n_samples: Mapping[str, Any], groups: Mapping[str, Any], name: str,
                   depth: int = 0) -> list[tuple[str, int, int | None]]:
    """(task, effective, original) for ``task`` or, for a group, every subtask that has ``n-samples``."""
    if task in n_samples:
        entry = n_samples[task]
        eff = _item_count(entry, None, f"n-samples.{task}", name)
        if eff is None:
            return []
        orig = entry.get("original") if isinstance(entry, dict) else None
        orig = _item_count({"effective": orig}, None, f"n-samples.{task}.original", name) if orig is not None else None
        return [(task, eff, orig)]
    subtasks = groups.get(task)
    if depth >= MAX_GROUP_DEPTH or not isinstance(subtasks, list):
        return []
    return [c for sub in subtasks if isinstance(sub, str)
            for c in _sample_counts(sub, n_samples, groups, name, depth + 1)]


def _item_count(n_entry: Any, sample_len: Any, where: str, name: str) -> int | None:
    raw = n_entry.get("effective") if isinstance(n_entry, dict) else sample_len
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise EvidenceError(f"item count {raw!r} is not a positive integer", file=name, place=where,
                            expected="a positive integer")
    return raw


def read_harness_json(
    path: str | Path, *, team: str, model: str, sets: BenchmarkSets | None = None,
    benchmarks: Sequence[BenchmarkSpec] | None = None, max_bytes: int = MAX_DOC_BYTES, name: str | None = None,
) -> ResultSet:
    """Load one harness ``results*.json`` (bounded, strict JSON) and read the scheme's benchmarks from it.

    ``benchmarks`` defaults to every benchmark of ``sets`` (the package scheme when None), so one file
    with any subset of them loads; ``name`` is how errors and result sources name the file (default: the
    path in errors, its base name in sources); see :func:`parse_harness_results`.
    """
    specs = benchmarks if benchmarks is not None else (sets or load_benchmark_sets()).all()
    return parse_harness_results(load_json(path, max_bytes), name or str(path), team=team, model=model,
                                 benchmarks=specs, source=name)


def read_results_csv(
    path: str | Path, *, sets: BenchmarkSets | None = None, extra: Sequence[BenchmarkSpec] = (),
    max_bytes: int = MAX_CSV_BYTES, name: str | None = None,
) -> ResultSet:
    """Load the tidy results CSV: ``team, model, benchmark, metric, value, stderr, n``.

    ``benchmark`` is a scheme id (or one of ``extra``); ``metric`` must be one of the scheme's metric keys
    for it (its own, its legacy key or an alias's); ``stderr`` and ``n`` may be empty (unknown). An unknown
    benchmark, a wrong metric, a non-numeric value or a repeated (team, benchmark) row is an error naming the
    line and listing what was expected. A value outside the metric's range (``48.3`` where 0-1 is expected) is
    a problem of that benchmark only (``problems``; the row is not used, the others count); ``name`` is how
    errors and sources name the file (default: the path in errors, its base name in sources).
    """
    source = name or Path(path).name
    name = name or str(path)
    frame = read_csv(path, RESULT_COLUMNS[:5], RESULT_COLUMNS[5:], max_bytes, name=name)
    require_filled(frame, RESULT_COLUMNS[:5], name)
    specs = {s.id: s for s in (*(sets or load_benchmark_sets()).all(), *extra)}
    values = to_numbers(frame, "value", name)
    stderrs = to_numbers(frame, "stderr", name, allow_empty=True)
    ns = to_numbers(frame, "n", name, allow_empty=True)
    seen: dict[tuple[str, str], int] = {}
    results = []
    problems: list[ResultProblem] = []
    for i, row in enumerate(frame.itertuples(index=False)):
        line = int(row.line)
        spec = specs.get(row.benchmark)
        if spec is None:
            raise EvidenceError(f"unknown benchmark '{row.benchmark}'", file=name, line=line, place="column benchmark",
                                expected="one of " + ", ".join(sorted(specs)))
        if row.metric not in spec.metric_keys():
            raise EvidenceError(f"metric '{row.metric}' is not the scheme's metric for {spec.id}", file=name,
                                line=line, place="column metric",
                                expected=" or ".join(f"'{k}'" for k in spec.metric_keys()))
        if (why := spec.check_value(values[i])) is not None:
            # a problem of this benchmark only (it is scored 0, with the problem); the file's other rows count
            problems.append(ResultProblem(benchmark=spec.id, problem=Problem(
                message=f"{spec.id}: {why}: not used", file=name, line=line, place="column value",
                expected="the metric's native scale")))
            continue
        if stderrs[i] < 0:
            raise EvidenceError(f"negative stderr {stderrs[i]}", file=name, line=line, place="column stderr",
                                expected=">= 0 or empty")
        n = None if math.isnan(ns[i]) else ns[i]
        if n is not None and (n < 1 or n != int(n)):
            raise EvidenceError(f"item count {row.n} is not a positive integer", file=name, line=line,
                                place="column n", expected="a positive integer or empty")
        key = (row.team, spec.id)
        if key in seen:
            raise EvidenceError(f"duplicate result for team {row.team}, benchmark {spec.id} (first at line {seen[key]})",
                                file=name, line=line, expected="one row per team and benchmark")
        seen[key] = line
        results.append(BenchmarkResult(
            team=row.team, model=row.model, benchmark=spec.id, metric=row.metric, value=values[i],
            stderr=None if math.isnan(stderrs[i]) else stderrs[i], n=None if n is None else int(n),
            source=f"{source}:{line}"))
    return ResultSet(results=tuple(results), problems=tuple(problems))


def combine_results(*parts: ResultSet) -> ResultSet:
    """Merge result sets (e.g. one harness file per task); the same (team, benchmark) twice is an error naming
    both sources."""
    seen: dict[tuple[str, str], BenchmarkResult] = {}
    for part in parts:
        for r in part.results:
            first = seen.get((r.team, r.benchmark))
            if first is not None:
                raise EvidenceError(f"duplicate result for team {r.team}, benchmark {r.benchmark}: in {first.source} "
                                    f"and {r.source}", file=r.source.rsplit(":", 1)[0],
                                    expected="each benchmark once per team")
            seen[(r.team, r.benchmark)] = r
    return ResultSet(results=tuple(r for p in parts for r in p.results),
                     notes=tuple(n for p in parts for n in p.notes),
                     problems=tuple(q for p in parts for q in p.problems))


# ---------------------------------------------------------------- declared references

class Reference(BaseModel):
    """Scores of a reference model per benchmark id (e.g. the frontier model for the re-challenge)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    scores: dict[str, float]

    @field_validator("scores")
    @classmethod
    def _finite(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, x in v.items() if not math.isfinite(x) or x <= 0)
        if bad:
            raise ValueError(f"reference scores must be finite and > 0 (not: {', '.join(bad)})")
        return v


class Targets(Reference):
    """A team's declaration: its target model's scores and its 2 individual benchmarks."""

    team: str
    individual: tuple[str, str]


# ---------------------------------------------------------------- formulas

def achievement_ratio(
    scores: np.ndarray, targets: np.ndarray, higher_is_better: np.ndarray, *, frontier: np.ndarray | None = None,
    cap: float = 1.0,
) -> np.ndarray:
    """Per-benchmark ratio ``min(s/t, cap)`` (``min(t/s, cap)`` when lower is better); broadcasts over rows."""
    del frontier  # same signature as every formula; this one needs only the targets
    return _ratio(scores, targets, higher_is_better, cap)


def frontier_ratio(
    scores: np.ndarray, targets: np.ndarray, higher_is_better: np.ndarray, *, frontier: np.ndarray | None = None,
    share: float = 0.95, cap: float = 1.0,
) -> np.ndarray:
    """Per-benchmark ratio against ``share`` x the frontier score (``frontier / share`` when lower is better)."""
    del targets
    if frontier is None:
        raise RubricError("formula frontier_ratio needs frontier reference scores", expected="frontier=Reference(...)")
    reference = np.where(higher_is_better, frontier * share, frontier / share)
    return _ratio(scores, reference, higher_is_better, cap)


def _ratio(scores: np.ndarray, reference: np.ndarray, higher: np.ndarray, cap: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(higher, scores / reference, reference / scores)
    # a lower-is-better score of 0 is perfect: the ratio is infinite and capped
    return np.minimum(np.nan_to_num(r, nan=cap, posinf=cap), cap)




class BenchmarkRow(BaseModel):
    """One benchmark's line in the points computation."""

    model_config = ConfigDict(frozen=True)

    benchmark: str
    name_ko: str
    name_en: str
    metric: str
    higher_is_better: bool
    score: float | None
    stderr: float | None
    se_source: Literal["harness", "item count", "none", "missing"]
    ci_low: float | None
    ci_high: float | None
    reference: float
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    met: bool
    within_noise: bool
    source: str | None


class ComputedPoints(BaseModel):
    """Points for one computed criterion, their interval, and every number they came from."""

    model_config = ConfigDict(frozen=True)

    formula: str
    params: dict[str, Any]
    team: str
    points: float
    max_points: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    seed: int
    per_benchmark: tuple[BenchmarkRow, ...]
    flags: tuple[Finding, ...]  # codes bench_missing, bench_exact, bench_noise (flag_<code> in the catalogue)

    def table(self) -> pd.DataFrame:
        """Per-benchmark rows as a DataFrame."""
        return pd.DataFrame([r.model_dump() for r in self.per_benchmark])

    def to_summary(self) -> dict[str, Any]:
        """JSON-able, deterministic summary for the score sheet (finite numbers, rounded)."""
        return {
            "formula": self.formula, "params": dict(sorted(self.params.items())), "team": self.team,
            "points": rounded(self.points, 4), "max_points": self.max_points,
            "ci_low": rounded(self.ci_low, 4), "ci_high": rounded(self.ci_high, 4), "confidence": self.confidence,
            "method": self.method, "seed": self.seed,
            "per_benchmark": [
                {k: (rounded(v, 6) if isinstance(v, float) else v) for k, v in row.model_dump().items()}
                for row in self.per_benchmark
            ],
            "flags": [f.model_dump(mode="json") for f in self.flags],
        }


def _set_members(set_name: str, targets: Targets, sets: BenchmarkSets) -> tuple[BenchmarkSpec, ...]:
    """The benchmarks of ``nia``, ``common`` or the team's ``individual`` pair, in a stable order."""
    if set_name in ("nia", "common"):
        return getattr(sets, set_name)
    if set_name != "individual":
        raise RubricError(f"unknown benchmark set '{set_name}'", expected="nia, common or individual")
    # a team's own benchmark is added to the round's scheme catalogue (round data, amended in the open)
    known = {s.id: s for s in sets.catalogue}
    unknown = [b for b in targets.individual if b not in known]
    if unknown:
        raise EvidenceError(f"team {targets.team}: individual benchmark(s) {', '.join(unknown)} not in the catalogue",
                            place="individual", expected="a catalogue id of the round's scheme: "
                            + ", ".join(s.id for s in sets.catalogue))
    if len(set(targets.individual)) != 2:
        raise EvidenceError(f"team {targets.team}: the two individual benchmarks are the same", place="individual",
                            expected="two different benchmarks")
    return tuple(known[b] for b in sorted(targets.individual))


def compute_points(
    formula: str, params: Mapping[str, Any], points: float, results: ResultSet, targets: Targets,
    frontier: Reference | None = None, seed: int = 0, *, sets: BenchmarkSets | None = None,
) -> ComputedPoints:
    """Points for one benchmark criterion of the rubric, with a bootstrap interval and flags.

    ``formula`` is a formula id of :mod:`workbench.model.formulas`; ``params`` its rubric params (``set`` required); ``points``
    the criterion's maximum; ``results`` hold the team's scores (other teams' rows are ignored); ``targets``
    the team's declaration; ``frontier`` the reference for ``frontier_ratio``. See the module docstring for
    the formulas. Deterministic for a given ``seed``.
    """
    spec = get_formula(formula)  # registered once, in workbench.model.formulas
    extra = set(params) - spec.params
    if extra or "set" not in params:
        raise RubricError(f"formula {formula}: bad params {sorted(params)}",
                          expected="keys among " + ", ".join(sorted(spec.params)) + " including 'set'")
    cap = float(params.get("cap", 1.0))
    share = float(params.get("share", 0.95))
    missing = params.get("missing", "zero")
    confidence = float(params.get("confidence", 0.95))
    resamples = int(params.get("resamples", 2000))
    if not (cap > 0 and 0 < share <= 1 and 0 < confidence < 1 and resamples >= 100 and missing in ("error", "zero")):
        raise RubricError(f"formula {formula}: params out of range {dict(params)}",
                          expected="cap > 0, 0 < share <= 1, 0 < confidence < 1, resamples >= 100, "
                                   "missing 'error' or 'zero'")
    if points <= 0 or not math.isfinite(points):
        raise RubricError(f"criterion points {points}", expected="a positive number")
    sets = sets or load_benchmark_sets()
    specs = _set_members(params["set"], targets, sets)
    reference_of = frontier if spec.reference == "frontier" else targets
    if reference_of is None:
        raise RubricError(f"formula {formula} needs frontier reference scores", expected="frontier=Reference(...)")
    absent = [s.id for s in specs if s.id not in reference_of.scores]
    if absent:
        raise EvidenceError(f"{reference_of.model}: no reference score for {', '.join(absent)}", place="scores",
                            expected="a score for every benchmark of the set: " + ", ".join(s.id for s in specs))

    mine = {r.benchmark: r for r in results.results if r.team == targets.team}
    lacking = [s.id for s in specs if s.id not in mine]
    flags: list[Finding] = []
    if lacking and missing == "error":
        raise EvidenceError(f"team {targets.team}: no result for {', '.join(lacking)} "
                            f"(found: {', '.join(sorted(mine)) or 'none'})", place=f"set {params['set']}",
                            expected="a result for every benchmark of the set: " + ", ".join(s.id for s in specs))
    flags += [Finding(code="bench_missing", params={"benchmark": b}) for b in lacking]

    k = len(specs)
    present = np.array([s.id in mine for s in specs])
    score = np.array([mine[s.id].value if s.id in mine else np.nan for s in specs])
    higher = np.array([s.higher_is_better for s in specs])
    target = np.array([targets.scores.get(s.id, np.nan) for s in specs], dtype=float)
    front = np.array([frontier.scores.get(s.id, np.nan) for s in specs], dtype=float) if frontier else None
    se, se_source = _standard_errors(specs, mine)
    for s, src in zip(specs, se_source, strict=True):
        if src == "none":
            flags.append(Finding(code="bench_exact", params={"benchmark": s.id}))
    lo_range = np.array([-np.inf if s.min is None else s.min for s in specs])
    hi_range = np.array([np.inf if s.max is None else s.max for s in specs])

    kwargs: dict[str, Any] = {"cap": cap, "frontier": front}
    if "share" in spec.params:
        kwargs["share"] = share
    # a registered formula's own params (numbers), as the rubric gives them
    kwargs.update({k: float(params[k]) for k in sorted(spec.params - COMMON_PARAMS - {"share"}) if k in params})
    fn = spec.function()

    def set_points(s: np.ndarray) -> np.ndarray:
        r = np.where(present, fn(np.where(present, s, 1.0), target, higher, **kwargs), 0.0)
        return points * r.mean(axis=-1), r

    total, ratio = set_points(score)
    rng = np.random.default_rng(seed)
    draws = np.clip(score + se * rng.standard_normal((resamples, k)), lo_range, hi_range)
    boot_total, boot_ratio = set_points(np.where(present, draws, 1.0))
    alpha = (1 - confidence) / 2
    uncertain = bool(np.any(se[present] > 0))
    ci = np.quantile(boot_total, [alpha, 1 - alpha]) if uncertain else np.array([total, total])
    r_ci = np.quantile(boot_ratio, [alpha, 1 - alpha], axis=0)
    z = NormalDist().inv_cdf(1 - alpha)
    reference = target if front is None or spec.reference != "frontier" else np.where(higher, front * share, front / share)

    rows = []
    for i, s in enumerate(specs):
        r = mine.get(s.id)
        lo = hi = None
        met = within = False
        if r is not None:
            lo, hi = (float(max(score[i] - z * se[i], lo_range[i])), float(min(score[i] + z * se[i], hi_range[i])))
            met = bool(score[i] >= reference[i] if higher[i] else score[i] <= reference[i])
            within = not met and se[i] > 0 and (hi >= reference[i] if higher[i] else lo <= reference[i])
            if within:
                flags.append(Finding(code="bench_noise", params={
                    "benchmark": s.id, "reference": rounded(float(reference[i]), 6), "confidence": confidence,
                    "low": rounded(lo, 6), "high": rounded(hi, 6)}))
        rows.append(BenchmarkRow(
            benchmark=s.id, name_ko=s.name_ko, name_en=s.name_en, metric=s.metric if r is None else r.metric,
            higher_is_better=s.higher_is_better,
            score=None if r is None else r.value, stderr=float(se[i]) if se_source[i] in ("harness", "item count") else None,
            se_source=se_source[i], ci_low=lo, ci_high=hi, reference=float(reference[i]), ratio=float(ratio[i]),
            ratio_ci_low=float(r_ci[0, i]), ratio_ci_high=float(r_ci[1, i]), met=met, within_noise=within,
            source=None if r is None else r.source))
    method = (f"parametric bootstrap: scores ~ Normal(score, se), {resamples} resamples, seed {seed}, "
              f"{confidence:.0%} percentile interval" if uncertain else "exact: no standard errors available")
    used = {"set": params["set"], "cap": cap, "missing": missing, "confidence": confidence, "resamples": resamples}
    if "share" in spec.params:
        used["share"] = share
    return ComputedPoints(formula=formula, params=used, team=targets.team, points=float(total), max_points=float(points),
                          ci_low=float(ci[0]), ci_high=float(ci[1]), confidence=confidence, method=method, seed=seed,
                          per_benchmark=tuple(rows), flags=tuple(flags))


def _standard_errors(specs: Sequence[BenchmarkSpec], mine: Mapping[str, BenchmarkResult]) -> tuple[np.ndarray, list]:
    se = np.zeros(len(specs))
    src: list[str] = []
    for i, s in enumerate(specs):
        r = mine.get(s.id)
        if r is None:
            src.append("missing")
        elif r.stderr is not None:
            se[i] = r.stderr
            src.append("harness")
        elif r.n is not None and s.proportion and 0 <= r.value <= 1:
            se[i] = math.sqrt(r.value * (1 - r.value) / r.n)
            src.append("item count")
        else:
            src.append("none")
    return se, src


# ---------------------------------------------------------------- chart

def results_chart(computed: ComputedPoints | Iterable[ComputedPoints], lang: str = "ko") -> alt.TopLevelMixin:
    """Scores with their interval as error bars, and each benchmark's reference as a red tick (the target line)."""
    alt = altair()
    items = [computed] if isinstance(computed, ComputedPoints) else list(computed)
    rows = [
        {"team": c.team, "benchmark": r.name_ko if lang == "ko" else r.name_en, "score": r.score,
         "low": r.ci_low if r.ci_low is not None else r.score, "high": r.ci_high if r.ci_high is not None else r.score,
         "reference": r.reference, "noise": r.within_noise}
        for c in items for r in c.per_benchmark if r.score is not None
    ]
    data = pd.DataFrame(rows, columns=["team", "benchmark", "score", "low", "high", "reference", "noise"])
    x = alt.X("benchmark:N", title=msg("chart_benchmark", lang), sort=None)
    base = alt.Chart()
    # one team (a reviewer's notebook): no legend to read, the title says whose results these are
    color = alt.Color("team:N", title=msg("chart_team", lang), legend=None if len({c.team for c in items}) == 1 else alt.Legend())
    bars = base.mark_errorbar(ticks=True).encode(x=x, y=alt.Y("low:Q", title=msg("chart_score", lang)), y2="high:Q",
                                                 color=color)
    dots = base.mark_point(filled=True, size=60).encode(
        x=x, y="score:Q", color=color, tooltip=["team", "benchmark", "score", "low", "high", "reference"])
    target = base.mark_tick(color="#d62728", thickness=2, size=24).encode(
        x=x, y="reference:Q", tooltip=[alt.Tooltip("reference:Q", title=msg("chart_target", lang))])
    chart = alt.layer(bars, dots, target, data=data).properties(title=msg("chart_bench_title", lang), width=alt.Step(36), height=260)
    if len({c.team for c in items}) > 1:
        chart = chart.facet(row=alt.Row("team:N", title=None))
    return style(chart)
