"""Shared building blocks of every model: the frozen model base, id and hash types, time, rounding, and the
one conversion from pydantic's validation errors to the workbench's typed errors.

Public API: :class:`Model`, :data:`Id`, :data:`ID_PATTERN`, :data:`Hex64`, :func:`utc_now`, :func:`rounded`,
:func:`shown`, :func:`pydantic_problems`, :func:`from_pydantic` (how two JSON values differ:
:mod:`workbench.core.diff`).

Everything here sits below every other module but :mod:`workbench.core.errors` and :mod:`workbench.core.files`, so
that a rule (what an id looks like, how a float is fixed before signing) is written once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import unicodedata
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .errors import ValidationError, WorkbenchError
from .files import Loc, line_for

__all__ = [
    "BIDI_CONTROLS", "ID_PATTERN", "Hex64", "Id", "Model", "from_pydantic", "pydantic_problems",
    "require_safe_text", "rounded", "shown", "unsafe_chars", "utc_now",
]

# Reviewer, team, criterion-free ids: they become file names, so no '/', no leading dot, bounded length.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

E = TypeVar("E", bound=WorkbenchError)


class Model(BaseModel):
    """Base of every data model: immutable, no unknown fields, no NaN or infinity (they have no JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# bidi embedding/override/isolate controls: they reorder what a reader sees (U+202E turns "gpj.exe" around)
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def unsafe_chars(text: str) -> list[str]:
    """The control characters (other than tab and line breaks) and bidi overrides in ``text``, as ``U+XXXX``
    in order of appearance (each once): free text a person signs or the report publishes must hold none."""
    out: list[str] = []
    for ch in text:
        if (ch in BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r")) and f"U+{ord(ch):04X}" not in out:
            out.append(f"U+{ord(ch):04X}")
    return out


def require_safe_text(text: str, place: str) -> str:
    """``text`` when it holds no :func:`unsafe_chars`; else :class:`WorkbenchError` naming them and ``place``."""
    bad = unsafe_chars(text)
    if bad:
        raise WorkbenchError(f"contains invisible control or bidi-override character(s) {', '.join(bad)}", place=place,
                             expected="plain text: remove them (they can hide or reorder what readers see)")
    return text


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds and a ``Z`` (the only wall-clock value signed data holds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rounded(x: float | None, digits: int = 6) -> float | None:
    """``x`` at ``digits`` decimals, never ``-0.0``, so float noise never changes canonical bytes."""
    return None if x is None else round(float(x), digits) + 0.0


def shown(x: float | None, digits: int = 1) -> str:
    """``x`` as people read it in a published table: ``digits`` decimals, half away from zero (30.85 -> 30.9,
    as the ministry rounds, not Python's half-to-even on binary floats), never ``-0.0``; ``None`` -> ``""``.

    The one rounding of every figure meant for people (the report pages and scores.csv); signed data keeps
    full precision. It rounds the shortest decimal that reads back as ``x`` (``repr``), so 2.675 -> 2.68.
    """
    if x is None:
        return ""
    q = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{q + 0:.{digits}f}" if q != 0 else f"{0:.{digits}f}"


# ---------------------------------------------------------------- pydantic errors

def _humane(err: dict[str, Any], allowed: Sequence[str]) -> tuple[str, str | None]:
    """A message (lower-case start) and an expectation for one pydantic error."""
    t, msg, loc = err["type"], err["msg"], err["loc"]
    last = loc[-1] if loc else None
    if t == "missing" and last in ("ko", "en"):
        return f"missing translation '{last}'", "a text in both 'ko' and 'en'"
    if t == "string_too_short" and last in ("ko", "en"):
        return f"empty translation '{last}'", "a non-empty text"
    if t == "extra_forbidden":
        close = difflib.get_close_matches(str(last), list(allowed), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field '{last}'{hint}", ("one of " + ", ".join(allowed)) if allowed else None
    if t == "union_tag_invalid" and isinstance(err.get("input"), dict):
        # e.g. "unknown scale type 'slider'", expected "anchored, gate or computed"
        tag = err["input"].get(str(err.get("ctx", {}).get("discriminator", "type")).strip("'"))
        tags = [t.strip().strip("'") for t in str(err.get("ctx", {}).get("expected_tags", "")).split(",") if t.strip()]
        return f"unknown {last} type {tag!r}", (", ".join(tags[:-1]) + " or " + tags[-1]) if len(tags) > 1 else None
    return msg[:1].lower() + msg[1:], None


def pydantic_problems(
    err: pydantic.ValidationError,
    error_type: type[E],
    *,
    file: str | Path | None,
    lines: dict[Loc, int] | None = None,
    prefix: Loc = (),
    fields: Callable[[Loc], Sequence[str]] | None = None,
    skip: Callable[[Any], bool] | None = None,
) -> list[E]:
    """One typed error per pydantic problem, with line, dotted place and a plain message.

    Unknown fields come first (an unknown field is usually the misspelling of one reported missing);
    ``fields(loc)`` lists the names allowed at ``loc`` for a "did you mean" hint; ``skip(part)`` drops
    location parts that are not in the file (such as union tags).
    """
    problems = err.errors(include_url=False)
    problems.sort(key=lambda p: p["type"] != "extra_forbidden")
    out: list[E] = []
    for p in problems:
        loc = tuple(x for x in (*prefix, *p["loc"]) if not (skip and skip(x)))
        if p["type"] == "union_tag_invalid":  # point at the tag's own field
            loc = (*loc, str(p.get("ctx", {}).get("discriminator", "type")).strip("'"))
        allowed = list(fields(tuple(p["loc"][:-1]))) if fields and p["type"] == "extra_forbidden" else []
        msg, expected = _humane(p, allowed)
        out.append(error_type(msg, file=file, line=line_for(lines or {}, loc), place=".".join(map(str, loc)) or None,
                              expected=expected))
    return out


def from_pydantic(
    err: pydantic.ValidationError,
    error_type: type[E],
    *,
    file: str | Path | None,
    lines: dict[Loc, int] | None = None,
    prefix: Loc = (),
    fields: Callable[[Loc], Sequence[str]] | None = None,
    what: str | None = None,
) -> E:
    """One typed error for a pydantic validation error: the first problem, with how many more there are.

    ``what`` prefixes the message (``"malformed ledger entry"``); a :class:`ValidationError` subclass also
    carries every problem in ``problems``.
    """
    probs = pydantic_problems(err, error_type, file=file, lines=lines, prefix=prefix, fields=fields)
    head = probs[0]
    more = f" (and {len(probs) - 1} more)" if len(probs) > 1 else ""
    msg = (f"{what}: " if what else "") + head.message + more
    kw: dict[str, Any] = {"file": head.file, "line": head.line, "place": head.place, "expected": head.expected}
    if issubclass(error_type, ValidationError):
        kw["problems"] = probs
    return error_type(msg, **kw)


# ---------------------------------------------------------------- JSON diff
