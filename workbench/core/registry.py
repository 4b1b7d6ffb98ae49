"""What installed packages add through Python entry points (formulas, kinds of evidence, executors, commands).

A registry of this package keeps its built-ins in code; :func:`entry_point_objects` reads one entry-point group
once and checks every object before anything uses it, so a broken plug-in is one clear error naming the entry
point, not a failure later in a round.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from .errors import WorkbenchError

__all__ = ["entry_point_objects"]

T = TypeVar("T")


def entry_point_objects(group: str, kind: type[T], name_of: Callable[[T], str], *,
                        error: type[WorkbenchError] = WorkbenchError, what: str, expected: str) -> dict[str, T]:
    """Every entry point of ``group``, loaded: each must be a ``kind`` whose own name (``name_of``) is the entry
    point's name, else ``error`` names the entry point (``what``: how the message calls a right one)."""
    found: dict[str, T] = {}
    for ep in entry_points(group=group):
        obj = ep.load()
        if not isinstance(obj, kind) or name_of(obj) != ep.name:
            raise error(f"entry point {ep.name} = {ep.value} of {group} is not {what} '{ep.name}'", expected=expected)
        found[ep.name] = obj
    return found
