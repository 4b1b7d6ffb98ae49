"""The demo round, built and run end to end from the shipped inputs (:mod:`.run`).

``workbench.demo`` was a module before these subpackages; its names are still served from here.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "run_demo": "run", "write_demo_round": "run", "run_rechallenge": "run",
}

__all__ = [
    "run_demo", "run_rechallenge", "write_demo_round",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="run")
