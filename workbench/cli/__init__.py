"""The ``workbench`` command: :func:`main` parses the arguments and dispatches to a command.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "main": "app",
}

__all__ = [
    "main",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="app")
