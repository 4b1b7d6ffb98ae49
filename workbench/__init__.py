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

from . import _compat
from .core._lazy import lazy_api

# Library modules log to children of the "workbench" logger; the application (the CLI, a notebook) decides
# where records go. Without a configuration nothing is printed below WARNING.
logging.getLogger(__name__).addHandler(logging.NullHandler())

try:
    __version__ = version("reviewer-workbench")
except PackageNotFoundError:  # running from a source checkout without installing
    __version__ = "0.1.0"

# public name -> the module that defines it (not ``collect``: a function of that name would hide the module)
_API = {
    "Rubric": "model.rubric", "load_rubric": "model.rubric",
    "ScoreSheet": "model.sheet", "build_sheet": "model.sheet", "parse_sheet": "model.sheet", "validate_sheet": "model.sheet",
    "Round": "model.round", "load_round": "model.round", "eligibility": "model.round",
    "init_round": "round.lifecycle", "freeze": "round.lifecycle", "amend": "round.lifecycle", "check_frozen": "round.lifecycle",
    "status": "round.lifecycle",
    "open_review": "notebook.review",
    "generate_keypair": "core.signing", "sign_payload": "core.signing", "verify_envelope": "core.signing",
    "run_batch": "run.batch", "accepted_sheets": "round.collect",
    "aggregate_round": "publish.aggregate", "write_report": "publish.report", "audit_round": "audit.checks", "run_demo": "demo.run",
    "WorkbenchError": "core.errors", "InputFileError": "core.errors", "ValidationError": "core.errors", "RubricError": "core.errors",
    "SheetError": "core.errors", "SignatureError": "core.errors", "KeyFileError": "core.errors", "EvidenceError": "core.errors",
    "RoundError": "core.errors", "IneligibleError": "core.errors",
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
_compat.install()  # the flat module paths of earlier releases stay importable (_compat.OLD_PATHS)


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from .audit.checks import audit_round
    from .core.errors import (
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
    from .core.signing import generate_keypair, sign_payload, verify_envelope
    from .demo.run import run_demo
    from .model.round import Round, eligibility, load_round
    from .model.rubric import Rubric, load_rubric
    from .model.sheet import ScoreSheet, build_sheet, parse_sheet, validate_sheet
    from .notebook.review import open_review
    from .publish.aggregate import aggregate_round
    from .publish.report import write_report
    from .round.collect import accepted_sheets
    from .round.lifecycle import amend, check_frozen, freeze, init_round, status
    from .run.batch import run_batch
