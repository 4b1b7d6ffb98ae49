"""The reviewer notebook's controller: one object per (round, reviewer, team) with one method per section.

``notebooks/review.ipynb`` holds prose and calls only::

    review = open_review(round_dir, reviewer_id, team_id, role, lang, key_file, answers_file, output_dir)
    review.team_section()          # (a) the team and its submitted materials, with hashes
    review.benchmark_section()     # (b) benchmark evidence, computed points (read-only), benchmark items
    review.usability_section()     # (c) usability / diffusion evidence and items
    review.independence_section()  # (d) independence evidence and items, ending with the verdict
    review.coi_section()           # (e) conflict-of-interest declaration
    review.summary_section()       # (f) totals, what is still missing, Sign and submit
    review.run_unattended()        # papermill runs with an answers file: sign and submit; else nothing

Interactive sessions restore the reviewer's draft and autosave every change; runs with an answers file
fill the same form from the answers and submit through the same code, so both paths produce the same sheet.
Evidence is shown by the panel functions in :data:`EVIDENCE_PANELS`, one per section kind; each takes a
:class:`ReviewContext` and returns an :class:`EvidencePanel` (displayable items plus a JSON-able summary
that the sheet records). The evidence modules plug in by replacing an entry.

Public API: :func:`open_review`, :class:`Review`, :class:`ReviewContext`, :class:`EvidencePanel`,
:class:`SectionView`, :data:`EVIDENCE_PANELS`, :class:`Answers`, :func:`materials_panel`, :func:`benchmark_panel`,
:func:`usability_panel`, :func:`independence_panel`, :func:`load_answers`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import altair as alt
import pandas as pd
import pydantic
from IPython.display import HTML, display
from pydantic import BaseModel, ConfigDict, Field

from .charts import style
from .drafts import Autosaver, Draft, DraftStore, Submission
from .errors import KeyFileError, RoundError, SheetError, ValidationError, WorkbenchError
from .files import Loc, iter_files, line_for, load_yaml, sha256_file
from .messages import msg
from .rubric import COMPUTED_FORMULAS, ComputedScale, Rubric, load_rubric
from .sheet import (
    COI,
    InputFile,
    Judgment,
    Reviewer,
    ScoreSheet,
    build_sheet,
    compute_totals,
    input_record,
    validate_sheet,
)
from .signing import is_encrypted, key_id, load_private_key, public_key_from_pem
from .submit import submit_sheet

__all__ = [
    "EVIDENCE_PANELS",
    "Answers",
    "PASSPHRASE_ENV",
    "EvidencePanel",
    "Review",
    "ReviewContext",
    "SectionView",
    "benchmark_panel",
    "independence_panel",
    "load_answers",
    "materials_panel",
    "open_review",
    "usability_panel",
]

PASSPHRASE_ENV = "WORKBENCH_KEY_PASSPHRASE"
MAX_ROUND_FILE_BYTES = 4 * 1024 * 1024
MAX_MATERIALS = 10_000
ROLES = ("expert", "user")
LANGS = ("ko", "en")


# ---------------------------------------------------------------- round files (the parts the notebook reads)

class _Facts(BaseModel):
    # the coordinator owns the full schema of these files; the notebook checks only what it uses
    model_config = ConfigDict(extra="allow", frozen=True)


class RosterEntry(_Facts):
    id: str
    role: str
    name: str = ""
    public_key: str = ""
    coi: list[str] = Field(default_factory=list)


class TeamFacts(_Facts):
    id: str
    name: str = ""
    model: str = ""
    active_params_b: float | None = None
    total_params_b: float | None = None
    target_model: str = ""
    targets: dict[str, float] = Field(default_factory=dict)
    individual_benchmarks: list[str] = Field(default_factory=list)
    evidence: dict[str, str] = Field(default_factory=dict)


class Answers(BaseModel):
    """An answers file: what a person would enter, for runs without a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judgments: dict[str, Judgment] = Field(default_factory=dict)
    coi: COI = Field(default_factory=COI)


def _validate(model: type[BaseModel], data: Any, path: Path, lines: dict[Loc, int], loc: Loc, err_type=RoundError):
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        full = (*loc, *err["loc"])
        raise err_type(err["msg"], file=path, line=line_for(lines, full), place=".".join(map(str, full))) from None


