"""The audit: re-check a round from its files alone (signatures, ledger, re-run notebooks, recomputed results) and
write what was found: :mod:`.checks` finds, :mod:`.render` shows and writes.

``workbench.audit`` was a module before these subpackages; its names are still served from here.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "CHECKS": "checks", "AuditFinding": "checks", "AuditResult": "checks", "Finding": "checks", "audit_round": "checks",
    "verify_sheets": "checks", "compare_sheets": "checks", "answers_yaml": "checks",
    "finding_line": "render", "findings_table": "render", "findings_chart": "render", "render_html": "render",
    "write_audit": "render",
}

__all__ = [
    "AuditFinding", "CHECKS", "AuditResult", "Finding", "answers_yaml", "audit_round", "compare_sheets", "finding_line",
    "findings_chart", "findings_table", "render_html", "verify_sheets", "write_audit",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="checks")
