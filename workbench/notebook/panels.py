"""The evidence panels of the reviewer's notebook: what each section shows, in the review's language.

Each panel function takes a :class:`ReviewContext` and returns an :class:`EvidencePanel`: displayable items
(headings, :class:`~workbench.core.tables.Table` s, SVG charts) and a JSON-able summary that the sheet records.
Everything a person reads comes from the message table or the rubric: column titles, criterion titles
instead of ids, verdicts and readings in words, flags worded from their codes (:mod:`workbench.core.findings`),
numbers at a reading precision and a dash where a value is missing. The summaries keep full precision and
are the same in both languages (a sheet must not depend on the language it was entered in).

Public API: :class:`ReviewContext`, :class:`EvidencePanel`, :data:`EVIDENCE_PANELS`, :func:`materials_panel`,
:func:`team_table`, :func:`benchmark_panel`, :func:`usability_panel`, :func:`independence_panel`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from IPython.display import HTML

from ..core.charts import PendingChart
from ..core.findings import Finding, problem_text
from ..core.messages import msg
from ..core.tables import Column, Table, number
from ..core.templating import macros
from ..evidence.benchmarks import ComputedPoints, results_chart
from ..evidence.dossier import Dossier
from ..evidence.provenance import provenance_chart
from ..evidence.training import training_chart
from ..model.evidence_kinds import evidence_kinds
from ..model.round import RosterEntry, Team
from ..model.rubric import ComputedScale, Rubric
from ..model.sheet import InputFile

__all__ = ["EVIDENCE_PANELS", "EvidencePanel", "ReviewContext", "benchmark_panel", "independence_panel",
           "materials_panel", "team_table", "usability_panel"]


@dataclass(frozen=True)
class ReviewContext:
    """Everything the evidence panels may use: validated round facts and the hashed materials."""

    round_dir: Path
    round_id: str
    lang: str
    rubric: Rubric
    benchmark_rubric: Rubric | None
    team: Team
    reviewer: RosterEntry
    evidence_dir: Path
    materials: list[InputFile]
    dossier: Dossier | None = None  # the team's computed evidence (experts; user evaluators see none)
    # (chart, language) -> the file that keeps that chart of this dossier (workbench.evidence.dossier_cache.chart_file)
    chart_cache: Callable[[str, str], Path | None] | None = None

    def t(self, key: str, **params: object) -> str:
        """A message in the review's language."""
        return msg(key, self.lang, **params)

    def in_language(self, lang: str) -> ReviewContext:
        """The same review shown in ``lang``."""
        return replace(self, lang=lang)

    def inputs(self) -> list[InputFile]:
        """Every file the sheet depends on: the team's materials and what the evidence read (references too)."""
        by_path = {f.path: f for f in self.materials}
        for f in self.dossier.inputs if self.dossier is not None else ():
            by_path.setdefault(f.path, f)
        return [by_path[k] for k in sorted(by_path)]


@dataclass
class EvidencePanel:
    """What a section shows as evidence (tables, SVG charts, HTML) and a JSON-able summary for the sheet."""

    items: list[Any] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _html() -> Any:
    """The notebook's HTML snippets: the macros of ``templates/review.html.j2`` (escaped markup)."""
    return macros("review.html.j2")


def _declared(ctx: ReviewContext) -> dict[str, str]:
    """Evidence path (relative to the round) -> the kind the team declared it as."""
    out: dict[str, str] = {}
    for kind, rel in sorted(ctx.team.evidence.items()):
        out[(PurePosixPath(ctx.evidence_dir.relative_to(ctx.round_dir).as_posix()) / rel).as_posix()] = kind
    return out


def _under(path: str, declared: str) -> bool:
    return path == declared or path.startswith(declared.rstrip("/") + "/")


def materials_panel(ctx: ReviewContext) -> EvidencePanel:
    """The submitted materials with their sizes and SHA-256, and declared materials that are missing."""
    declared = _declared(ctx)
    rows: list[dict[str, Any]] = []
    for f in ctx.materials:
        kinds = [k for p, k in declared.items() if _under(f.path, p)]
        rows.append({"file": f.path, "declared": ", ".join(kinds), "bytes": f.bytes, "sha256": f.sha256})
    missing = sorted(k for p, k in declared.items() if not any(_under(f.path, p) for f in ctx.materials))
    rows += [{"file": ctx.team.evidence[kind], "declared": kind, "bytes": None, "sha256": ctx.t("missing_material")}
             for kind in missing]
    cols = [Column("file", "col_file"), Column("declared", "col_declared"), Column("bytes", "col_bytes", "bytes"),
            Column("sha256", "col_file", "hash")]
    items: list[Any] = [HTML(_html().heading(3, ctx.t("materials")))]
    items.append(Table(cols, rows, ctx.lang, css="wb-materials", titles={"sha256": "SHA-256"}) if rows
                 else HTML(_html().paragraph(ctx.t("no_materials"))))
    return EvidencePanel(items, {"files": len(ctx.materials), "bytes": sum(f.bytes for f in ctx.materials),
                                 "missing_declared": missing})


