"""Private helpers: read an untrusted CSV into string columns with line numbers, and convert columns.

Python's ``csv`` module is used rather than ``pandas.read_csv`` because it tells us the line on which each
record starts (quoted comments may span lines), so every error names the exact line of the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvidenceError
from ..files import decode_text, read_bounded
from ._inputs import as_evidence_errors

MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_FIELD_CHARS = 10_000


def parse_csv(
    text: str, name: str, required: Sequence[str], optional: Sequence[str] = ()
) -> pd.DataFrame:
    """Parse CSV text into a frame of stripped strings plus a ``line`` column (line where each row starts).

    The header must hold every ``required`` column, may hold ``optional`` ones, and nothing else. A missing
    optional column becomes empty strings. Rows with the wrong number of fields are refused.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EvidenceError("file is empty", file=name, line=1, expected="a header row: " + ", ".join(required)) from None
    except csv.Error as e:
        raise EvidenceError(f"CSV syntax error: {e}", file=name, line=1) from None
    header = [h.strip() for h in header]
    allowed = [*required, *optional]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in allowed]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or dupes:
        found = ", ".join(header) or "(nothing)"
        what = "; ".join(
            part for part in (
                f"missing column(s) {', '.join(missing)}" if missing else "",
                f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                f"repeated column(s) {', '.join(dupes)}" if dupes else "",
            ) if part
        )
        raise EvidenceError(f"{what} (found: {found})", file=name, line=1, place="header",
                            expected="columns " + ", ".join(required) + (
                                f" (optional: {', '.join(optional)})" if optional else ""))
    rows: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                start = reader.line_num + 1
                continue  # blank line: nothing to read, nothing dropped
            if len(row) != len(header):
                raise EvidenceError(f"row has {len(row)} fields", file=name, line=start,
                                    expected=f"{len(header)} fields ({', '.join(header)})")
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise EvidenceError(f"CSV syntax error: {e}", file=name, line=start) from None
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    frame = pd.DataFrame({h: pd.array([v.strip() for v in col], dtype=object) for h, col in zip(header, cols, strict=True)})
    for c in optional:
        if c not in frame:
            frame[c] = ""
    frame = frame[allowed]
    frame["line"] = np.asarray(lines, dtype=np.int64)
    too_long = frame[allowed].map(len).gt(MAX_FIELD_CHARS) if rows else None
    if too_long is not None and too_long.to_numpy().any():
        r, c = np.argwhere(too_long.to_numpy())[0]
        raise EvidenceError(f"field longer than {MAX_FIELD_CHARS} characters", file=name,
                            line=int(frame["line"].iloc[r]), place=allowed[c])
    return frame


def read_csv(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (), max_bytes: int = MAX_CSV_BYTES
) -> pd.DataFrame:
    """Bounded read of a UTF-8 CSV file; see :func:`parse_csv`. Size and encoding problems are EvidenceErrors."""
    with as_evidence_errors():
        text = decode_text(read_bounded(path, max_bytes), path)
    return parse_csv(text, str(path), required, optional)


def require_filled(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Refuse empty cells in ``columns`` (the first one found is reported with its line)."""
    for c in columns:
        empty = frame[c].to_numpy() == ""
        if empty.any():
            i = int(np.argmax(empty))
            raise EvidenceError("empty cell", file=name, line=int(frame["line"].iloc[i]), place=f"column {c}",
                                expected="a value")


def to_numbers(frame: pd.DataFrame, column: str, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Convert a string column to finite floats; empty cells become NaN only when ``allow_empty``.

    Text such as ``NaN``, ``inf`` or ``12%`` is refused with its line, so a spreadsheet's error value never
    becomes a silent missing answer.
    """
    raw = frame[column].to_numpy(dtype=object)
    values = pd.to_numeric(pd.Series(raw, dtype=object).replace("", None), errors="coerce").to_numpy(dtype=float)
    empty = raw == ""
    bad = ~np.isfinite(values) & ~empty
    if not allow_empty:
        bad |= empty
    if bad.any():
        i = int(np.argmax(bad))
        shown = raw[i] if raw[i] != "" else "(empty)"
        raise EvidenceError(f"'{shown}' is not a finite number", file=name, line=int(frame["line"].iloc[i]),
                            place=f"column {column}", expected="a finite decimal number")
    return values
