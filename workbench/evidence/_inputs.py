"""Hashed input files: every evidence result names the files it was computed from and their SHA-256.

Public API: :class:`InputFile`, :func:`read_input`, :func:`as_evidence_errors`.

Only the file's *name* is kept (never its absolute path), so a result is the same on every machine;
the hash is what ties a result to the exact bytes the team submitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..errors import EvidenceError, WorkbenchError
from ..files import read_bounded, sha256_bytes

__all__ = ["InputFile", "as_evidence_errors", "read_input"]


class InputFile(BaseModel):
    """One input file of an evidence result: its base name, size and SHA-256 of its bytes."""

    model_config = ConfigDict(frozen=True)

    name: str
    bytes: int
    sha256: str

    @classmethod
    def of(cls, name: str | Path, data: bytes) -> InputFile:
        """Describe ``data`` read from a file called ``name`` (only the base name is kept)."""
        return cls(name=Path(str(name)).name, bytes=len(data), sha256=sha256_bytes(data))


@contextmanager
def as_evidence_errors() -> Iterator[None]:
    """Re-raise the shared loaders' errors (size, encoding, syntax) as :class:`EvidenceError`.

    Team files are evidence: callers catch one error type for all of them.
    """
    try:
        yield
    except EvidenceError:
        raise
    except WorkbenchError as e:
        raise EvidenceError(e.message, file=e.file, line=e.line, place=e.place, expected=e.expected) from None


def read_input(path: str | Path, max_bytes: int) -> tuple[bytes, InputFile]:
    """Read a bounded file and describe it."""
    with as_evidence_errors():
        data = read_bounded(path, max_bytes)
    return data, InputFile.of(path, data)