def team_table(ctx: ReviewContext) -> Table:
    """The team's facts from teams.yaml."""
    t = ctx.team
    facts = [("fact_name", t.name), ("fact_model", t.model), ("fact_active", number(t.active_params_b)),
             ("fact_total", number(t.total_params_b)), ("fact_target_model", t.target_model),
             ("fact_individual", ", ".join(t.individual_benchmarks))]
    return Table([Column("fact", "col_fact"), Column("value", "col_value")],
                 [{"fact": ctx.t(k), "value": v} for k, v in facts], ctx.lang, css="wb-team")


def _chart(ctx: ReviewContext, name: str, build: Callable[[], Any]) -> PendingChart:
    """Chart ``name`` of the dossier, drawn after the form is shown (:meth:`workbench.notebook.review.Review.draw_charts`),
    or read from the round's chart cache when a notebook of the team drew it before."""
    cache = ctx.chart_cache(name, ctx.lang) if ctx.chart_cache is not None else None
    return PendingChart(build, ctx.t("chart_pending"), cache)


def _problems(ctx: ReviewContext) -> list[Any]:
    """Evidence files that failed to load: shown to the reviewer, never silently left out."""
    d = ctx.dossier
    if d is None or not d.problems:
        return []
    # a coded problem in the reviewer's language; a parser's message as it is (the reviewer needs its detail)
    return [HTML(_html().problems(ctx.t("evidence_problems"), [problem_text(p.model_dump(mode="json"), ctx.lang)
                                                              if p.code else str(p) for p in d.problems]))]


def _dossier_part(ctx: ReviewContext, *keys: str) -> dict[str, Any]:
    """The named parts of the dossier's sheet summary (absent parts are left out)."""
    if ctx.dossier is None:
        return {}
    full = ctx.dossier.summary()
    return {k: full[k] for k in keys if k in full}


def _other_kinds(ctx: ReviewContext, section: str) -> tuple[list[Any], dict[str, Any]]:
    """The parts of other packages' kinds of evidence (``Dossier.extra``) that ``section``'s panel shows: a
    heading (the kind's ``title`` message, else its key) and its summary as a table; and their summaries."""
    d = ctx.dossier
    if d is None or not d.extra:
        return [], {}
    items: list[Any] = []
    keys = [k.key for k in evidence_kinds().values() if k.section == section and k.key in d.extra]
    for key in keys:
        kind = evidence_kinds()[key]
        items.append(HTML(_html().heading(3, ctx.t(kind.title) if kind.title else key)))
        part = d.summary()[key]
        rows = ([{"fact": k, "value": v if isinstance(v, str | int | float) or v is None else json.dumps(v)}
                 for k, v in part.items()] if isinstance(part, dict) else [{"fact": key, "value": json.dumps(part)}])
        items.append(Table([Column("fact", "col_fact"), Column("value", "col_value")], rows, ctx.lang,
                           css="wb-evidence-kind"))
    return items, _dossier_part(ctx, *keys)


def benchmark_findings(cp: ComputedPoints, lang: str) -> list[Finding]:
    """What one criterion's benchmark rows flag (``cp.flags``), with each benchmark named in ``lang``."""
    names = {r.benchmark: r.name_ko if lang == "ko" else r.name_en for r in cp.per_benchmark}
    return [f.model_copy(update={"params": {**f.params, "benchmark": names.get(f.params["benchmark"],
                                                                                f.params["benchmark"])}})
            for f in cp.flags]


def _interval(low: float | None, high: float | None, fmt: str = "g") -> str | None:
    # non-breaking spaces: an interval never wraps inside itself
    return None if low is None or high is None else f"{number(low, fmt)}\u00a0–\u00a0{number(high, fmt)}"


def _metric(key: str) -> str:
    """A harness metric key as a person reads it: ``acc,none`` -> ``acc``, ``exact_match,strict-match`` ->
    ``exact_match (strict-match)``."""
    name, _, variant = key.partition(",")
    return name if variant in ("", "none") else f"{name} ({variant})"


