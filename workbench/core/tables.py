"""Tables a person reads: titled columns, numbers at a sensible precision, a dash where a value is missing.

Evidence modules return pandas DataFrames for analysis (raw names, full precision); a reviewer's panel shows
:class:`Table` instead: column titles come from the message table, there is no index column, each column
formats its values one way (``Column.fmt``), and the HTML wraps long cells and scrolls inside its own box
so a table never widens the notebook's pane (templates/tables.html.j2).

Public API: :class:`Column`, :class:`Table`, :data:`DASH`, :func:`number`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import msg
from .quantities import QUANTITIES, figure
from .templating import macros

__all__ = ["DASH", "Column", "Table", "number"]

DASH = "–"  # what a missing value looks like (never NaN, None or <NA>)
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and not math.isfinite(v))


def number(v: Any, fmt: str = "g") -> str:
    """``v`` formatted for reading: ``g`` (4 significant digits), ``int`` (thousands separated), ``pct``
    (one decimal), ``pct0``, ``.Nf`` (N decimals), a quantity of :mod:`workbench.core.quantities` (``score``: a
    benchmark score at three significant digits, as the report and the console show it), ``sci``
    (``7.56 × 10²³`` for large counts), ``bytes`` (KB/MB/GB); :data:`DASH` when missing."""
    if _missing(v):
        return DASH
    if isinstance(v, bool):
        return str(v)
    if v == 0:
        v = abs(v)  # never "-0.0"
    if fmt in QUANTITIES:  # the precision policy's quantities (a benchmark score: three significant digits)
        return figure(fmt, v)
    if fmt == "sci":
        if abs(v) < 1e6:
            return f"{v:,.0f}"
        mantissa, exp = f"{v:.3g}".split("e") if "e" in f"{v:.3g}" else (f"{v:.3g}", "0")
        return f"{mantissa} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
    if fmt == "int":
        return f"{int(v):,}"
    if fmt == "pct":
        return f"{v:.1%}"
    if fmt == "pct0":
        return f"{v:.0%}"
    if fmt == "bytes":
        for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
            if abs(v) >= size:
                return f"{v / size:.1f} {unit}"
        return f"{int(v)} B"
    if fmt == "g":
        return f"{v:.4g}"
    text = format(v, fmt)
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # "-0.0" reads "0.0"


@dataclass(frozen=True)
class Column:
    """A column: the row key it shows, its title's message key, and how a value reads.

    ``fmt`` is a :func:`number` format, ``text`` (as is), ``hash`` (the first 12 hex digits; the full
    digest in the cell's tooltip) or a callable returning the cell's text.
    """

    key: str
    title: str
    fmt: str | Callable[[Any], str] = "text"
    align: str = ""  # "right" for numbers (default for number formats)

    def cell(self, v: Any) -> tuple[str, str]:
        """(text, tooltip) of one value."""
        if callable(self.fmt):
            return (DASH if _missing(v) else self.fmt(v)), ""
        if _missing(v):
            return DASH, ""
        if self.fmt == "text":
            return str(v), ""
        if self.fmt == "hash":  # a digest reads by its start; other text (e.g. "missing") as is
            text = str(v)
            return (f"{text[:12]}…", text) if len(text) == 64 and text.isalnum() else (text, "")
        return number(v, self.fmt), ""

    @property
    def right(self) -> bool:
        return self.align == "right" or (not self.align and not callable(self.fmt) and self.fmt not in ("text", "hash"))


@dataclass(frozen=True)
class Table:
    """Rows (mappings) under titled columns, in ``lang``; shown in Jupyter as HTML that fits the pane."""

    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    lang: str = "ko"
    caption: str = ""
    css: str = ""  # extra class, e.g. to find the table in a browser test
    titles: Mapping[str, str] = field(default_factory=dict)  # a column title given as text, not a message key

    @property
    def headers(self) -> list[str]:
        """The column titles in the table's language."""
        return [self.titles.get(c.key) or msg(c.title, self.lang) for c in self.columns]

    def cells(self) -> list[list[str]]:
        """Every cell as the text a person reads."""
        return [[c.cell(r.get(c.key))[0] for c in self.columns] for r in self.rows]

    def column(self, title: str) -> list[str]:
        """The cells under the column titled ``title``."""
        i = self.headers.index(title)
        return [row[i] for row in self.cells()]

    def html(self) -> str:
        """The table as HTML: no index column, long cells wrap, the box scrolls instead of widening the pane."""
        body = [[(*c.cell(r.get(c.key)), c.right) for c in self.columns] for r in self.rows]
        return str(macros("tables.html.j2").table(self.headers, body, self.caption, self.css))

    def _repr_html_(self) -> str:
        return self.html()
