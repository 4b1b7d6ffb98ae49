"""The reviewer workbench: score, sign, publish and audit a national evaluation of AI foundation models.

The public API is re-exported here; each name is imported from its module on first use (PEP 562), so that
``import workbench`` stays cheap for a notebook kernel that needs only the form.

- rules and sheets: :class:`Rubric`, :func:`load_rubric`, :class:`ScoreSheet`, :func:`build_sheet`,
  :func:`parse_sheet`, :func:`validate_sheet`
- a round: :class:`Round`, :func:`load_round`, :func:`eligibility`, :func:`init_round`, :func:`freeze`,
  :func:`amend`, :func:`check_frozen`, :func:`status`
- reviewing: :func:`open_review`; signing: :func:`generate_keypair`, :func:`sign_payload`, :func:`verify_envelope`
- coordinating: :func:`run_batch`, :func:`accepted_sheets`, :func:`aggregate_round`,
  :func:`write_report`; auditing: :func:`audit_round`; the demo: :func:`run_demo`
- errors: :class:`WorkbenchError` and its subclasses
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._lazy import lazy_api

# Library modules log to children of the "workbench" logger; the application (the CLI, a notebook) decides
# where records go. Without a configuration nothing is printed below WARNING.
logging.getLogger(__name__).addHandler(logging.NullHandler())

try:
    __version__ = version("reviewer-workbench")
except PackageNotFoundError:  # running from a source checkout without installing
    __version__ = "0.1.0"

# public name -> the module that defines it (not ``collect``: a function of that name would hide the module)
_API = {
    "Rubric": "rubric", "load_rubric": "rubric",
    "ScoreSheet": "sheet", "build_sheet": "sheet", "parse_sheet": "sheet", "validate_sheet": "sheet",
    "Round": "round", "load_round": "round", "eligibility": "round",
    "init_round": "lifecycle", "freeze": "lifecycle", "amend": "lifecycle", "check_frozen": "lifecycle",
    "status": "lifecycle",
    "open_review": "review",
    "generate_keypair": "signing", "sign_payload": "signing", "verify_envelope": "signing",
    "run_batch": "batch", "accepted_sheets": "collect",
    "aggregate_round": "aggregate", "write_report": "report", "audit_round": "audit", "run_demo": "demo",
    "WorkbenchError": "errors", "InputFileError": "errors", "ValidationError": "errors", "RubricError": "errors",
    "SheetError": "errors", "SignatureError": "errors", "KeyFileError": "errors", "EvidenceError": "errors",
    "RoundError": "errors", "IneligibleError": "errors",
}

__all__ = [  # the literal list keeps linters and IDEs informed; tests check it equals _API
    "__version__",
    "EvidenceError",
    "IneligibleError",
    "InputFileError",
    "KeyFileError",
    "Round",
    "RoundError",
    "Rubric",
    "RubricError",
    "ScoreSheet",
    "SheetError",
    "SignatureError",
    "ValidationError",
    "WorkbenchError",
    "accepted_sheets",
    "aggregate_round",
    "amend",
    "audit_round",
    "build_sheet",
    "check_frozen",
    "eligibility",
    "freeze",
    "generate_keypair",
    "init_round",
    "load_round",
    "load_rubric",
    "open_review",
    "parse_sheet",
    "run_batch",
    "run_demo",
    "sign_payload",
    "status",
    "validate_sheet",
    "verify_envelope",
    "write_report",
]


__getattr__, __dir__ = lazy_api(__name__, _API, globals())


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from .aggregate import aggregate_round
    from .audit import audit_round
    from .batch import run_batch
    from .collect import accepted_sheets
    from .demo import run_demo
    from .errors import (
        EvidenceError,
        IneligibleError,
        InputFileError,
        KeyFileError,
        RoundError,
        RubricError,
        SheetError,
        SignatureError,
        ValidationError,
        WorkbenchError,
    )
    from .lifecycle import amend, check_frozen, freeze, init_round, status
    from .report import write_report
    from .review import open_review
    from .round import Round, eligibility, load_round
    from .rubric import Rubric, load_rubric
    from .sheet import ScoreSheet, build_sheet, parse_sheet, validate_sheet
    from .signing import generate_keypair, sign_payload, verify_envelope
