"""Private helpers: read an untrusted CSV into string columns with line numbers, and convert columns.

Two readers give the same frame. The exact one (:func:`parse_csv`) is Python's ``csv`` module, which tells the
line on which each record starts (quoted comments may span lines), so every error names the exact line of the
file; it costs a Python loop over every cell. :func:`read_csv` first tries pandas' C parser: one vectorised pass
over the bytes checks what that parser would not (every record on one line, every row's field count outside
quotes, quotes only where the ``csv`` module's strict mode accepts them, no field over the bound) and gives
each row's line; pandas then splits the fields. A file that fails any check, or that pandas refuses, is read
again by the exact reader, which raises the error with its line (or reads what only it reads the same way:
a record over several lines, a lone carriage return, a stray quote).
"""

from __future__ import annotations

import array
import csv
import io
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import EvidenceError
from ..core.files import open_regular
from ._inputs import as_evidence_errors, decoded_lines

MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
MAX_SHARED_VALUES = 100_000


def _check_header(header: list[str], name: str, required: Sequence[str], optional: Sequence[str]) -> None:
    """Refuse a header without every required column, with an unknown one or with one twice (line 1)."""
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
    _check_header(header, name, required, optional)
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
    frame = frame[[*required, *optional]]
    frame["line"] = np.frombuffer(lines, dtype=np.int64) if len(lines) else np.zeros(0, np.int64)
    return frame


# byte classes for one table look-up pass: 1 line end, 2 quote, 3 comma, 4 blank-line byte (space, tab, CR),
# 5 other whitespace str.strip() removes (vertical tab, form feed, separators \x1c-\x1f)
_CLASS = np.zeros(256, np.uint8)
_CLASS[[10, 34, 44, 32, 9, 13, 11, 12, 28, 29, 30, 31]] = [1, 2, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5]
_OPEN_AFTER = np.zeros(256, bool)  # an opening quote follows a line end or a comma (or a closing quote: "")
_OPEN_AFTER[[10, 44, 34]] = True
_CLOSE_BEFORE = np.zeros(256, bool)  # a closing quote precedes a comma, a line end or another quote
_CLOSE_BEFORE[[44, 10, 13, 34]] = True
_CHUNK = 8 << 20


def _line_facts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool] | None:
    """Per line of ``a`` (bytes ending in a newline): commas outside quotes and blank or not; the longest line;
    whether any cell may need stripping. None when a record may span lines, or a quote stands where the strict
    ``csv`` reader would not take it as field quoting (the exact reader decides those). One comparison pass
    over the bytes; the rest works on the positions of line ends, quotes, commas and whitespace."""
    pos = np.flatnonzero(a <= 44)  # every classed byte is <= ',' (one vectorised comparison; digits, letters,
    v = _CLASS[a[pos]]  # '.', '-' are above): then the class of those few
    is_q = v == 2
    quotes = np.cumsum(is_q, dtype=np.int64)  # quotes up to and including each of them
    nl_at = v == 1
    if (quotes[nl_at] & 1).any():
        return None  # an odd number of quotes before a line end: a field over several lines, or a broken one
    nl = pos[nl_at]
    qpos = pos[is_q]
    if len(qpos):
        opening = (quotes[is_q] & 1) == 1
        prev = a[np.maximum(qpos - 1, 0)]
        ok = _OPEN_AFTER[prev] | (qpos == 0)  # after a quote: the second of a doubled one ("")
        if not ok[opening].all():
            return None  # a quote inside an unquoted field, or after a space: the exact reader decides
        if not _CLOSE_BEFORE[a[qpos[~opening] + 1]].all():
            return None  # text after a closing quote: the strict reader refuses it
    # per line: the commas outside quotes and the blank-line bytes, counted on the classed bytes alone
    per_line = np.diff(np.cumsum((v == 3) & ((quotes & 1) == 0), dtype=np.int64)[nl_at], prepend=0)
    is_ws = v == 4
    lengths = np.diff(nl, prepend=-1) - 1
    blank = (per_line == 0) & (lengths == np.diff(np.cumsum(is_ws, dtype=np.int64)[nl_at], prepend=0))
    sp = pos[is_ws]
    sp = sp[a[sp] != 13]
    strip = bool((v == 5).any()) or bool(len(sp)) and (
        sp[0] == 0 or _OPEN_AFTER[a[sp - 1]].any() or _CLOSE_BEFORE[a[sp + 1]].any())
    return per_line, blank, int(lengths.max(initial=0)), strip


def _pandas_frame(source: str | io.BytesIO, header: list[str]) -> pd.DataFrame:
    """Every row after the first line of ``source`` as strings, through pandas' C parser (no NA conversion)."""
    return pd.read_csv(source, header=None, names=header, skiprows=1, dtype=str, na_filter=False,
                       keep_default_na=False, skip_blank_lines=True, engine="c", encoding="utf-8", quotechar='"',
                       doublequote=True, on_bad_lines="error")


