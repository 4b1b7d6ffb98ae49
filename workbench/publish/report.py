"""The round report, as the ministry publishes it, in ``<round>/report``:

- ``index.html`` (Korean, ``lang="ko"``) and ``index.en.html`` (English), linked both ways: self-contained
  and offline, every label from :mod:`workbench.core.messages` or the rubrics (:class:`~workbench.publish.wording.Wording`),
  every figure at one decimal by the one rounding :func:`workbench.core.base.shown`;
- ``scores.csv``: the ranking with its figures for people at the same rounding;
- ``verify.html``, ``keys.json`` and ``ledger.jsonl``: a page that checks the signature, the files and the
  ledger head in a browser, the coordinators' public keys and a copy of the ledger up to the report entry
  (:mod:`workbench.publish.verifypage`);
- ``report.dsse.json``: a :class:`~workbench.publish.aggregate.SignedReport` (the aggregate's
  :class:`~workbench.publish.aggregate.ReportData`, full precision, plus the sha256 of every file of :data:`PUBLISHED`
  and the ledger head it was made under), signed by the coordinator in canonical JSON; its hash goes into the
  ledger as a ``report`` entry. The ledger copy cannot be among the signed files (it holds that entry); it is
  bound to the signed head by its hash chain instead.

Charts are Altair objects rendered to inline SVG offline by :func:`workbench.core.charts.to_svg`: no script, no
CDN, nothing fetched. Teams are named by their names, criteria by their rubric titles, and each
per-criterion panel has its own axis from 0 to the criterion's maximum.

Public API: :data:`PUBLISHED`, :func:`indices_chart`, :func:`criteria_chart`, :func:`totals_chart`,
:func:`benchmark_chart`, :func:`scores_csv`, :func:`render_html`, :func:`write_report`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import __version__
from ..core.base import shown
from ..core.charts import altair, style, to_svg
from ..core.errors import RoundError
from ..core.files import atomic_write_bytes, canonical_json, sha256_bytes
from ..core.findings import Finding
from ..core.messages import MESSAGES
from ..core.signing import REPORT_TYPE, envelope_bytes, key_id, sign_payload
from ..core.templating import render
from ..core.versions import status_v2
from ..evidence.cost import cost_chart
from ..evidence.users import strengths_chart
from ..model.round import Round, require_coordinator
from ..model.rubric import Rubric
from ..round import ledger, tlog
from ..round.checkpoint import sign_tree, write_tree_checkpoint
from .aggregate import Aggregate, SignedReport
from .stats import panel_score
from .verifypage import CHECKPOINT_COPY, INCLUSION_COPY, LEDGER_COPY, keys_json, verify_html
from .wording import Wording

alt = altair()  # the report draws with it throughout

__all__ = ["PUBLISHED", "benchmark_chart", "criteria_chart", "indices_chart", "ranking_text", "render_html",
           "report_payload", "scores_csv", "totals_chart", "write_report"]

SCORE_COLS = ["rank", "team", "name", "benchmark", "expert", "user", "total", "frontier_index", "diffusion_index",
              "bt_strength", "n_expert_sheets", "status"]
# the figures of scores.csv meant for people, and their decimals (the signed JSON keeps full precision)
SHOWN_COLS = {"benchmark": 1, "expert": 1, "user": 1, "total": 1, "frontier_index": 1, "diffusion_index": 1,
              "bt_strength": 2}
# every file the signed report names by its sha256 (the ledger copy holds the report entry, so it cannot be one)
PUBLISHED = ("index.html", "index.en.html", "scores.csv", "verify.html", "keys.json")
PAGES = {"ko": "index.html", "en": "index.en.html"}
PANEL_WIDTH = 210


def _names(scores: pd.DataFrame) -> dict[str, str]:
    return dict(zip(scores["team"], scores["name"], strict=True))


def indices_chart(scores: pd.DataFrame, w: Wording) -> alt.Chart:
    """AI Frontier Index (x) against AI Diffusion Index (y), one point per team; teams are told apart by colour
    in one legend, not by text next to the points (labels of close teams overlapped); the table beside it has
    the exact figures."""
    data = pd.DataFrame({"team": scores["name"], "frontier": scores["frontier_index"].map(lambda v: float(shown(v))),
                         "diffusion": scores["diffusion_index"].map(lambda v: float(shown(v)))})
    low = min(float(data[["frontier", "diffusion"]].min().min()) if len(data) else 0.0, 90.0)
    domain = [max(0.0, math.floor((low - 5) / 10) * 10), 100]
    team = alt.Color("team:N", title=w.t("r_col_team"), sort=list(data["team"]))
    return alt.Chart(data).mark_point(size=160, filled=True, opacity=0.85).encode(
        x=alt.X("frontier:Q", title=w.t("r_col_frontier"), scale=alt.Scale(domain=domain)),
        y=alt.Y("diffusion:Q", title=w.t("r_col_diffusion"), scale=alt.Scale(domain=domain)),
        color=team,
        tooltip=["team", "frontier", "diffusion"],
    ).properties(width=380, height=340, title=w.t("r_indices"))


def totals_chart(scores: pd.DataFrame, w: Wording) -> alt.Chart:
    """Stacked points per part (benchmark, expert, user) per team, by total."""
    parts = [w.t(f"r_part_{p}") for p in ("benchmark", "expert", "user")]
    long = pd.DataFrame([{"team": row["name"], "part": w.t(f"r_part_{p}"), "order": i, "points": float(shown(row[p])),
                          "total": row["total"]}
                         for _, row in scores.iterrows() for i, p in enumerate(("benchmark", "expert", "user"))],
                        columns=["team", "part", "order", "points", "total"])
    order = list(scores.sort_values(["total", "team"], ascending=[False, True])["name"])
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("points:Q", stack="zero", title=w.t("r_points_of"), scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("team:N", sort=order, title=None),
        color=alt.Color("part:N", sort=parts, title=w.t("r_part")),
        order=alt.Order("order:Q"),
        tooltip=["team", "part", "points"],
    ).properties(width=480, title=w.t("r_charts_totals"))


def _axis(top: float) -> alt.Axis:
    """A small panel's axis from 0 to the criterion's maximum in whole points (labels of a 4-point axis ran
    together, and quarter ticks of a 3-point axis read 0.8 and 2.3)."""
    step = 1 if top <= 6 else 2 if top <= 12 else 5
    values = [float(v) for v in range(0, math.floor(top) + 1, step)]
    # a format with its precision: without one Vega derives it from the tick step and "~g" drew 10 as "1e+1"
    return alt.Axis(values=[*values, float(top)] if values[-1] < top else values, format=".1~f", labelFlush=True)


def _panel_title(text: str, width: int = PANEL_WIDTH + 60, size: int = 12) -> alt.TitleParams:
    """A small panel's title on as many lines as it needs: English criterion titles were cut off with "…" at
    the panel's width. Line breaks fall between words, by an estimate of each character's width (Hangul and
    other wide characters about one em, others about half an em)."""
    def px(s: str) -> float:
        return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.56 for c in s)

    lines: list[str] = []
    for word in text.split():
        if lines and px(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return alt.TitleParams(lines if len(lines) > 1 else text, fontSize=size, limit=0)


def _panels(charts: list[alt.TopLevelMixin], title: str) -> alt.ConcatChart:
    return alt.concat(*charts, columns=3, spacing=18).properties(title=title)


def criteria_chart(agg: Aggregate, w: Wording) -> alt.ConcatChart | None:
    """One small panel per expert criterion, its axis from 0 to the criterion's maximum: each reviewer's points
    as a dot and the panel's points (the rules' aggregation) as a bar."""
    if agg.criteria.empty:
        return None
    method = agg.rules.get("aggregation", {}).get("expert", "trimmed_mean")
    trim = agg.rules.get("aggregation", {}).get("trim", 1)
    maxima = dict(zip(agg.reliability["criterion"], agg.reliability["max_points"], strict=True)) \
        if not agg.reliability.empty else {}
    names = _names(agg.scores)
    order = [names[t] for t in sorted(names)]
    charts = []
    for cid, sub in agg.criteria.groupby("criterion", sort=False):
        top = float(maxima.get(cid, sub["points"].max()))
        dots = pd.DataFrame({"team": sub["team"].map(names), "points": sub["points"].astype(float)})
        panel = pd.DataFrame([{"team": names[t], "panel": panel_score(g["points"].tolist(), method, trim)}
                              for t, g in sub.groupby("team", sort=True)])
        x = alt.X("points:Q", title=w.t("r_reviewer_points"), scale=alt.Scale(domain=[0, top], nice=False), axis=_axis(top))
        y = alt.Y("team:N", sort=order, title=None)
        bars = alt.Chart(panel).mark_bar(color="#c8d7ea", height=12).encode(
            x=alt.X("panel:Q", scale=alt.Scale(domain=[0, top], nice=False)), y=y,
            tooltip=[alt.Tooltip("team:N"), alt.Tooltip("panel:Q", format=".1f", title=w.t("r_panel_points"))])
        pts = alt.Chart(dots).mark_circle(size=36, color="#1f4e8c", opacity=0.7).encode(x=x, y=y)
        charts.append((bars + pts).properties(
            width=PANEL_WIDTH, height=22 * len(order),
            title=_panel_title(f"{w.title(cid)} ({shown(top)})")))
    return _panels(charts, w.t("r_spread_chart"))


def benchmark_chart(agg: Aggregate, w: Wording) -> alt.ConcatChart | None:
    """Computed benchmark points per criterion and team with their bootstrap interval, one panel per criterion
    on its own 0-to-maximum axis (a 10-point criterion is not drawn on a 20-point axis)."""
    names = _names(agg.scores)
    order = [names[t] for t in sorted(names)]
    rows = [{"team": names.get(t, t), "criterion": cid, "points": p.points, "low": p.ci_low, "high": p.ci_high,
             "max": p.max_points} for t, d in sorted(agg.dossiers.items()) for cid, p in sorted(d.points.items())]
    if not rows:
        return None
    data = pd.DataFrame(rows)
    charts = []
    for cid, sub in data.groupby("criterion", sort=True):
        top = float(sub["max"].max())
        x = alt.X("low:Q", title=w.t("r_col_points"), scale=alt.Scale(domain=[0, top], nice=False), axis=_axis(top))
        y = alt.Y("team:N", sort=order, title=None)
        bars = alt.Chart(sub).mark_errorbar(ticks=True).encode(x=x, x2="high:Q", y=y)
        dots = alt.Chart(sub).mark_point(filled=True, size=60, color="#1f4e8c").encode(
            x=alt.X("points:Q", scale=alt.Scale(domain=[0, top], nice=False)), y=y,
            tooltip=["team", "points", "low", "high"])
        charts.append((bars + dots).properties(
            width=PANEL_WIDTH, height=22 * len(order),
            title=_panel_title(f"{w.title(cid)} ({shown(top)})")))
    return _panels(charts, w.t("r_bench_chart"))


def status_text(status: str, params: Mapping[str, object] | None, lang: str = "en") -> str:
    """A team's status (a code and its values) in words (``lang``); a status signed as text is shown as it is."""
    if f"status_{status}" not in MESSAGES:
        return status
    return Finding(code=f"status_{status}", params=dict(params or {})).text(lang)


