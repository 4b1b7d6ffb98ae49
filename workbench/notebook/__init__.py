"""The reviewer's notebook UI: the scoring form's widgets, the evidence panels, the draft store and
:func:`open_review`, the one call the review notebook makes. Nothing below this layer imports it.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "open_review": "review",
}

__all__ = [
    "open_review",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals())