def _check_lines(data: bytes, width: int) -> tuple[np.ndarray, int, bool] | None:
    """Which lines of ``data`` are rows (not the header, not blank), the longest line, and whether a cell may need
    stripping; None when a line breaks a rule of the fast path (see :func:`_line_facts`) or has another number
    of fields than ``width``."""
    a = np.frombuffer(data, np.uint8)
    bounds, lo = [], 0
    while lo < len(a):  # whole lines per chunk: the quote state resets at every line end
        hi = data.find(b"\n", min(len(a), lo + _CHUNK) - 1) + 1
        bounds.append((lo, hi))
        lo = hi
    # chunks on threads (numpy releases the GIL): pandas' own parser reads on every core meanwhile, so one
    # thread here would make the checks the slowest part
    workers = min(len(bounds), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            facts = list(ex.map(lambda r: _line_facts(a[r[0]:r[1]]), bounds))
    else:
        facts = [_line_facts(a[lo:hi]) for lo, hi in bounds]
    if any(f is None for f in facts):
        return None
    c = np.concatenate([f[0] for f in facts])  # type: ignore[index]
    b = np.concatenate([f[1] for f in facts])  # type: ignore[index]
    longest = max((f[2] for f in facts), default=0)  # type: ignore[index]
    strip = not data.isascii() or any(f[3] for f in facts)  # type: ignore[index]
    rows = ~b
    rows[0] = False  # the header
    if b[0] or (c[rows] != width - 1).any():
        return None  # a row with another number of fields: the exact reader names its line
    return rows, longest, strip


def _fast_frame(data: bytes | list[bytes], name: str, required: Sequence[str], optional: Sequence[str],
                reopen: str | None = None) -> pd.DataFrame | None:
    """The frame :func:`parse_csv` would return for ``data``, through pandas' C parser; None when the exact reader
    must read it (see the module docstring). ``reopen``: a path that opens the very file ``data`` was read from
    (pandas reads a path faster than a buffer); the caller checks the file did not change meanwhile. ``data``
    given as a one-item list is taken out of it, so that its memory is freed before pandas parses the file."""
    if isinstance(data, list):
        data = data.pop()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data or b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    first = data.index(b"\n")
    try:
        header_line = data[:first].decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        header = next(csv.reader([header_line], strict=True), [])
    except csv.Error:
        return None
    header = [h.strip() for h in header]
    if not header or header == [""]:
        return None
    _check_header(header, name, required, optional)
    # the checks first, then pandas on the file itself with the bytes freed: memory stays near pandas' own
    checked = _check_lines(data, len(header))
    if checked is None:
        return None
    source = reopen or io.BytesIO(data)
    del data
    try:
        frame = _pandas_frame(source, header)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    data_rows, longest, strip = checked
    where = np.flatnonzero(data_rows) + 1  # 1-based line of each row
    if len(frame) != len(where):
        return None
    if longest > MAX_FIELD_CHARS and any(frame[h].str.len().max() > MAX_FIELD_CHARS for h in header):
        return None
    if not len(frame):  # built as parse_csv builds it, so both readers give the same frame (dtypes included)
        frame = pd.DataFrame({h: np.array([], dtype=object) for h in header}, index=pd.RangeIndex(0))
    elif strip:
        for h in header:
            frame[h] = frame[h].str.strip()
    out = frame
    for col in optional:
        if col not in out:
            out[col] = ""
    out = out[[*required, *optional]]
    out["line"] = where.astype(np.int64)
    return out


def read_csv(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (), max_bytes: int = MAX_CSV_BYTES,
    *, name: str | None = None,
) -> pd.DataFrame:
    """Bounded, streamed read of a UTF-8 CSV file; see :func:`parse_csv`. Size, kind and encoding problems
    are EvidenceErrors; ``name`` is how parse errors name the file (default: ``path``)."""
    with as_evidence_errors():
        fh = open_regular(path, max_bytes)
    with fh:
        before = os.fstat(fh.fileno())
        data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:  # grew after open_regular checked its size
            raise EvidenceError(f"file larger than {max_bytes} bytes", file=path, expected=f"at most {max_bytes} bytes")
        # pandas opens this very file again through the open descriptor (never the name, which could lead
        # elsewhere by now; a path reads faster than a buffer, and a row limit would cost a third more); its
        # frame counts only if the file is still what was read and checked (size, modification time, rows).
        # Only a writer of the round's evidence folder, racing this read, could make pandas read more
        reopen = f"/proc/self/fd/{fh.fileno()}"
        size = len(data)
        holder = [data]
        del data  # freed once checked
        frame = _fast_frame(holder, name or str(path), required, optional, reopen if os.path.exists(reopen) else None)
        after = os.fstat(fh.fileno())
        if frame is not None and before.st_size == after.st_size == size and before.st_mtime_ns == after.st_mtime_ns:
            return frame
        del frame
        fh.seek(0)
        data = fh.read(max_bytes + 1)  # the exact reader, on what the file holds now (bounded again)
    if len(data) > max_bytes:
        raise EvidenceError(f"file larger than {max_bytes} bytes", file=path, expected=f"at most {max_bytes} bytes")
    return parse_csv(decoded_lines(io.BytesIO(data), path), name or str(path), required, optional)


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
    # an empty cell coerces to NaN like any other non-number; which NaNs are allowed is decided below
    values = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=float)
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
