"""The round report: ``report/index.html`` (self-contained, offline), ``report/scores.csv`` and
``report/report.dsse.json`` (a :class:`~workbench.aggregate.SignedReport`: the aggregate's
:class:`~workbench.aggregate.ReportData` plus the hashes of both files, signed by the coordinator exactly as
the model serializes, in canonical JSON; its hash goes into the ledger as a ``report`` entry).

Charts are Altair objects (:func:`indices_chart`, :func:`spread_chart`, :func:`totals_chart`,
:func:`benchmark_chart`, and the evidence modules' vote-strength and cost charts) embedded as inline SVG
rendered offline by :func:`workbench.charts.to_svg`: no script, no CDN, nothing fetched. Per team the
report shows the evidence behind the computed numbers: benchmark points with intervals and "miss may be
noise" flags, the independence evidence (provenance verdicts with parameter shares, training, tokenizer
and licence flags) and every evidence file that could not be read.

Public API: :func:`indices_chart`, :func:`spread_chart`, :func:`totals_chart`, :func:`benchmark_chart`,
:func:`scores_csv`, :func:`render_html`, :func:`write_report`.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import __version__, ledger
from .aggregate import Aggregate, SignedReport
from .charts import style, to_svg
from .errors import Problem, RoundError
from .evidence.cost import cost_chart
from .evidence.users import strengths_chart
from .files import atomic_write_bytes, canonical_json, sha256_bytes
from .round import Round, require_coordinator
from .signing import REPORT_TYPE, envelope_bytes, sign_payload
from .templating import render

__all__ = ["benchmark_chart", "indices_chart", "render_html", "report_payload", "scores_csv", "spread_chart",
           "totals_chart", "write_report"]

SCORE_COLS = ["rank", "team", "name", "benchmark", "expert", "user", "total", "frontier_index", "diffusion_index",
              "bt_strength", "n_expert_sheets", "status"]


def indices_chart(scores: pd.DataFrame) -> alt.LayerChart:
    """AI Frontier Index (x) against AI Diffusion Index (y), one labelled point per team."""
    base = alt.Chart(scores[["team", "frontier_index", "diffusion_index", "status"]]).encode(
        x=alt.X("frontier_index:Q", title="AI Frontier Index", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("diffusion_index:Q", title="AI Diffusion Index", scale=alt.Scale(domain=[0, 100])),
    )
    pts = base.mark_circle(size=120).encode(color=alt.Color("status:N", title="status"), tooltip=["team", "status"])
    labels = base.mark_text(dx=8, align="left").encode(text="team:N")
    return (pts + labels).properties(width=420, height=360, title="Frontier vs Diffusion")


def spread_chart(criteria: pd.DataFrame) -> alt.Chart:
    """Each reviewer's points per expert criterion and team (the panel's spread)."""
    return alt.Chart(criteria).mark_tick(thickness=2).encode(
        x=alt.X("points:Q", title="points"),
        y=alt.Y("criterion:N", title=None),
        color=alt.Color("team:N"),
        yOffset="team:N",
        tooltip=["team", "reviewer", "criterion", "points"],
    ).properties(width=480, title="Reviewer points per criterion")


def totals_chart(scores: pd.DataFrame) -> alt.Chart:
    """Stacked points per part (benchmark, expert, user) per team."""
    long = scores.melt(id_vars=["team"], value_vars=["benchmark", "expert", "user"], var_name="part", value_name="points")
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("points:Q", stack="zero", title="points (of 100)"),
        y=alt.Y("team:N", sort="-x", title=None),
        color=alt.Color("part:N", sort=["benchmark", "expert", "user"]),
        tooltip=["team", "part", "points"],
    ).properties(width=480, title="Total points by part")


def benchmark_chart(agg: Aggregate) -> alt.LayerChart:
    """Computed benchmark points per criterion and team, with their bootstrap interval as error bars."""
    rows = [{"team": t, "criterion": cid, "points": p.points, "low": p.ci_low, "high": p.ci_high, "max": p.max_points}
            for t, d in sorted(agg.dossiers.items()) for cid, p in sorted(d.points.items())]
    data = pd.DataFrame(rows, columns=["team", "criterion", "points", "low", "high", "max"])
    y = alt.Y("team:N", title=None)
    bars = alt.Chart().mark_errorbar(ticks=True).encode(x=alt.X("low:Q", title="points"), x2="high:Q", y=y)
    dots = alt.Chart().mark_point(filled=True, size=60).encode(
        x="points:Q", y=y, color=alt.Color("team:N", legend=None), tooltip=["team", "criterion", "points", "low", "high"])
    return alt.layer(bars, dots, data=data).properties(width=200, height=140).facet(
        column=alt.Column("criterion:N", title=None)).properties(title="Benchmark points with 95% intervals")


def scores_csv(agg: Aggregate) -> str:
    """The score table as CSV text (UTF-8, '\\n' line ends, stable column order)."""
    return agg.scores[SCORE_COLS].to_csv(index=False, lineterminator="\n")


def render_html(agg: Aggregate) -> str:
    """The report page with every chart inlined as SVG."""
    charts = {"indices": to_svg(style(indices_chart(agg.scores))), "totals": to_svg(style(totals_chart(agg.scores))),
              "spread": to_svg(style(spread_chart(agg.criteria))) if not agg.criteria.empty else "",
              "bench": to_svg(style(benchmark_chart(agg))) if any(d.points for d in agg.dossiers.values()) else "",
              "strengths": to_svg(strengths_chart(agg.users.strengths, "en"))
              if agg.users is not None and agg.users.strengths is not None else "",
              "cost": to_svg(cost_chart(agg.cost, "en")) if agg.cost is not None else ""}
    s = agg.report_data()
    return render("report.html.j2", s=s, charts=charts, score_cols=SCORE_COLS, version=__version__,
                       rules_hash=sha256_bytes(canonical_json(s.rules)), problem=_problem_line)


def _problem_line(p: dict) -> str:
    """A dossier problem of the report's evidence (JSON data) as its one line."""
    return str(Problem.model_validate(p))


