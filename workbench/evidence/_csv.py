"""Private helpers: read an untrusted CSV into string columns with line numbers, and convert columns.

Python's ``csv`` module is used rather than ``pandas.read_csv`` because it tells us the line on which each
record starts (quoted comments may span lines), so every error names the exact line of the file.
"""

from __future__ import annotations

import array
import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvidenceError
from ..files import open_regular
from ._inputs import as_evidence_errors, decoded_lines

MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
MAX_SHARED_VALUES = 100_000


def parse_csv(
    text: str | Iterable[str], name: str, required: Sequence[str], optional: Sequence[str] = ()
) -> pd.DataFrame:
    """Parse CSV text (or lines) into a frame of stripped strings plus a ``line`` column (where each row starts).

    The header must hold every ``required`` column, may hold ``optional`` ones, and nothing else. A missing
    optional column becomes empty strings. Rows with the wrong number of fields are refused. Rows go
    straight into one list per column, so memory is the cells themselves, not rows, copies and a frame of
    lengths besides.
    """
    lines_in = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(lines_in, strict=True)
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
    cols: list[list[str]] = [[] for _ in header]
    # repeated cells (team, model, benchmark, metric) share one string object: a large file costs its
    # distinct values, not one object per cell
    seen: list[dict[str, str] | None] = [{} for _ in header]
    lines = array.array("q")
    start = reader.line_num + 1
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                start = reader.line_num + 1
                continue  # blank line: nothing to read, nothing dropped
            if len(row) != len(header):
                # one field too many is most often an unquoted comma in a value, such as a harness metric key
                hint = "; a value holding a comma (acc,none) must be quoted: \"acc,none\"" if len(row) > len(header) else ""
                raise EvidenceError(f"row has {len(row)} fields", file=name, line=start, place="row",
                                    expected=f"{len(header)} fields ({', '.join(header)}){hint}")
            for c, v in enumerate(row):
                if len(v) > MAX_FIELD_CHARS:
                    raise EvidenceError(f"field longer than {MAX_FIELD_CHARS} characters", file=name, line=start,
                                        place=header[c])
                v = v.strip()
                known = seen[c]
                if known is not None:
                    v = known.setdefault(v, v)
                    if len(known) > MAX_SHARED_VALUES:
                        seen[c] = None  # a column of distinct values: sharing saves nothing
                cols[c].append(v)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise EvidenceError(f"CSV syntax error: {e}", file=name, line=start) from None
    frame = pd.DataFrame({h: np.array(col, dtype=object) for h, col in zip(header, cols, strict=True)},
                         index=pd.RangeIndex(len(lines)))
    del cols
    for c in optional:
        if c not in frame:
            frame[c] = ""
    frame = frame[allowed]
    frame["line"] = np.frombuffer(lines, dtype=np.int64) if len(lines) else np.zeros(0, np.int64)
    return frame


def read_csv(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (), max_bytes: int = MAX_CSV_BYTES,
    *, name: str | None = None,
) -> pd.DataFrame:
    """Bounded, streamed read of a UTF-8 CSV file; see :func:`parse_csv`. Size, kind and encoding problems
    are EvidenceErrors; ``name`` is how parse errors name the file (default: ``path``)."""
    with as_evidence_errors():
        fh = open_regular(path, max_bytes)
    with fh:
        return parse_csv(decoded_lines(fh, path), name or str(path), required, optional)


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
