"""The benchmark scheme: which benchmarks count, where each lives in a harness results file and how to read it.

The scheme is round data, like the rubrics: ``workbench round init`` copies the package's default
(``workbench/data/benchmark_sets.yaml``) into the round as :data:`SCHEME_FILE`, ``rules.yaml`` pins its
content hash (``benchmarks: {file, sha256}``), the frozen state holds its content, and an edit is an
amendment in the open. Comments and formatting do not count: :attr:`BenchmarkSets.sha256` hashes the
validated content.

A benchmark names one harness task and metric key; ``aliases`` are other task names that report the same
benchmark, each either a bare task name (read with the benchmark's metric) or a mapping
``{task, metric, legacy_metric}`` when that task reports it under another key (the Open LLM Leaderboard v2
tasks, e.g. ``leaderboard_mmlu_pro`` reports ``acc,none``).

Public API: :class:`BenchmarkSpec`, :class:`TaskAlias`, :class:`BenchmarkSets`, :func:`load_benchmark_sets`,
:func:`parse_benchmark_sets`, :func:`package_scheme_text`, :data:`SCHEME_FILE`, :data:`PACKAGE_SCHEME`.
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..core.base import from_pydantic
from ..core.errors import RubricError
from ..core.files import MAX_DOC_BYTES, canonical_json, load_yaml, parse_yaml, sha256_bytes

__all__ = [
    "PACKAGE_SCHEME",
    "SCHEME_FILE",
    "BenchmarkSets",
    "BenchmarkSpec",
    "TaskAlias",
    "TaskKey",
    "load_benchmark_sets",
    "package_scheme_text",
    "parse_benchmark_sets",
]

SCHEME_FILE = "rubrics/benchmarks.yaml"  # where a round keeps its copy, next to the rubric copies
PACKAGE_SCHEME = "data/benchmark_sets.yaml"  # the default, under the package


class TaskAlias(BaseModel):
    """Another harness task that reports a benchmark, possibly under its own metric key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(min_length=1)
    metric: str | None = None  # None: the benchmark's own metric
    legacy_metric: str | None = None


class TaskKey(NamedTuple):
    """Where a benchmark's number lives: the task, its metric key and the harness 0.3 key."""

    task: str
    metric: str
    legacy: str


def _legacy(metric: str, legacy: str | None) -> str:
    return legacy or metric.split(",", 1)[0]


class BenchmarkSpec(BaseModel):
    """One benchmark of the scheme: where its number lives in a harness file and how to read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name_ko: str
    name_en: str
    task: str
    aliases: tuple[str | TaskAlias, ...] = ()
    metric: str
    legacy_metric: str | None = None
    higher_is_better: bool = True
    min: float | None = 0.0
    max: float | None = 1.0
    proportion: bool = True
    domain: str = ""

    @property
    def legacy_key(self) -> str:
        """The metric key as harness 0.3 wrote it (no ``,filter`` suffix)."""
        return _legacy(self.metric, self.legacy_metric)

    def task_keys(self) -> tuple[TaskKey, ...]:
        """The benchmark's own task, then each alias, with the metric keys to read there."""
        out = [TaskKey(self.task, self.metric, self.legacy_key)]
        for a in self.aliases:
            if isinstance(a, str):
                out.append(TaskKey(a, self.metric, self.legacy_key))
            elif a.metric is None:
                out.append(TaskKey(a.task, self.metric, a.legacy_metric or self.legacy_key))
            else:
                out.append(TaskKey(a.task, a.metric, _legacy(a.metric, a.legacy_metric)))
        return tuple(out)

    def metric_keys(self) -> tuple[str, ...]:
        """Every metric key a result of this benchmark may carry (own, legacy, aliases'), without repeats."""
        return tuple(dict.fromkeys(k for t in self.task_keys() for k in (t.metric, t.legacy)))

    def name(self, lang: str = "ko") -> str:
        """Display name in ``ko`` or ``en``."""
        return self.name_ko if lang == "ko" else self.name_en

    def check_value(self, value: float, what: str = "value") -> str | None:
        """Why ``value`` is outside the metric's range, or None when it is inside."""
        lo = -math.inf if self.min is None else self.min
        hi = math.inf if self.max is None else self.max
        if not (lo <= value <= hi):
            return f"{what} {value} outside the range [{self.min}, {self.max}] of {self.id} ({self.metric})"
        return None


class BenchmarkSets(BaseModel):
    """The NIA set, the global common benchmarks and the catalogue of individual candidates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nia: tuple[BenchmarkSpec, ...]
    common: tuple[BenchmarkSpec, ...]
    catalogue: tuple[BenchmarkSpec, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> BenchmarkSets:
        ids = [s.id for s in self.all()]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"benchmark ids repeated across sets: {', '.join(dupes)}")
        # a task read as two benchmarks would count one run twice
        tasks = [t.task for s in self.all() for t in s.task_keys()]
        dupes = sorted({t for t in tasks if tasks.count(t) > 1})
        if dupes:
            raise ValueError(f"harness task(s) named by more than one benchmark or alias: {', '.join(dupes)}")
        return self

    def all(self) -> tuple[BenchmarkSpec, ...]:
        """Every known benchmark, in file order."""
        return (*self.nia, *self.common, *self.catalogue)

    def by_id(self) -> dict[str, BenchmarkSpec]:
        """Map from id to spec."""
        return {s.id: s for s in self.all()}

    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of the RFC 8785 canonical JSON of the validated content (comments and layout do not count)."""
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))


def parse_benchmark_sets(text: str, name: str) -> BenchmarkSets:
    """Parse and validate scheme YAML; :class:`RubricError` names the file, line and field."""
    data, lines = parse_yaml(text, name)
    return _validate(data, lines, name)


def _validate(data: object, lines: dict, name: str) -> BenchmarkSets:
    try:
        return BenchmarkSets.model_validate(data if data is not None else {})
    except pydantic.ValidationError as e:
        raise from_pydantic(e, RubricError, file=name, lines=lines, what="invalid benchmark scheme") from None


def load_benchmark_sets(path: str | Path | None = None) -> BenchmarkSets:
    """Load a benchmark scheme: the package's default unless ``path`` names another (a round's copy)."""
    if path is None:
        return _package_sets()
    data, lines = load_yaml(path, MAX_DOC_BYTES)
    return _validate(data, lines, str(path))


def package_scheme_text() -> tuple[str, str]:
    """The default scheme's YAML text (comments included: ``round init`` copies it) and its name."""
    return resources.files("workbench").joinpath(PACKAGE_SCHEME).read_text("utf-8"), f"workbench/{PACKAGE_SCHEME}"


@functools.cache
def _package_sets() -> BenchmarkSets:
    # package data never changes while the process runs, and the model is frozen: parse it once
    return parse_benchmark_sets(*package_scheme_text())