def report_payload(agg: Aggregate, files: dict[str, str], ledger_size: int, ledger_head: str) -> bytes:
    """The bytes the report signs: the :class:`SignedReport` (data, the published files' sha256 and the ledger
    checkpoint it was made under) in canonical JSON (RFC 8785) of its JSON form."""
    signed = SignedReport(**dict(agg.report_data()), files=files, ledger_size=ledger_size, ledger_head=ledger_head)
    return canonical_json(signed.model_dump(mode="json"))


def write_report(r: Round, agg: Aggregate, key: Ed25519PrivateKey, actor: str) -> dict[str, Path]:
    """Write index.html, scores.csv and the signed report.dsse.json under ``<round>/report``; log it in the ledger."""
    require_coordinator(r, actor, key)
    if agg.problems and agg.acknowledged is None:
        # a signed report is a promise: never on top of a problem nobody answered for
        lines = "\n".join(f"  {p}" for p in agg.problems)
        raise RoundError(f"not signed: {len(agg.problems)} problem(s) change points:\n{lines}\nFix the evidence (then "
                         "'workbench rerun'), or record why the report is published anyway: "
                         "'workbench aggregate ROUND --key KEY --acknowledge REASON'", file=r.path)
    out = r.path / "report"
    html = render_html(agg).encode()
    csv = scores_csv(agg).encode()
    with ledger.locked(r.ledger_path) as book:  # the checkpoint signed is the one the report entry follows
        head = ledger.entry_hash(book.entries[-1]) if book.entries else ledger.GENESIS
        payload = report_payload(agg, {"index.html": sha256_bytes(html), "scores.csv": sha256_bytes(csv)},
                                 len(book.entries), head)
        env = envelope_bytes(sign_payload(payload, REPORT_TYPE, key))
        paths = {"html": atomic_write_bytes(out / "index.html", html, mode=0o644),
                 "csv": atomic_write_bytes(out / "scores.csv", csv, mode=0o644),
                 "signed": atomic_write_bytes(out / "report.dsse.json", env, mode=0o644)}
        book.append({"type": "report", "payload_sha256": sha256_bytes(payload),
                     "data": {"file": "report/report.dsse.json", "frozen_version": agg.frozen_version}},
                    actor=actor, key=key)
    return paths