def scores_csv(agg: Aggregate, *, team_order: bool = False) -> str:
    """The score table as CSV text (UTF-8, '\\n' line ends, stable column order), its figures at the report's
    rounding (:data:`SHOWN_COLS`; the signed report keeps full precision), in rank order as the report lists
    the teams (unranked ones last). ``team_order``: by team id, as reports signed before 2026-12-04 wrote it
    (the audit recomputes either)."""
    table = agg.scores[SCORE_COLS].copy()
    # each status in English words; as reports signed before 2026-12-04 wrote it with team_order
    table["status"] = [status_v2(s, p) if team_order else status_text(s, p)
                       for s, p in zip(agg.scores["status"], agg.scores["status_params"], strict=True)]
    if not team_order:
        table = table.sort_values(["rank", "team"], na_position="last", kind="stable")
    for col, digits in SHOWN_COLS.items():
        table[col] = [shown(None if pd.isna(v) else float(v), digits) for v in table[col]]
    return table.to_csv(index=False, lineterminator="\n")


def ranking_text(agg: Aggregate) -> str:
    """The ranking as a terminal reads it: rank order (unranked teams last), the report's figures at its rounding
    (:data:`SHOWN_COLS`), an empty cell as "-" (never NaN), columns aligned; what ``workbench aggregate`` prints."""
    cols = ["rank", "team", "benchmark", "expert", "user", "total", "status"]
    rows = sorted(agg.scores[[*cols, "status_params"]].to_dict("records"),
                  key=lambda r: (pd.isna(r["rank"]), 0 if pd.isna(r["rank"]) else r["rank"], r["team"]))
    cells = [cols] + [["-" if pd.isna(r["rank"]) else str(int(r["rank"])), r["team"],
                       *(shown(None if pd.isna(r[c]) else float(r[c]), SHOWN_COLS[c]) or "-"
                         for c in ("benchmark", "expert", "user", "total")), status_text(r["status"], r["status_params"])]
             for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols) - 1)]
    numeric = {0, 2, 3, 4, 5}
    return "\n".join("  ".join([*(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i])
                                  for i, c in enumerate(row[:-1])), row[-1]]).rstrip() for row in cells)