def _find(path: Path, key: str, wanted: str, model: type[BaseModel], what: str) -> Any:
    data, lines = load_yaml(path, MAX_ROUND_FILE_BYTES)
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RoundError(f"no '{key}' list", file=path, line=1, expected=f"{key}: [...]")
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == wanted:
            return _validate(model, item, path, lines, (key, i))
    raise RoundError(f"{what} '{wanted}' is not listed", file=path, place=key, expected=f"an entry with id: {wanted}")


def load_answers(path: str | Path) -> Answers:
    """Load an answers file (``answers/<reviewer>/<team>.yaml``); problems name the file and line."""
    p = Path(path)
    data, lines = load_yaml(p, MAX_ROUND_FILE_BYTES)
    if not isinstance(data, dict):
        raise ValidationError("answers file is not a mapping", file=p, line=1, expected="judgments: {...}, coi: {...}")
    return _validate(Answers, data, p, lines, (), ValidationError)


def _inside(root: Path, rel: str, file: Path, place: str) -> Path:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel:
        raise RoundError(f"path '{rel}' leaves its folder", file=file, place=place, expected="a relative path without '..'")
    return root / p


# ---------------------------------------------------------------- context, panels, views

@dataclass(frozen=True)
class ReviewContext:
    """Everything the evidence panels may use: validated round facts and the hashed materials."""

    round_dir: Path
    round_id: str
    lang: str
    rubric: Rubric
    benchmark_rubric: Rubric | None
    team: TeamFacts
    reviewer: RosterEntry
    evidence_dir: Path
    materials: list[InputFile]

    def t(self, key: str, **params: object) -> str:
        """A message in the review's language."""
        return msg(key, self.lang, **params)


@dataclass
class EvidencePanel:
    """What a section shows as evidence (tables, Altair charts, HTML) and a JSON-able summary for the sheet."""

    items: list[Any] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SectionView:
    """A notebook section: displays its items in order (an empty view displays nothing)."""

    items: list[Any] = field(default_factory=list)

    def _ipython_display_(self) -> None:
        for item in self.items:
            display(item)


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
    rows = []
    for f in ctx.materials:
        kinds = [k for p, k in declared.items() if _under(f.path, p)]
        rows.append({ctx.t("col_file"): f.path, ctx.t("col_declared"): ", ".join(kinds), ctx.t("col_bytes"): f.bytes,
                     "SHA-256": f.sha256})
    missing = sorted(k for p, k in declared.items() if not any(_under(f.path, p) for f in ctx.materials))
    for kind in missing:
        rows.append({ctx.t("col_file"): ctx.team.evidence[kind], ctx.t("col_declared"): kind,
                     ctx.t("col_bytes"): None, "SHA-256": ctx.t("missing_material")})
    items: list[Any] = [HTML(f"<h3>{html.escape(ctx.t('materials'))}</h3>")]
    items.append(pd.DataFrame(rows) if rows else HTML(f"<p>{html.escape(ctx.t('no_materials'))}</p>"))
    return EvidencePanel(items, {"files": len(ctx.materials), "bytes": sum(f.bytes for f in ctx.materials),
                                 "missing_declared": missing})


def _team_table(ctx: ReviewContext) -> pd.DataFrame:
    t = ctx.team
    facts = [("fact_name", t.name), ("fact_model", t.model), ("fact_active", t.active_params_b),
             ("fact_total", t.total_params_b), ("fact_target_model", t.target_model),
             ("fact_individual", ", ".join(t.individual_benchmarks))]
    return pd.DataFrame({ctx.t("col_fact"): [ctx.t(k) for k, _ in facts], ctx.t("col_value"): [v for _, v in facts]})


