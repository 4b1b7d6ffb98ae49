"""Typed errors. Every error the user can cause is a :class:`WorkbenchError`.

The CLI prints ``str(error)`` as one line and exits 1; anything else is a bug and keeps its traceback.
The line has the shape ``file:line: what is wrong, expected what`` wherever a file and a place are known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EvidenceError",
    "HubError",
    "InputFileError",
    "KeyFileError",
    "Problem",
    "RoundError",
    "RubricError",
    "SheetError",
    "SignatureError",
    "ValidationError",
    "WorkbenchError",
    "one_line",
]


def one_line(message: str, *, file: str | None = None, line: int | None = None, place: str | None = None,
             expected: str | None = None) -> str:
    """``file:line: place: message, expected ...`` (the parts that are known)."""
    head = ""
    if file:
        head = file + (f":{line}" if line else "") + ": "
    where = f"{place}: " if place else ""
    tail = f", expected {expected}" if expected else ""
    return f"{head}{where}{message}{tail}"


class WorkbenchError(Exception):
    """Base class: a problem with the user's input or environment, reported in one line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        place: str | None = None,
        expected: str | None = None,
        code: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.code = code  # the catalogue's code for this message, when it has one (see Problem)
        self.params = dict(params or {})
        self.file = str(file) if file is not None else None
        self.line = line
        self.place = place
        self.expected = expected
        super().__init__(self.format())

    def format(self) -> str:
        """Render as ``file:line: [place] message, expected ...``."""
        return one_line(self.message, file=self.file, line=self.line, place=self.place, expected=self.expected)

    def problem(self) -> Problem:
        """The error as data (:class:`Problem`): what results carry instead of its text."""
        return Problem(message=self.message, file=self.file, line=self.line, place=self.place, expected=self.expected,
                       code=self.code, params=self.params)


class Problem(BaseModel):
    """A :class:`WorkbenchError` as data, for results that leave the process (a dossier's problems, a
    batch's failures): the file, line and place it is about, what is wrong and what was expected.
    ``str(problem)`` is the error's one line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    message: str
    file: str | None = None
    line: int | None = None
    place: str | None = None
    expected: str | None = None
    # what the message says, as data: a code of the message catalogue and its parameters (workbench.core.findings
    # words it in either language); problems without one are shown by their message. Left out of the JSON
    # when absent, so data written before codes reads back unchanged.
    code: str | None = Field(None, exclude_if=lambda v: v is None)
    params: dict[str, Any] = Field(default_factory=dict, exclude_if=lambda v: not v)

    def __str__(self) -> str:
        return one_line(self.message, file=self.file, line=self.line, place=self.place, expected=self.expected)


class InputFileError(WorkbenchError):
    """A file could not be read or parsed (syntax, size, depth, encoding)."""


class ValidationError(WorkbenchError):
    """A file parsed but its content breaks the model's rules."""

    def __init__(self, message: str, *, problems: list[WorkbenchError] | None = None, **kw) -> None:
        self.problems = problems or []
        super().__init__(message, **kw)


class RubricError(ValidationError):
    """A rubric is invalid."""


class SheetError(ValidationError):
    """A score sheet is invalid (criteria, ranges, comments, totals)."""


class SignatureError(WorkbenchError):
    """A signature or envelope does not verify."""


class KeyFileError(WorkbenchError):
    """A key file is missing, malformed, or its passphrase is wrong."""


class EvidenceError(WorkbenchError):
    """A team-submitted evidence file is malformed or untrusted in a way we refuse."""


class RoundError(WorkbenchError):
    """A round folder is inconsistent (rules, roster, assignments, ledger)."""


class IneligibleError(RoundError):
    """A reviewer may not score a team: ``reason`` is ``roster``, ``role``, ``team``, ``coi`` or ``assignment``."""

    def __init__(self, message: str, *, reason: str, **kw) -> None:
        self.reason = reason
        super().__init__(message, **kw)


class HubError(WorkbenchError):
    """The machine is not ready to serve a round (accounts, groups, ports, paths other users cannot reach)."""