def _benchmark_rows(ctx: ReviewContext, cp: ComputedPoints) -> Table:
    rows = [{"benchmark": r.name_ko if ctx.lang == "ko" else r.name_en, "metric": _metric(r.metric), "score": r.score,
             "interval": _interval(r.ci_low, r.ci_high, "score"), "reference": r.reference, "ratio": r.ratio,
             "met": ctx.t("yes" if r.met else "no"), "se": ctx.t(f"se_{r.se_source}")} for r in cp.per_benchmark]
    cols = [Column("benchmark", "col_benchmark"), Column("metric", "col_metric"), Column("score", "col_score", "score"),
            Column("interval", "col_interval", align="right"), Column("reference", "col_reference", "score"),
            Column("ratio", "col_achievement", "pct0"), Column("met", "col_met"), Column("se", "col_se_source")]
    return Table(cols, rows, ctx.lang, css="wb-benchmark-rows")


def benchmark_panel(ctx: ReviewContext) -> EvidencePanel:
    """Results against the declared targets, with error bars; the benchmark rubric's computed points
    (read-only, with their formula and interval); per-benchmark rows with their flags."""
    t, d = ctx.team, ctx.dossier
    items: list[Any] = [HTML(_html().heading(3, ctx.t("targets_title", model=t.target_model or "?")))]
    points = d.points if d is not None else {}
    if points:
        items.append(_chart(ctx, "results", lambda: results_chart(list(points.values()), lang=ctx.lang)))
    elif t.targets:
        items.append(Table([Column("benchmark", "col_benchmark"), Column("target", "col_target", "g")],
                           [{"benchmark": b, "target": v} for b, v in sorted(t.targets.items())], ctx.lang,
                           css="wb-targets"))
    titles: dict[str, str] = {}
    if ctx.benchmark_rubric is not None:
        computed = []
        for _, c in ctx.benchmark_rubric.criteria():
            if isinstance(c.scale, ComputedScale):
                titles[c.id] = c.title.get(ctx.lang)
                params = {"cap": 1.0, "share": 0.95, **c.scale.params}
                cp = points.get(c.id)
                value = (ctx.t("computed_value", points=f"{cp.points:.2f}", max=f"{cp.max_points:g}",
                               low=f"{cp.ci_low:.2f}", high=f"{cp.ci_high:.2f}") if cp is not None else ctx.t("pending"))
                computed.append({"criterion": titles[c.id], "points": c.points,
                                 "formula": ctx.t(f"formula_{c.scale.formula}", **params), "computed": value})
        cols = [Column("criterion", "col_criterion"), Column("points", "col_points", "g"),
                Column("formula", "col_formula"), Column("computed", "col_computed")]
        items.append(HTML(_html().computed_title(ctx.t("computed_title"), ctx.t("read_only"))))
        items.append(Table(cols, computed, ctx.lang, css="wb-computed"))
    order = list(titles)  # the rubric's order (NIA, common, individual), then anything else
    for cid, cp in sorted(points.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])):
        items.append(HTML(_html().heading(4, ctx.t("benchmark_rows_title", title=titles.get(cid, cid)))))
        items.append(_benchmark_rows(ctx, cp))
        flags = benchmark_findings(cp, ctx.lang)
        if flags:
            items.append(HTML(_html().bullets([f.text(ctx.lang) for f in flags])))
    others, other_summary = _other_kinds(ctx, "benchmark")
    items += others
    items += _problems(ctx)
    summary = {"target_model": t.target_model, "targets": dict(sorted(t.targets.items())),
               "individual_benchmarks": list(t.individual_benchmarks),
               **_dossier_part(ctx, "benchmark_results", "benchmark_points"), **other_summary}
    return EvidencePanel(items, summary)


def usability_panel(ctx: ReviewContext) -> EvidencePanel:
    """Model facts that bear on usability and cost: sizes and the declared inference cost."""
    items: list[Any] = [HTML(_html().heading(3, ctx.t("model_facts"))), team_table(ctx)]
    d = ctx.dossier
    if d is not None and d.cost is not None:
        c = d.cost
        cost = f"{number(c.inference_cost.value)} {c.inference_cost.unit}" if c.inference_cost is not None else None
        rows = [{"fact": ctx.t("fact_model"), "value": c.model},
                {"fact": ctx.t("fact_active"), "value": number(c.active_parameters)},
                {"fact": ctx.t("fact_total"), "value": number(c.total_parameters)},
                {"fact": ctx.t("col_cost"), "value": cost}]
        items.append(Table([Column("fact", "col_fact"), Column("value", "col_value")], rows, ctx.lang, css="wb-cost"))
    others, other_summary = _other_kinds(ctx, "usability")
    return EvidencePanel(items + others, {"active_params_b": ctx.team.active_params_b,
                                          "total_params_b": ctx.team.total_params_b,
                                          **_dossier_part(ctx, "model_card"), **other_summary})


