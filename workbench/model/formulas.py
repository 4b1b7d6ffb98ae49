"""The formulas a computed criterion may name: one registry, which rubric checks and the evidence both read.

A formula is registered once, as a :class:`Formula`: its id, what it computes (in words, for people), the
rubric params it accepts, which reference it compares scores with (the team's declared targets or the
frontier model's scores), and where its implementation lives (``"module:function"``, imported on first use,
so checking a rubric imports no evidence code). The built-in ones are in :data:`BUILTIN`; another package adds
one with an entry point in the group ``workbench.formulas`` whose object is a :class:`Formula` (as papermill
finds engines), or, in a running process, with :func:`register_formula`.

An implementation is called per benchmark row as ``fn(scores, targets, higher_is_better, *, frontier=None,
cap=..., **extra_params)`` and returns the ratio (0..cap) per benchmark; see
:func:`workbench.evidence.benchmarks.achievement_ratio`.

Public API: :class:`Formula`, :data:`BUILTIN`, :data:`COMMON_PARAMS`, :func:`formulas`, :func:`get_formula`,
:func:`register_formula`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import RubricError
from ..core.registry import entry_point_objects

__all__ = ["BUILTIN", "COMMON_PARAMS", "Formula", "formulas", "get_formula", "register_formula"]

ENTRY_POINT_GROUP = "workbench.formulas"
# params every formula accepts (the benchmark set, the cap, missing results, the bootstrap's interval)
COMMON_PARAMS = frozenset({"set", "cap", "missing", "confidence", "resamples"})


@dataclass(frozen=True)
class Formula:
    """One computed formula: its id, its description, its params, its reference and its implementation."""

    name: str
    description: str
    implementation: str  # "package.module:function"
    reference: Literal["targets", "frontier"] = "targets"
    params: frozenset[str] = COMMON_PARAMS

    def function(self) -> Callable[..., Any]:
        """The implementation, imported now."""
        module, _, attr = self.implementation.partition(":")
        return getattr(importlib.import_module(module), attr)


BUILTIN: dict[str, Formula] = {f.name: f for f in (
    Formula("achievement_ratio", "mean over the set's benchmarks of min(score / declared target score, cap)",
            "workbench.evidence.benchmarks:achievement_ratio"),
    Formula("frontier_ratio", "mean over the set's benchmarks of min(score / (share x frontier score), cap)",
            "workbench.evidence.benchmarks:frontier_ratio", reference="frontier",
            params=COMMON_PARAMS | {"share"}),
)}
_registered: dict[str, Formula] = {}
_from_entry_points: dict[str, Formula] | None = None


def register_formula(formula: Formula) -> Formula:
    """Add ``formula`` for this process (a test, a notebook); its id must be new."""
    if formula.name in formulas():
        raise RubricError(f"formula '{formula.name}' is already registered", expected="a new formula id")
    _registered[formula.name] = formula
    return formula


def _entry_points() -> dict[str, Formula]:
    global _from_entry_points
    if _from_entry_points is None:
        found = entry_point_objects(ENTRY_POINT_GROUP, Formula, lambda f: f.name, error=RubricError,
                                    what="a Formula named", expected="workbench.model.formulas.Formula(name=...)")
        _from_entry_points = found
    return _from_entry_points


def formulas() -> dict[str, Formula]:
    """Every formula: the built-in ones, those of installed packages' entry points, and registered ones."""
    return {**_entry_points(), **_registered, **BUILTIN}


def get_formula(name: str) -> Formula:
    """The formula named ``name``; an unknown id is a :class:`RubricError` listing the known ones."""
    known = formulas()
    if name not in known:
        raise RubricError(f"unknown formula '{name}'", expected="one of " + ", ".join(sorted(known)))
    return known[name]
