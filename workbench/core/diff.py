"""How two JSON values differ, change by change: amendments of a round's rules, drift of its files, an audit's
re-run against the signed sheet. Lists of records are matched by a naming field (:data:`RECORD_KEYS`), so one
removed assignment is one change, not a shifted list.

Public API: :func:`json_diff`, :data:`RECORD_KEYS`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RECORD_KEYS", "json_diff"]

# how lists of records are matched by json_diff: a field, or fields whose values together name the record
# (an assignment is its reviewer and team, so one removed assignment is one change, not a shifted list)
RECORD_KEYS: tuple[str | tuple[str, ...], ...] = ("id", ("reviewer", "team"), "path", "team", "criterion", "seq")
_MISSING = object()


def _record_name(x: dict[str, Any], key: str | tuple[str, ...]) -> Any:
    """The record's identity under ``key`` (``None`` when a field is missing or not a string or number)."""
    vals = [x.get(k) for k in ((key,) if isinstance(key, str) else key)]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in vals):
        return None
    return vals[0] if len(vals) == 1 else "/".join(str(v) for v in vals)


def _record_key(items: list[Any]) -> str | tuple[str, ...] | None:
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    for k in RECORD_KEYS:
        vals = [_record_name(x, k) for x in items]
        if all(v is not None for v in vals) and len(set(vals)) == len(vals):
            return k
    return None


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def json_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Every differing value between two JSON values: ``{path, old, new}`` (``None`` where absent), in path order.

    Lists of records are matched by the first of ``id``, ``reviewer`` with ``team``, ``path``, ``team``,
    ``criterion``, ``seq`` that is unique in both (``teams[b]``, ``assignments[e1/ta]``), so an inserted or moved record shows as one difference; other lists are compared by
    position. An added or removed record or list item is one change holding the whole value.
    """
    out: list[dict[str, Any]] = []

    def walk(x: Any, y: Any, p: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k, _MISSING), y.get(k, _MISSING), f"{p}.{k}" if p else str(k))
        elif isinstance(x, list) and isinstance(y, list):
            key = _record_key(x)
            if key is not None and key == _record_key(y):
                xa, ya = {_record_name(r, key): r for r in x}, {_record_name(r, key): r for r in y}
                for k in sorted(set(xa) | set(ya), key=str):
                    walk(xa.get(k, _MISSING), ya.get(k, _MISSING), f"{p}[{k}]")
            else:
                for i in range(max(len(x), len(y))):
                    walk(x[i] if i < len(x) else _MISSING, y[i] if i < len(y) else _MISSING, f"{p}[{i}]")
        elif not _same(x, y):
            out.append({"path": p, "old": None if x is _MISSING else x, "new": None if y is _MISSING else y})

    walk(old, new, path)
    return out
