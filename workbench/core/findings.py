"""Findings as data: a stable code and typed parameters, worded in Korean or English by the message catalogue.

The one record of everything the workbench finds or decides about its inputs (an evidence flag, a problem that
changes points, a ledger entry without authority, an audit check's result): modules decide *what* to record,
this module says how it reads. A code names a message of :data:`workbench.core.messages.MESSAGES` (the code
itself, else ``flag_<code>``, else its family's ``flag_<family>``), and its parameters are the values that
message uses: identifiers, numbers, and nested records (a :class:`workbench.core.errors.Problem` as JSON data, a
list of files), each worded in the same language. Nothing reads words back into data.

Free text that people wrote (a reason, a comment) is a parameter and is shown as written, quoted by the
message that holds it.

Public API: :class:`Finding`, :func:`problem_text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from .base import Model
from .errors import one_line
from .messages import MESSAGES, msg

__all__ = ["Finding", "message_key", "problem_text"]


def message_key(code: str) -> str:
    """The catalogue key that words ``code``: the code itself, else ``flag_<code>``, else its family's
    (``training_<x>`` -> ``flag_training``, ``authority_<x>`` -> ``flag_authority``)."""
    for key in (code, f"flag_{code}", f"flag_{code.split('_', 1)[0]}"):
        if key in MESSAGES:
            return key
    raise KeyError(f"no message for code {code!r}")


class Finding(Model):
    """One thing found or decided: ``code`` (a message of the catalogue) and the values its wording uses."""

    code: str
    params: dict[str, Any] = Field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        """The finding worded in ``lang``."""
        return msg(message_key(self.code), lang, **{k: _param(v, lang) for k, v in self.params.items()})


def _param(v: Any, lang: str) -> Any:
    """A parameter as its message uses it: a problem (JSON data) and a file with its state in ``lang``; a list
    comma-separated; anything else as it is (numbers keep their type for the quantity formats)."""
    if isinstance(v, Mapping) and "message" in v:
        return problem_text(v, lang)
    if isinstance(v, Mapping) and {"path", "state"} <= v.keys():
        return msg(f"file_{v['state']}", lang, path=v["path"])
    if isinstance(v, list | tuple):
        return ", ".join(str(_param(x, lang)) for x in v)
    return v


def problem_text(p: Mapping[str, Any], lang: str = "en") -> str:
    """An evidence problem (:class:`workbench.core.errors.Problem` as JSON data) in ``lang``: its place, then what its
    code says and what was expected. Without a code, English is its own message line; other languages name
    the place only (the message is the parser's English, never shown as a sentence of theirs)."""
    file, line, place = p.get("file"), p.get("line"), p.get("place")
    code = p.get("code")
    if not code or code not in MESSAGES:
        if lang == "en":
            return one_line(str(p.get("message", "")), file=file, line=line, place=place, expected=p.get("expected"))
        where = one_line("", file=file, line=line, place=place).rstrip(": ") or "?"
        return msg("problem_uncoded", lang, where=where, message=p.get("message", ""))
    params = {k: _param(v, lang) for k, v in (p.get("params") or {}).items()}
    if f"{code}_place" in MESSAGES:  # a place said in words (``benchmark gpqa``), in this language
        place = msg(f"{code}_place", lang, **params)
    text = msg(code, lang, **params)
    if f"{code}_expected" in MESSAGES:
        text = msg("problem_expected", lang, text=text, expected=msg(f"{code}_expected", lang, **params))
    where = one_line("", file=file, line=line, place=place).rstrip(": ")
    return msg("problem_where", lang, where=where, text=text) if where else text