def _svg(chart: alt.TopLevelMixin | None) -> str:
    return to_svg(style(chart)) if chart is not None else ""


def render_html(agg: Aggregate, rubrics: Mapping[str, Rubric], lang: str = "ko", signer_key_id: str | None = None) -> str:
    """The report page in ``lang`` ('ko' or 'en') with every chart inlined as SVG; ``signer_key_id``: the key id of
    the coordinator who signs it, printed for readers to compare with the ministry's published one."""
    w = Wording(rubrics, lang)
    charts = {"indices": _svg(indices_chart(agg.scores, w)), "totals": _svg(totals_chart(agg.scores, w)),
              "spread": _svg(criteria_chart(agg, w)), "bench": _svg(benchmark_chart(agg, w)),
              "strengths": to_svg(strengths_chart(agg.users.strengths, lang, _names(agg.scores)))
              if agg.users is not None and agg.users.strengths is not None else "",
              "cost": to_svg(cost_chart(agg.cost, lang, _names(agg.scores))) if agg.cost is not None else ""}
    s = agg.report_data().model_dump(mode="json")  # the signed data, as a reader of report.dsse.json sees it
    ranking = sorted(s["scores"], key=lambda row: (row["rank"] is None, row["rank"] or 0, -row["total"], row["team"]))
    return render("report.html.j2", s=s, w=w, lang=lang, charts=charts, version=__version__, ranking=ranking,
                  names={row["team"]: row["name"] for row in s["scores"]}, other=PAGES["en" if lang == "ko" else "ko"],
                  rules_hash=sha256_bytes(canonical_json(s["rules"])), signer_key_id=signer_key_id)


