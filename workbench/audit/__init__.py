"""The audit: re-check a round from its files alone (signatures, ledger, re-run notebooks, recomputed results) and
write what was found.

``workbench.audit`` was a module before these subpackages; its names are still served from here.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "audit_round": "checks", "write_audit": "checks", "findings_chart": "checks", "findings_table":
    "checks", "AuditResult": "checks",
}

__all__ = [
    "AuditResult", "audit_round", "findings_chart", "findings_table", "write_audit",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="checks")
