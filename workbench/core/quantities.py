"""The precision policy: how each kind of number reads, the same in the notebook, the report and the console.

One function per quantity, named by the quantity, never by a format string at the place it is shown:

- ``score``: a benchmark score (accuracy 0-1, or a metric on its own scale) and what it is compared with
  (a target, a reference, an interval's ends): three significant digits, trailing zeros kept so that numbers
  side by side read alike (``0.380``, ``0.488``, ``85.3``, ``1230``);
- ``points``: rubric points, one decimal, half away from zero (:func:`workbench.core.base.shown`);
- ``share``: a share (0-1) as a percentage with one decimal (``48.8%``);
- ``percent``: a share as a whole percentage (``49%``), for thresholds and ratios people read at a glance;
- ``count``: an integer with thousands separated.

Messages of the catalogue name the quantity as the format of a parameter (``{reference:score}``;
:func:`workbench.core.messages.msg`), and tables name it as a column's format (:func:`workbench.core.tables.number`).

Public API: :data:`QUANTITIES`, :func:`significant`, :func:`figure`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from .base import shown

__all__ = ["QUANTITIES", "figure", "significant"]


def significant(x: float, digits: int = 3) -> str:
    """``x`` at ``digits`` significant digits, half away from zero, in plain notation, trailing zeros kept
    (``0.38`` -> ``0.380``; ``0.99996`` -> ``1.00``); never ``-0``."""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0." + "0" * (digits - 1) if digits > 1 else "0"
    d = Decimal(repr(float(x)))
    lead = d.adjusted()
    r = d.quantize(Decimal(1).scaleb(lead - digits + 1), rounding=ROUND_HALF_UP)
    if r.adjusted() > lead:  # 0.9996 -> 1.000: one digit more before the point, one fewer after
        r = d.quantize(Decimal(1).scaleb(lead - digits + 2), rounding=ROUND_HALF_UP)
    return format(r, "f")


def _share(x: float) -> str:
    return shown(100 * x, 1) + "%"


def _percent(x: float) -> str:
    return shown(100 * x, 0) + "%"


QUANTITIES: dict[str, Callable[[float], str]] = {
    "score": significant,
    "points": lambda x: shown(x, 1),
    "share": _share,
    "percent": _percent,
    "count": lambda x: f"{int(x):,}",
}


def figure(kind: str, x: float | None) -> str:
    """``x`` as the policy shows a ``kind`` (a key of :data:`QUANTITIES`); ``""`` for None."""
    if x is None:
        return ""
    return QUANTITIES[kind](float(x))