def benchmark_panel(ctx: ReviewContext) -> EvidencePanel:
    """Declared targets (table and chart) and the benchmark rubric's computed points with their formulas.

    Until the benchmark evidence module is plugged in, results and computed points are shown as pending.
    """
    t = ctx.team
    items: list[Any] = [HTML(f"<h3>{html.escape(ctx.t('targets_title', model=t.target_model or '?'))}</h3>")]
    if t.targets:
        df = pd.DataFrame(
            [{"benchmark": b, "target": s, "individual": b in t.individual_benchmarks} for b, s in sorted(t.targets.items())]
        )
        items.append(df.rename(columns={"benchmark": ctx.t("col_benchmark"), "target": ctx.t("col_target"),
                                        "individual": ctx.t("col_individual")}))
        chart = alt.Chart(df).mark_bar().encode(
            x=alt.X("target:Q", title=ctx.t("col_target")),
            y=alt.Y("benchmark:N", sort=None, title=ctx.t("col_benchmark")),
            color=alt.Color("individual:N", title=ctx.t("col_individual")),
            tooltip=["benchmark", "target"],
        ).properties(width=420, title=ctx.t("targets_title", model=t.target_model or "?"))
        items.append(style(chart))
    computed = []
    if ctx.benchmark_rubric is not None:
        for _, c in ctx.benchmark_rubric.criteria():
            if isinstance(c.scale, ComputedScale):
                params = ", ".join(f"{k}={v}" for k, v in sorted(c.scale.params.items()))
                computed.append({ctx.t("col_criterion"): c.title.get(ctx.lang), ctx.t("col_points"): c.points,
                                 ctx.t("col_formula"): f"{c.scale.formula}({params}): {COMPUTED_FORMULAS[c.scale.formula]}",
                                 ctx.t("col_computed"): ctx.t("pending")})
        items.append(HTML(f"<h3>{html.escape(ctx.t('computed_title'))}</h3>"
                          f"<p><i>{html.escape(ctx.t('read_only'))}</i></p>"))
        items.append(pd.DataFrame(computed))
    summary = {"target_model": t.target_model, "targets": dict(sorted(t.targets.items())),
               "individual_benchmarks": list(t.individual_benchmarks)}
    return EvidencePanel(items, summary)


def usability_panel(ctx: ReviewContext) -> EvidencePanel:
    """Model facts that bear on usability and cost (size), until the users evidence module is plugged in."""
    return EvidencePanel([HTML(f"<h3>{html.escape(ctx.t('model_facts'))}</h3>"), _team_table(ctx)],
                         {"active_params_b": ctx.team.active_params_b, "total_params_b": ctx.team.total_params_b})


def independence_panel(ctx: ReviewContext) -> EvidencePanel:
    """The submitted materials, until the weights/training/tokenizer/config/licence modules are plugged in."""
    # no summary of its own: the materials are already in the sheet's inputs and "materials" evidence
    return EvidencePanel([HTML(f"<p>{html.escape(ctx.t('independence_pending'))}</p>"), *materials_panel(ctx).items])


# Section kind -> panel. The evidence modules replace entries (one call per section) after merging.
EVIDENCE_PANELS: dict[str, Callable[[ReviewContext], EvidencePanel]] = {
    "materials": materials_panel,
    "benchmark": benchmark_panel,
    "usability": usability_panel,
    "independence": independence_panel,
}


# ---------------------------------------------------------------- the review

@dataclass(frozen=True)
class _Params:
    round_dir: Path
    reviewer_id: str
    team_id: str
    role: str
    lang: str
    key_file: Path | None
    answers_file: Path | None
    sheets_dir: Path


