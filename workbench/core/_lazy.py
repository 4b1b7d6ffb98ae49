"""Private: a package's public API imported on first use (PEP 562), so importing the package stays cheap; and
the heavy third-party imports a notebook kernel or batch worker makes, made without their avoidable costs."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any


def lazy_api(package: str, api: Mapping[str, str], namespace: dict[str, Any], fallback: str | None = None,
             ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: name -> the submodule (relative) that defines it.

    ``fallback`` (a relative module) answers every other public name: a package that took the name of an old
    flat module (``workbench.round``, ``workbench.audit``) still serves that module's names to old imports.
    """

    def __getattr__(name: str) -> Any:
        if name not in api:
            if fallback is None or name.startswith("__"):
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            try:
                value = getattr(importlib.import_module(f".{fallback}", package), name)
            except AttributeError:
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
            namespace[name] = value
            return value
        value = getattr(importlib.import_module(f".{api[name]}", package), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(api))

    return __getattr__, __dir__


@contextlib.contextmanager
def without_iri_grammars() -> Iterator[None]:
    """Import inside this block as if ``rfc3987_syntax`` were not installed, if jsonschema is first imported here.

    jsonschema (imported by Altair, and by papermill through nbformat) imports ``rfc3987_syntax`` where it is
    installed (JupyterLab's server pulls it in) for its IRI format checkers, and that module compiles 39 lark
    grammars when imported: 2-3 s on a quiet machine, 5-7 s on a busy one, in every notebook kernel that draws a
    chart and every batch worker (python-jsonschema/jsonschema issue 1428). Nothing here checks IRI formats
    (Altair and nbformat validate without a format checker). The module is hidden only while jsonschema loads,
    so anyone can still import it later.
    """
    hide = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if hide:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # "import" now raises ImportError
    try:
        yield
    finally:
        if hide and "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]
