"""Evidence: pure functions of hashed, team-submitted inputs, returning typed results, tables and charts.

Every function here treats its input files as untrusted: sizes are bounded, nothing is unpickled, and a
malformed file raises :class:`workbench.core.errors.EvidenceError` naming the file, the place and what was expected.

The public API is re-exported here and imported on first use (PEP 562): one reader and one analysis per
kind of evidence. Modules named ``_...`` are private helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_api

_API = {
    "load_benchmark_sets": "benchmarks", "read_harness_json": "benchmarks", "read_results_csv": "benchmarks",
    "compute_points": "benchmarks", "ComputedPoints": "benchmarks", "Targets": "benchmarks",
    "read_survey": "users", "read_votes": "users", "survey_points": "users", "bradley_terry": "users",
    "load_model_cost": "cost", "cost_efficiency": "cost",
    "fingerprint_model": "weights", "load_model_or_fingerprint": "weights", "read_fingerprint": "weights",
    "write_fingerprint": "weights", "Fingerprint": "weights",
    "compare": "provenance", "ProvenanceReport": "provenance",
    "load_tokenizer": "tokenizer", "compare_tokenizers": "tokenizer",
    "load_training_log": "training", "analyze_training": "training",
    "load_config": "config", "compare_configs": "config",
    "load_manifest": "licences", "check_licences": "licences",
}

__all__ = [  # the literal list keeps linters and IDEs informed; tests check it equals _API
    "ComputedPoints",
    "Fingerprint",
    "ProvenanceReport",
    "Targets",
    "analyze_training",
    "bradley_terry",
    "check_licences",
    "compare",
    "compare_configs",
    "compare_tokenizers",
    "compute_points",
    "cost_efficiency",
    "fingerprint_model",
    "load_benchmark_sets",
    "load_config",
    "load_manifest",
    "load_model_cost",
    "load_model_or_fingerprint",
    "load_tokenizer",
    "load_training_log",
    "read_fingerprint",
    "read_harness_json",
    "read_results_csv",
    "read_survey",
    "read_votes",
    "survey_points",
    "write_fingerprint",
]


__getattr__, __dir__ = lazy_api(__name__, _API, globals())


if TYPE_CHECKING:
    from .benchmarks import (
        ComputedPoints,
        Targets,
        compute_points,
        load_benchmark_sets,
        read_harness_json,
        read_results_csv,
    )
    from .config import compare_configs, load_config
    from .cost import cost_efficiency, load_model_cost
    from .licences import check_licences, load_manifest
    from .provenance import ProvenanceReport, compare
    from .tokenizer import compare_tokenizers, load_tokenizer
    from .training import analyze_training, load_training_log
    from .users import bradley_terry, read_survey, read_votes, survey_points
    from .weights import (
        Fingerprint,
        fingerprint_model,
        load_model_or_fingerprint,
        read_fingerprint,
        write_fingerprint,
    )