def _independence_head(ctx: ReviewContext, d: Dossier) -> str:
    """The flags in words, or what was checked and found nothing."""
    flags = d.independence_findings()
    if flags:
        return str(_html().flags(ctx.t("independence_flags"), [f.text(ctx.lang) for f in flags]))
    checked = [ctx.t(k) for k, v in (("part_weights", d.provenance), ("part_licences", d.licences),
                                     ("part_training", d.training), ("part_tokenizer", d.tokenizer)) if v is not None]
    text = ctx.t("nothing_flagged", checked=", ".join(checked)) if checked else ctx.t("no_independence_evidence")
    return str(_html().paragraph(text))


def _provenance_table(ctx: ReviewContext, d: Dossier) -> Table:
    assert d.provenance is not None
    rows = [{"component": c.component, "verdict": ctx.t(f"verdict_{c.verdict}"), "reference": c.reference,
             "share": c.param_share, "statistic": c.statistic, "log10_p": c.log10_p, "similarity": c.similarity,
             "raw_cosine": c.raw_cosine, "tensors": f"{c.tensors} ({c.identical_tensors})"}
            for c in d.provenance.components]
    cols = [Column("component", "col_component"), Column("verdict", "col_verdict"),
            Column("reference", "col_ref_model"), Column("share", "col_param_share", "pct"),
            Column("statistic", "col_statistic", ".1f"), Column("log10_p", "col_log10_p", ".1f"),
            Column("similarity", "col_similarity", ".3f"), Column("raw_cosine", "col_raw_cosine", ".3f"),
            Column("tensors", "col_tensors", align="right")]
    return Table(cols, rows, ctx.lang, css="wb-provenance")


def _training_table(ctx: ReviewContext, d: Dossier) -> Table:
    t = d.training
    assert t is not None
    rows = [{"check": ctx.t("check_initial_loss"), "value": ctx.t("at_step", value=number(t.initial_loss), step=t.first_step),
             "reference": f"ln V = {number(t.ln_vocab)}" if t.ln_vocab is not None else ctx.t("vocab_unknown"),
             "reading": ctx.t(f"reading_{t.initial_reading}")
             + (f" · {ctx.t('of_ln_v', ratio=number(t.initial_loss_ratio, 'pct0'))}" if t.initial_loss_ratio else "")},
            {"check": ctx.t("check_tokens"),
             "value": number(t.tokens_logged, "sci") if t.tokens_logged is not None else ctx.t("not_logged"),
             "reference": ctx.t("claimed", value=number(t.tokens_claimed, "sci")) if t.tokens_claimed is not None
             else ctx.t("no_claim"),
             "reading": ctx.t("of_claim", ratio=number(t.token_ratio, "pct")) if t.token_ratio is not None else None}]
    if t.compute is not None:
        c = t.compute
        rows.append({"check": ctx.t("check_compute"), "value": f"{number(c.required_flops, 'sci')} FLOPs",
                     "reference": f"{c.gpu_hours:,.0f} GPU-h × {c.accelerator} {c.peak_flops / 1e12:,.1f} TFLOP/s",
                     "reading": ctx.t("utilisation", reading=ctx.t(f"reading_{c.reading}"),
                                      ratio=number(c.utilisation, "pct"))})
    rows += [{"check": ctx.t(f"check_{j.kind}"), "value": ctx.t("step", step=j.step),
              "reference": f"{number(j.before)} → {number(j.after)}", "reading": f"{j.change:+.3g}"}
             for j in t.discontinuities]
    cols = [Column("check", "col_check"), Column("value", "col_measured"), Column("reference", "col_compared"),
            Column("reading", "col_reading")]
    return Table(cols, rows, ctx.lang, css="wb-training")