class Review:
    """One reviewer's review of one team. Build it with :func:`open_review`."""

    def __init__(self, ctx: ReviewContext, params: _Params, key_id_: str, answers: Answers | None) -> None:
        self.ctx, self.params, self.answers = ctx, params, answers
        self.rubric = ctx.rubric
        self.store = DraftStore(params.round_dir)
        self._key_id = key_id_
        self._orphans: dict[str, Judgment] = {}
        self._submitted: list[Submission] = []
        self._panels: dict[str, EvidencePanel] = {}
        self.last_submission: Path | None = None
        self.autosaver = Autosaver(self.store.save)
        if answers is not None:
            judgments, coi, notices = answers.judgments, answers.coi, []
        else:
            judgments, coi, notices = self._restore()
        encrypted = answers is None and params.key_file is not None and is_encrypted(params.key_file)
        from .widgets import ScoringForm  # ipywidgets is only needed once a form is built

        self.form = ScoringForm(self.rubric, ctx.lang, judgments=judgments, coi=coi,
                                on_change=self._changed if answers is None else None, ask_passphrase=encrypted)
        self.form.on_sign(self._sign_clicked)
        if answers is not None:
            unknown = sorted(set(answers.judgments) - set(self.form.controls))
            if unknown:  # never dropped silently: the sheet would not validate with them either
                raise ValidationError(f"answers for criteria not in rubric {self.rubric.id}: {', '.join(unknown)}",
                                      file=params.answers_file, place="judgments", expected=", ".join(self.form.controls))
        self.notices = notices
        self.form.notice.value = "".join(f"<p class='wb-note'>{html.escape(n)}</p>" for n in notices)

    # -- drafts
    def _restore(self) -> tuple[dict[str, Judgment], COI, list[str]]:
        loaded = self.store.load(self.params.reviewer_id, self.params.team_id)
        notices = []
        if loaded.corrupt_file is not None:
            notices.append(self.ctx.t("draft_corrupt", file=loaded.corrupt_file.name, problem=loaded.problem or ""))
        d = loaded.draft
        if d is None:
            return {}, COI(), notices
        judgments: dict[str, Judgment] = {}
        self._orphans = dict(d.orphans)
        for cid, j in d.judgments.items():
            c = self.rubric.criterion(cid) if cid in self.rubric.ids() else None
            ok = c is not None and (j.level is None or c.level(j.level) is not None) and c.kind != "computed"
            if ok:
                judgments[cid] = j
            else:
                self._orphans[cid] = j
        self._submitted = list(d.submitted)
        notices.append(self.ctx.t("restored"))
        if self._orphans:
            notices.append(self.ctx.t("draft_orphans", ids=", ".join(sorted(self._orphans))))
        if self._submitted:
            notices.append(self.ctx.t("submitted_before", versions=", ".join(f"v{s.version}" for s in self._submitted)))
        return judgments, d.coi, notices

    def draft(self) -> Draft:
        """The current input as a draft (what the autosave writes)."""
        return Draft(round_id=self.ctx.round_id, reviewer_id=self.params.reviewer_id, team_id=self.params.team_id,
                     rubric_sha256=self.rubric.sha256, judgments=self.form.judgments(), coi=self.form.coi(),
                     orphans=self._orphans, submitted=self._submitted)

    def _changed(self) -> None:
        self.autosaver.schedule(self.draft())
        if self.autosaver.error is not None:
            self.form.status.value = f"<span style='color:#b00020'>{html.escape(self.ctx.t('save_failed', error=str(self.autosaver.error)))}</span>"

    # -- evidence and sections
    def panel(self, kind: str) -> EvidencePanel:
        """The evidence panel of one kind (computed once)."""
        if kind not in self._panels:
            self._panels[kind] = EVIDENCE_PANELS[kind](self.ctx)
        return self._panels[kind]

    def _kinds(self) -> list[str]:
        return [k for k in ("benchmark", "usability", "independence") if any(s.evidence == k for s in self.rubric.sections)]

    def _heading(self, key: str) -> HTML:
        return HTML(f"<h2>{html.escape(self.ctx.t(key))}</h2>")

    def _evidence_section(self, kind: str, extra: tuple[str, ...] = ()) -> SectionView:
        sections = [s for s in self.rubric.sections if s.evidence in (kind, *extra)]
        if not sections:
            return SectionView()  # not part of this rubric (e.g. a user evaluator): nothing to show
        return SectionView([self._heading(f"section_{kind}"), *self.panel(kind).items,
                            *(self.form.section_box(s) for s in sections)])

    def team_section(self) -> SectionView:
        """(a) The team's facts from teams.yaml and its submitted materials with their hashes."""
        t = self.ctx.team
        title = f"{t.name or t.id} ({t.id})"
        return SectionView([self._heading("section_team"), HTML(f"<p><b>{html.escape(title)}</b></p>"),
                            _team_table(self.ctx), *self.panel("materials").items, self.form.notice])

    def benchmark_section(self) -> SectionView:
        """(b) Benchmark evidence, computed points (read-only), then the reviewer's benchmark items."""
        return self._evidence_section("benchmark")

    def usability_section(self) -> SectionView:
        """(c) Usability / diffusion evidence and items (and items of sections that show no evidence)."""
        return self._evidence_section("usability", ("none",))

    def independence_section(self) -> SectionView:
        """(d) Independence evidence and items, ending with the independence verdict and its justification."""
        return self._evidence_section("independence")

    def coi_section(self) -> SectionView:
        """(e) The conflict-of-interest declaration."""
        return SectionView([self._heading("section_coi"), self.form.coi_box()])

    def summary_section(self) -> SectionView:
        """(f) Totals, what is still missing, and the Sign and submit button."""
        return SectionView([self._heading("section_summary"), self.form.summary_box()])

    # -- the sheet
    def summary(self) -> dict[str, Any]:
        """A JSON-able summary of the current state (totals, missing items, submitted versions)."""
        t = compute_totals(self.rubric, self.form.judgments())
        problems = self.form.problems()
        return {
            "round_id": self.ctx.round_id, "team_id": self.params.team_id, "reviewer_id": self.params.reviewer_id,
            "role": self.params.role, "rubric": self.rubric.ref, "sections": t.sections, "total": t.total,
            "max": t.max, "gates": t.gates, "complete": not problems,
            "missing": [p.text(self.ctx.lang, self.rubric) for p in problems],
            "submitted": [s.version for s in self._submitted],
        }

    def sheet(self, created_at: str | None = None) -> ScoreSheet:
        """The sheet the current input makes; :class:`SheetError` lists what is missing."""
        p = self.params
        return build_sheet(
            self.rubric,
            round_id=self.ctx.round_id,
            team_id=p.team_id,
            reviewer=Reviewer(id=p.reviewer_id, role=p.role, key_id=self._key_id),
            judgments=self.form.judgments(),
            coi=self.form.coi(),
            # how the values were entered (answers file or person) and machine paths stay out, so both
            # paths make the same sheet and it does not depend on where the round folder lives
            parameters={"reviewer_id": p.reviewer_id, "team_id": p.team_id, "role": p.role, "lang": p.lang},
            inputs=self.ctx.materials,
            evidence={k: self.panel(k).summary for k in ("materials", *self._kinds())},
            created_at=created_at,
        )

    def _passphrase(self) -> bytes | None:
        if self.form.passphrase is not None:
            return self.form.passphrase.value.encode() or None
        if self.answers is not None and os.environ.get(PASSPHRASE_ENV):
            return os.environ[PASSPHRASE_ENV].encode()
        return None

    def submit(self) -> Path:
        """Re-validate, sign with the key file and write the next sheet version; return its path."""
        self.autosaver.flush()
        if self.params.key_file is None:
            raise KeyFileError("no key file given", place="key_file", expected="the path of your private key")
        sheet = self.sheet()
        validate_sheet(sheet, self.rubric)
        try:
            key = load_private_key(self.params.key_file, self._passphrase())
        finally:
            if self.form.passphrase is not None:
                self.form.passphrase.value = ""  # the widget never keeps the passphrase
        version, path = submit_sheet(sheet, key, self.params.sheets_dir)
        try:
            name = path.resolve().relative_to(self.params.round_dir.resolve()).as_posix()
        except ValueError:
            name = path.name
        self._submitted.append(Submission(version=version, file=name, sha256=sha256_file(path)))
        if self.answers is None:  # the draft stays, marked submitted, so a re-submission makes the next version
            self.store.save(self.draft())
        self.last_submission = path
        return path

    def _sign_clicked(self) -> None:
        try:
            path = self.submit()
        except WorkbenchError as e:
            self.form.status.value = f"<span class='wb-error' style='color:#b00020'>{html.escape(str(e))}</span>"
            return
        self.form.status.value = f"<b class='wb-submitted' style='color:#1b7f3b'>{html.escape(self.ctx.t('submitted', path=str(path)))}</b>"

    def run_unattended(self) -> Path | None:
        """With an answers file: sign and submit through the sign button's code; interactive: do nothing."""
        if self.answers is None:
            return None
        problems = self.form.problems()
        if problems:
            raise SheetError(f"the answers are incomplete: {'; '.join(p.text('en', self.rubric) for p in problems)}",
                             file=self.params.answers_file)
        path = self.submit()
        self.form.status.value = f"<b class='wb-submitted'>{html.escape(self.ctx.t('submitted', path=str(path)))}</b>"
        return path