def report_payload(agg: Aggregate, files: dict[str, str], ledger_size: int, ledger_head: str) -> bytes:
    """The bytes the report signs: the :class:`SignedReport` (data, the published files' sha256 and the ledger
    checkpoint it was made under) in canonical JSON (RFC 8785) of its JSON form."""
    signed = SignedReport(**dict(agg.report_data()), files=files, ledger_size=ledger_size, ledger_head=ledger_head)
    return canonical_json(signed.model_dump(mode="json"))


def published_files(r: Round, agg: Aggregate, signer_key_id: str | None = None) -> dict[str, bytes]:
    """The bytes of every file of :data:`PUBLISHED`, as :func:`write_report` writes and signs them (the pages
    print ``signer_key_id``, the signing coordinator's key id)."""
    return {"index.html": render_html(agg, r.rubrics, "ko", signer_key_id).encode(),
            "index.en.html": render_html(agg, r.rubrics, "en", signer_key_id).encode(),
            "scores.csv": scores_csv(agg).encode(), "verify.html": verify_html(), "keys.json": keys_json(r)}


def write_report(r: Round, agg: Aggregate, key: Ed25519PrivateKey, actor: str) -> dict[str, Path]:
    """Write the report files of :data:`PUBLISHED` and the signed report.dsse.json under ``<round>/report``, log
    it in the ledger, then copy the ledger up to that entry next to them (for the verify page)."""
    require_coordinator(r, actor, key)
    if agg.problems and agg.acknowledged is None:
        # a signed report is a promise: never on top of a problem nobody answered for
        lines = "\n".join(f"  {p.text('en') if not isinstance(p, str) else p}" for p in agg.problems)
        raise RoundError(f"not signed: {len(agg.problems)} problem(s) change points:\n{lines}\nFix the evidence (then "
                         "'workbench rerun'), or record why the report is published anyway: "
                         "'workbench aggregate ROUND --key KEY --acknowledge REASON'", file=r.path)
    out = r.path / "report"
    files = published_files(r, agg, key_id(key.public_key()))
    with ledger.locked(r.ledger_path) as book:  # the checkpoint signed is the one the report entry follows
        head = ledger.entry_hash(book.entries[-1]) if book.entries else ledger.GENESIS
        payload = report_payload(agg, {n: sha256_bytes(b) for n, b in files.items()}, len(book.entries), head)
        env = envelope_bytes(sign_payload(payload, REPORT_TYPE, key))
        written = {n: atomic_write_bytes(out / n, b, mode=0o644) for n, b in files.items()}
        signed = atomic_write_bytes(out / "report.dsse.json", env, mode=0o644)
        book.append({"type": "report", "payload_sha256": sha256_bytes(payload),
                     "data": {"file": "report/report.dsse.json", "frozen_version": agg.frozen_version}},
                    actor=actor, key=key)
        # the ledger as it stands with the report entry last: what the verify page checks the head against
        copy = atomic_write_bytes(out / LEDGER_COPY, book.path.read_bytes(), mode=0o644)
        # its checkpoint (C2SP, format 2), for the witnesses to cosign, and the inclusion proof of the report's
        # entry in it: the verify page checks both, and lists the cosignatures it verifies
        tree = tlog.MerkleTree([tlog.leaf_hash(tlog.entry_leaf(e)) for e in book.entries])
        cp = sign_tree(r.rules.round_id, tree, key)
        proof = tlog.InclusionProof.make(tree.leaf_hashes, len(book.entries) - 1)
    write_tree_checkpoint(r.path, cp, len(tree))
    atomic_write_bytes(out / CHECKPOINT_COPY, cp, mode=0o644)
    atomic_write_bytes(out / INCLUSION_COPY, proof.model_dump_json(indent=2).encode() + b"\n", mode=0o644)
    return {"html": written["index.html"], "html_en": written["index.en.html"], "csv": written["scores.csv"],
            "verify": written["verify.html"], "keys": written["keys.json"], "ledger": copy, "signed": signed,
            "checkpoint": out / CHECKPOINT_COPY, "inclusion": out / INCLUSION_COPY}