def _tokenizer_table(ctx: ReviewContext, d: Dossier) -> Table:
    assert d.tokenizer is not None
    rows = [{"reference": p.reference, "vocab_team": p.vocab_candidate, "vocab_ref": p.vocab_reference,
             "shared": p.shared, "share": p.share_of_larger, "jaccard": p.jaccard,
             "merges": p.identical_merge_prefix, "notes": "; ".join(p.notes)} for p in d.tokenizer.pairs]
    cols = [Column("reference", "col_ref_model"), Column("vocab_team", "col_vocab_team", "int"),
            Column("vocab_ref", "col_vocab_ref", "int"), Column("shared", "col_shared", "int"),
            Column("share", "col_share_larger", "pct"), Column("jaccard", "col_jaccard", ".3f"),
            Column("merges", "col_merge_prefix", "int"), Column("notes", "col_notes")]
    return Table(cols, rows, ctx.lang, css="wb-tokenizer")


def _config_table(ctx: ReviewContext, d: Dossier) -> Table:
    r = d.config
    assert r is not None
    rows = []
    for f in r.fields:
        row: dict[str, Any] = {"section": f.section, "field": f.field, "team": f.candidate}
        row |= {f"ref:{n}": v for n, v in f.references.items()}
        row["same"] = ", ".join(n for n in r.references if f.same[n]) or None
        rows.append(row)
    for who, sections in r.unread.items():  # keys nobody interpreted: shown, never passed off as a match
        for section, found in sections.items():
            for key, v in found.items():
                col = "team" if who == r.candidate else f"ref:{who}"
                rows.append({"section": section, "field": key.rsplit(".", 1)[-1], col: v,
                             "same": ctx.t("not_compared")})
    cols = [Column("section", "col_section"), Column("field", "col_field"), Column("team", "col_team_value"),
            *(Column(f"ref:{n}", "col_ref_model") for n in r.references), Column("same", "col_same_as")]
    return Table(cols, rows, ctx.lang, css="wb-config", titles={f"ref:{n}": n for n in r.references})


def _licences_table(ctx: ReviewContext, d: Dossier) -> Table:
    r = d.licences
    assert r is not None
    rows = [{"component": c.name, "source": c.source, "version": c.version, "licence": c.licence,
             "use": ", ".join(c.use), "flags": ", ".join(ctx.t(f"licflag_{f}") for f in c.flags)}
            for c in r.components]
    rows += [{"component": u.component, "source": u.reference, "use": ctx.t("undeclared_weights_use",
                                                                            verdict=ctx.t(f"verdict_{u.verdict}")),
              "flags": ctx.t("licflag_undeclared_weights")} for u in r.undeclared_weights or []]
    cols = [Column("component", "col_component"), Column("source", "col_source"), Column("version", "col_version"),
            Column("licence", "col_licence"), Column("use", "col_use"), Column("flags", "col_flags")]
    return Table(cols, rows, ctx.lang, css="wb-licences")


def independence_panel(ctx: ReviewContext) -> EvidencePanel:
    """What the independence evidence flags, then each part: weight provenance per component (table and
    per-layer chart with the null band), the training log (table and loss curve against ln V), tokenizer and
    config comparisons, the licences."""
    d = ctx.dossier
    if d is None:
        return EvidencePanel([HTML(_html().paragraph(ctx.t("independence_pending"))), *materials_panel(ctx).items])
    items: list[Any] = [HTML(_independence_head(ctx, d))]
    parts: list[tuple[str, Any, list[Callable[[], Any]]]] = [
        ("evidence_weights", d.provenance, [lambda: _provenance_table(ctx, d),
                                            lambda: _chart(ctx, "provenance", lambda: provenance_chart(d.provenance, lang=ctx.lang))]),
        ("evidence_training", d.training, [lambda: _training_table(ctx, d),
                                           lambda: _chart(ctx, "training", lambda: training_chart(d.training, lang=ctx.lang))]),
        ("evidence_tokenizer", d.tokenizer, [lambda: _tokenizer_table(ctx, d)]),
        ("evidence_config", d.config, [lambda: _config_table(ctx, d)]),
        ("evidence_licences", d.licences, [lambda: _licences_table(ctx, d)]),
    ]
    for key, part, views in parts:
        if part is None:
            continue
        items.append(HTML(_html().heading(3, ctx.t(key))))
        items += [view() for view in views]
    others, other_summary = _other_kinds(ctx, "independence")
    items += others
    items += _problems(ctx)
    summary = _dossier_part(ctx, "weights", "training_log", "tokenizer", "config", "licences",
                            "independence_flags", "problems", "notes") | other_summary
    return EvidencePanel(items, summary)


# Section kind -> panel. The evidence modules replace entries (one call per section) after merging.
EVIDENCE_PANELS: dict[str, Callable[[ReviewContext], EvidencePanel]] = {
    "materials": materials_panel,
    "benchmark": benchmark_panel,
    "usability": usability_panel,
    "independence": independence_panel,
}