def _resolve(round_dir: Path, value: str | os.PathLike[str] | None) -> Path | None:
    if not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else round_dir / p


def open_review(
    round_dir: str | os.PathLike[str],
    reviewer_id: str,
    team_id: str,
    role: str = "expert",
    lang: str = "ko",
    key_file: str | os.PathLike[str] = "",
    answers_file: str | os.PathLike[str] = "",
    output_dir: str | os.PathLike[str] = "",
) -> Review:
    """Open the review of ``team_id`` by ``reviewer_id`` in a round folder (the papermill parameters).

    Relative paths are resolved against ``round_dir``. Without ``answers_file`` the form is restored from
    the reviewer's draft and every change is autosaved; with one, the form is filled from it.
    """
    rd = Path(round_dir)
    if role not in ROLES:
        raise WorkbenchError(f"role '{role}'", place="role", expected=" or ".join(ROLES))
    if lang not in LANGS:
        raise WorkbenchError(f"language '{lang}'", place="lang", expected=" or ".join(LANGS))
    if not rd.is_dir():
        raise RoundError("round folder not found", file=rd)
    params = _Params(rd, reviewer_id, team_id, role, lang, _resolve(rd, key_file), _resolve(rd, answers_file),
                     _resolve(rd, output_dir) or rd / "sheets")

    rules_path = rd / "rules.yaml"
    rules, rules_lines = load_yaml(rules_path, MAX_ROUND_FILE_BYTES)
    if not isinstance(rules, dict) or not isinstance(rules.get("round_id"), str) or not rules["round_id"]:
        raise RoundError("no round_id", file=rules_path, line=1, expected="round_id: <text>")
    rubric = load_rubric(rd / "rubrics" / f"{role}.yaml")
    frozen = (rules.get("rubrics") or {}).get(role) if isinstance(rules.get("rubrics"), dict) else None
    if isinstance(frozen, dict) and frozen.get("sha256") and frozen["sha256"] != rubric.sha256:
        raise RoundError(f"rubrics/{role}.yaml does not match the frozen rules", file=rules_path,
                         line=line_for(rules_lines, ("rubrics", role, "sha256")), place=f"rubrics.{role}.sha256",
                         expected=f"sha256 {rubric.sha256}")
    if rubric.role != role:
        raise RoundError(f"rubric {rubric.id} is filled in by role '{rubric.role}'", file=rd / "rubrics" / f"{role}.yaml",
                         place="role", expected=role)
    bench_path = rd / "rubrics" / "benchmark.yaml"
    bench = load_rubric(bench_path) if role == "expert" and bench_path.exists() else None

    roster_path = rd / "roster.yaml"
    reviewer = _find(roster_path, "reviewers", reviewer_id, RosterEntry, "reviewer")
    if reviewer.role != role:
        raise RoundError(f"reviewer '{reviewer_id}' has role '{reviewer.role}'", file=roster_path, place="reviewers", expected=role)
    if team_id in reviewer.coi:
        raise RoundError(f"reviewer '{reviewer_id}' declared a conflict of interest with '{team_id}'",
                         file=roster_path, place="reviewers.coi", expected="a team without a declared conflict")
    if not reviewer.public_key:
        raise RoundError(f"reviewer '{reviewer_id}' has no public key", file=roster_path, expected="public_key: PEM text")
    kid = key_id(public_key_from_pem(reviewer.public_key))
    team = _find(rd / "teams.yaml", "teams", team_id, TeamFacts, "team")
    _check_assignment(rd / "assignments.yaml", reviewer_id, team_id)

    evidence_dir = rd / "evidence" / team_id
    for kind, rel in team.evidence.items():
        _inside(evidence_dir, rel, rd / "teams.yaml", f"teams.{team_id}.evidence.{kind}")
    materials = []
    if evidence_dir.is_dir():
        for i, f in enumerate(iter_files(evidence_dir)):
            if i >= MAX_MATERIALS:
                raise RoundError(f"more than {MAX_MATERIALS} files", file=evidence_dir, expected="fewer files (archive them)")
            materials.append(input_record(f, rd))
    if params.key_file is not None and not params.key_file.is_file():
        raise KeyFileError("key file not found", file=params.key_file, place="key_file")
    answers = load_answers(params.answers_file) if params.answers_file else None
    ctx = ReviewContext(rd, rules["round_id"], lang, rubric, bench, team, reviewer, evidence_dir, materials)
    return Review(ctx, params, kid, answers)


def _check_assignment(path: Path, reviewer_id: str, team_id: str) -> None:
    if not path.exists():
        return
    data, _ = load_yaml(path, MAX_ROUND_FILE_BYTES)
    items = data.get("assignments") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RoundError("no 'assignments' list", file=path, line=1, expected="assignments: [{reviewer, team}]")
    if not any(isinstance(a, dict) and a.get("reviewer") == reviewer_id and a.get("team") == team_id for a in items):
        raise RoundError(f"'{reviewer_id}' is not assigned to '{team_id}'", file=path, place="assignments",
                         expected="an assignment {reviewer, team}")

