"""Hashed input files: every evidence result names the files it was computed from and their SHA-256.

Public API: :class:`InputFile`, :class:`HashingReader`, :func:`read_input`, :func:`decoded_lines`, :func:`as_evidence_errors`.

Only the file's *name* is kept (never its absolute path), so a result is the same on every machine;
the hash is what ties a result to the exact bytes the team submitted.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict

from ..core.errors import EvidenceError, WorkbenchError
from ..core.files import read_bounded, sha256_bytes

__all__ = ["HashingReader", "InputFile", "as_evidence_errors", "decoded_lines", "read_input"]


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


class HashingReader(io.RawIOBase):
    """A binary file that hashes what is read through it, for parsers that stream (memory does not grow with
    the file); :meth:`record` drains the rest and describes the whole file as :class:`InputFile` would."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._fh.readinto(b)
        if n:
            self._sha.update(memoryview(b)[:n])
            self._n += n
        return n or 0

    def close(self) -> None:
        self._fh.close()
        super().close()

    def record(self, path: str | Path) -> InputFile:
        """Hash the bytes not read yet, then the file's description."""
        while chunk := self._fh.read(1 << 20):
            self._sha.update(chunk)
            self._n += len(chunk)
        return InputFile(name=Path(str(path)).name, bytes=self._n, sha256=self._sha.hexdigest())


def decoded_lines(fh: Iterable[bytes], name: str | Path) -> Iterator[str]:
    """Decode a binary file line by line as UTF-8 (a BOM allowed on the first): streaming, and an invalid
    byte is an error naming its line."""
    for number, raw in enumerate(fh, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise EvidenceError("not valid UTF-8 text", file=name, line=number, expected="UTF-8") from None


def read_input(path: str | Path, max_bytes: int) -> tuple[bytes, InputFile]:
    """Read a bounded file and describe it."""
    with as_evidence_errors():
        data = read_bounded(path, max_bytes)
    return data, InputFile.of(path, data)
