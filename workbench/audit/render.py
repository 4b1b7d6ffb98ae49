"""The audit's findings shown and written: one line each for the command, a table and a chart for the audit
notebook, the self-contained HTML page, and ``audit.json`` with ``index.html`` in the audit folder.

Public API: :func:`finding_line`, :func:`findings_table`, :func:`findings_chart`, :func:`render_html`,
:func:`write_audit`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.charts import altair
from ..core.files import atomic_write_bytes, canonical_json, check_output_dir
from ..core.templating import render
from .checks import MAX_VALUE_CHARS, SEVERITIES, AuditFinding, AuditResult

alt = altair()  # the audit page draws with it

__all__ = ["finding_line", "findings_chart", "findings_table", "render_html", "write_audit"]


def finding_line(f: AuditFinding) -> str:
    """One finding as the command line prints it: what ``audit.json`` holds, ``file:line: place: message;
    expected ...``, then the other details (shortened) on an indented line."""
    d = f.detail
    where = f"{f.file or '-'}" + (f":{d['line']}" if d.get("line") is not None else "")
    text = f"{f.severity:7} {f.check:18} {where}: " + (f"{d['place']}: " if d.get("place") else "") + f.message
    if d.get("expected") is not None:
        text += f"; expected {d['expected']}"
    rest = {k: v for k, v in d.items() if k not in ("line", "place", "expected")}
    if rest:
        more = canonical_json(rest).decode()
        text += "\n" + " " * 8 + (more if len(more) <= MAX_VALUE_CHARS else more[:MAX_VALUE_CHARS] + "...")
    return text


def findings_table(result: AuditResult) -> pd.DataFrame:
    """One row per finding: severity, check, file, message."""
    return pd.DataFrame([f.model_dump(exclude={"params"}) for f in result.findings],
                        columns=["severity", "check", "file", "message"])


def findings_chart(result: AuditResult) -> alt.Chart:
    """Findings per check, coloured by severity."""
    counts = (findings_table(result).groupby(["check", "severity"]).size().reset_index(name="findings")
              if result.findings else pd.DataFrame(columns=["check", "severity", "findings"]))
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("findings:Q", title="findings"),
        y=alt.Y("check:N", title=None, sort="-x"),
        color=alt.Color("severity:N", scale=alt.Scale(domain=list(SEVERITIES), range=["#c0392b", "#e69f00", "#7f8c8d"])),
        tooltip=["check", "severity", "findings"],
    ).properties(width=420, title="Audit findings by check")


def render_html(result: AuditResult) -> str:
    """The audit page (self-contained, offline: no script, nothing fetched)."""
    return render("audit.html.j2", s=result, detail=lambda d: canonical_json(d).decode() if d else "")


def write_audit(result: AuditResult, round_dir: str | Path, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``audit.json`` (sorted keys, UTF-8) and ``index.html`` to ``out_dir`` (default ``<round>/audit``;
    an auditor's read-only account writes to a folder of its own)."""
    import json

    out = check_output_dir(Path(out_dir) if out_dir else Path(round_dir) / "audit")
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return {"json": atomic_write_bytes(out / "audit.json", text.encode(), mode=0o644),
            "html": atomic_write_bytes(out / "index.html", render_html(result).encode(), mode=0o644)}
