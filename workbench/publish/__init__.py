"""From accepted sheets to the published report: the pure statistics (:mod:`.stats`) applied to a round
(:mod:`.aggregate`), the report's pages and charts (:mod:`.report`), its wording in Korean or English
(:mod:`.wording`) and the verify page (:mod:`.verifypage`).
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "aggregate_round": "aggregate", "write_report": "report", "indices_chart": "report",
}

__all__ = [
    "aggregate_round", "indices_chart", "write_report",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals())
