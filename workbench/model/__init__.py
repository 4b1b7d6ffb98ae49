"""What a round is made of, as validated models: the rubrics, the benchmark scheme, a score sheet, and the
round's own files (rules, roster, teams, assignments) loaded as one :class:`Round`.

- :mod:`.rubric`: a rubric and its computed criteria; :mod:`.scheme`: the benchmark scheme
- :mod:`.sheet`: a score sheet, built, parsed and validated against its rubric
- :mod:`.round`: :class:`Round` and :func:`load_round`, eligibility, the round's signed state
- :mod:`.schemas`: JSON Schemas generated from these models
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "Rubric": "rubric", "load_rubric": "rubric", "BenchmarkSets": "scheme", "load_benchmark_sets":
    "scheme", "ScoreSheet": "sheet", "build_sheet": "sheet", "parse_sheet": "sheet", "validate_sheet":
    "sheet", "Round": "round", "load_round": "round", "eligibility": "round",
}

__all__ = [
    "BenchmarkSets", "Round", "Rubric", "ScoreSheet", "build_sheet", "eligibility", "load_benchmark_sets",
    "load_round", "load_rubric", "parse_sheet", "validate_sheet",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals())
