"""The reviewer notebook's controller: one object per (round, reviewer, team) with one method per section.

``notebooks/review.ipynb`` holds prose and calls only::

    review = open_review(round_dir, reviewer_id, team_id, role, lang, key_file, answers_file, output_dir)
    review.team_section()          # (a) the team and its submitted materials, with hashes
    review.benchmark_section()     # (b) benchmark evidence, computed points (read-only), benchmark items
    review.usability_section()     # (c) usability / diffusion evidence and items
    review.independence_section()  # (d) independence evidence and items, ending with the verdict
    review.coi_section()           # (e) conflict-of-interest declaration
    review.summary_section()       # (f) totals, what is still missing, Sign and submit
    review.run_unattended()        # `workbench batch` with an answers file: sign and submit; else nothing

Interactive sessions restore the reviewer's draft and autosave every change. Unattended runs (only
``workbench batch`` turns that mode on, see :func:`workbench.round.submit.unattended_for`) fill the same form from
an answers file and submit through the same code, so both paths produce the same sheet. An answers file in
any other run only pre-fills the form (when there is no draft); a person still clicks Sign and submit.

``round_dir`` may be relative to the kernel's folder (for a generated notebook, the notebook's own folder);
:func:`workbench.model.round.find_round` finds the round from there, so notebooks keep working after a move.
Evidence is shown by the panel functions in :data:`EVIDENCE_PANELS`, one per section kind; each takes a
:class:`ReviewContext` and returns an :class:`EvidencePanel` (displayable items plus a JSON-able summary
that the sheet records). The evidence modules plug in by replacing an entry.

Public API: :func:`open_review`, :class:`Review`, :class:`ReviewContext`, :class:`EvidencePanel`,
:class:`SectionView`, :data:`EVIDENCE_PANELS`, :class:`Answers`, :func:`materials_panel`, :func:`benchmark_panel`,
:func:`usability_panel`, :func:`independence_panel`, :func:`load_answers`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from IPython.display import HTML, display
from pydantic import Field

from ..core.base import Model, from_pydantic
from ..core.charts import PendingChart
from ..core.errors import KeyFileError, RoundError, SheetError, ValidationError, WorkbenchError
from ..core.files import atomic_write_bytes, iter_files, load_yaml, sha256_file
from ..core.messages import LANGS
from ..core.signing import is_encrypted, key_id, load_private_key, public_key_from_pem
from ..core.templating import macros
from ..evidence.dossier_cache import cache_key, cached_dossier, chart_file
from ..model.round import PANEL_ROLES, RUBRIC_OF, find_round, load_round
from ..model.sheet import (
    COI,
    Judgment,
    Reviewer,
    ScoreSheet,
    build_sheet,
    compute_totals,
    input_record,
    sheet_bytes,
    validate_sheet,
)
from ..round.submit import submit_sheet, unattended_for
from .drafts import Autosaver, Draft, DraftStore, Submission
from .panels import (
    EVIDENCE_PANELS,
    EvidencePanel,
    ReviewContext,
    benchmark_panel,
    independence_panel,
    materials_panel,
    team_table,
    usability_panel,
)

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
MAX_ANSWERS_BYTES = 4 * 1024 * 1024
MAX_MATERIALS = 10_000
ROLES = ("expert", "committee", "user")


# ---------------------------------------------------------------- answers

class Answers(Model):
    """An answers file: what a person would enter, for runs without a person."""


    judgments: dict[str, Judgment] = Field(default_factory=dict)
    coi: COI = Field(default_factory=COI)


def load_answers(path: str | Path) -> Answers:
    """Load an answers file (``answers/<reviewer>/<team>.yaml``); problems name the file and line."""
    p = Path(path)
    data, lines = load_yaml(p, MAX_ANSWERS_BYTES)
    if not isinstance(data, dict):
        raise ValidationError("answers file is not a mapping", file=p, line=1, expected="judgments: {...}, coi: {...}")
    try:
        return Answers.model_validate(data)
    except pydantic.ValidationError as e:
        raise from_pydantic(e, ValidationError, file=p, lines=lines) from None


# ---------------------------------------------------------------- section views

def _html() -> Any:
    """The notebook's HTML snippets: the macros of ``templates/review.html.j2`` (escaped markup)."""
    return macros("review.html.j2")


@dataclass
class SectionView:
    """A notebook section: displays its items in order (an empty view displays nothing).

    Items that are not widgets are displayed with a display id, so :meth:`relabel` can replace them in
    place with the same section in another language (widgets relabel themselves and stay).
    """

    items: list[Any] = field(default_factory=list)
    rebuild: Callable[[], list[Any]] | None = None
    _handles: list[Any] = field(default_factory=list, repr=False)

    def _ipython_display_(self) -> None:
        self._handles = [_display_widget(item) if _is_widget(item) else display(item, display_id=True)
                         for item in self.items]

    def relabel(self) -> None:
        """Re-render the displayed items (the language changed); widgets are left to relabel themselves.
        Charts are drawn at once (the form is already there)."""
        if self.rebuild is None:
            return
        new = self.rebuild()
        for item in new:
            if isinstance(item, PendingChart):
                item.figure()
        for handle, item in zip(self._handles, new, strict=False):
            if handle is not None and not _is_widget(item):
                handle.update(item)
        self.items = new

    def draw_charts(self) -> int:
        """Draw the charts not drawn yet and show each in place of its placeholder; how many were drawn."""
        drawn = 0
        for i, item in enumerate(self.items):
            if isinstance(item, PendingChart) and not item.drawn:
                item.figure()
                drawn += 1
                if i < len(self._handles) and self._handles[i] is not None:
                    self._handles[i].update(item)
        return drawn


# What a saved notebook shows for a widget where no live kernel draws it (opened before running, or read by
# nbconvert): the plain-text fallback of its output, which was the widget's repr ("ToggleButtons(_dom_classes=...").
WIDGET_PLACEHOLDER = ("[양식: 노트북을 실행하면 나타납니다 (Run ▸ Run All Cells)] "
                      "[Form: shown when the notebook runs (Run ▸ Run All Cells)]")


def _display_widget(widget: Any) -> None:
    """Display ``widget`` with :data:`WIDGET_PLACEHOLDER` as its plain-text form instead of its repr."""
    bundle = widget._repr_mimebundle_()  # the widget-view reference the front end draws; ipywidgets' own format
    bundle["text/plain"] = WIDGET_PLACEHOLDER
    display(bundle, raw=True)


def _is_widget(item: Any) -> bool:
    from ipywidgets import Widget  # loaded with the form already

    return isinstance(item, Widget)


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
    notebook_sha256: str = ""


class Review:
    """One reviewer's review of one team. Build it with :func:`open_review`."""

    def __init__(self, ctx: ReviewContext, params: _Params, key_id_: str, answers: Answers | None,
                 unattended: bool = False) -> None:
        self.ctx, self.params, self.answers = ctx, params, answers
        # no person present: the answers are what is signed, and no draft is read or written
        self.unattended = unattended and answers is not None
        self.rubric = ctx.rubric
        self.store = DraftStore(params.round_dir)
        self._key_id = key_id_
        self._orphans: dict[str, Judgment] = {}
        self._submitted: list[Submission] = []
        self._panels: dict[tuple[str, str], EvidencePanel] = {}
        self._views: list[SectionView] = []  # every section displayed, re-rendered when the language changes
        self.last_submission: Path | None = None
        self.autosaver = Autosaver(self.store.save)
        self._chosen_lang: str | None = None  # set by the language switch, kept in the draft
        if self.unattended:
            assert answers is not None
            judgments, coi, notices = answers.judgments, answers.coi, []
        else:
            judgments, coi, notices, found = self._restore()
            if self._chosen_lang in LANGS and self._chosen_lang != ctx.lang:  # the reviewer's choice outlives a restart
                self.ctx = ctx = ctx.in_language(self._chosen_lang)
            if answers is not None and not found:  # a person checks the pre-filled form and signs it
                judgments, coi = answers.judgments, answers.coi
                notices.append(("answers_prefilled", {"file": _shown(params.round_dir, params.answers_file)}))
        encrypted = not self.unattended and params.key_file is not None and is_encrypted(params.key_file)
        from .widgets import ScoringForm  # ipywidgets is only needed once a form is built

        self.form = ScoringForm(self.rubric, ctx.lang, judgments=judgments, coi=coi,
                                on_change=None if self.unattended else self._changed, ask_passphrase=encrypted)
        self.form.on_sign(self._sign_clicked)
        if answers is not None:
            unknown = sorted(set(answers.judgments) - set(self.form.controls))
            if unknown:  # never dropped silently: the sheet would not validate with them either
                raise ValidationError(f"answers for criteria not in rubric {self.rubric.id}: {', '.join(unknown)}",
                                      file=params.answers_file, place="judgments", expected=", ".join(self.form.controls))
        self._notices = notices  # (message key, params): worded again when the language changes
        self.language = _language_switch(ctx.lang, self.set_language)
        self._show_notices()

    @property
    def notices(self) -> list[str]:
        """The notices above the form (draft restored, kept aside, pre-filled), in the review's language."""
        return [self.ctx.t(key, **params) for key, params in self._notices]

    def _show_notices(self) -> None:
        self.form.notice.value = str(_html().notices(self.notices))

    def set_language(self, lang: str) -> None:
        """Show the whole review in ``lang`` (ko or en): every displayed section, panel and the form are
        re-rendered in place. Nothing typed is lost (the widgets keep their values) and the draft is saved
        first; the sheet does not change (its ``lang`` parameter is the notebook's)."""
        if lang not in LANGS:
            raise WorkbenchError(f"language '{lang}'", place="lang", expected=" or ".join(LANGS))
        if lang == self.ctx.lang:
            return
        self.autosaver.flush()
        self.ctx = self.ctx.in_language(lang)
        self.form.set_language(lang)
        self._show_notices()
        if self.language.value != lang:
            self.language.value = lang
        for view in self._views:
            view.relabel()
        if not self.unattended:  # the choice is part of the draft: a restarted kernel opens in it
            self._chosen_lang = lang
            self._changed()

    # -- drafts
    def _restore(self) -> tuple[dict[str, Judgment], COI, list[tuple[str, dict[str, Any]]], bool]:
        """The draft's values and the notices about it; False when there was no readable draft."""
        loaded = self.store.load(self.params.reviewer_id, self.params.team_id)
        notices: list[tuple[str, dict[str, Any]]] = []
        if loaded.corrupt_file is not None:
            notices.append(("draft_corrupt", {"file": loaded.corrupt_file.name, "problem": loaded.problem or ""}))
        d = loaded.draft
        if d is None:
            return {}, COI(), notices, False
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
        self._chosen_lang = d.lang
        notices.append(("restored", {}))
        if self._orphans:
            notices.append(("draft_orphans", {"ids": ", ".join(sorted(self._orphans))}))
        if self._submitted:
            notices.append(("submitted_before", {"versions": ", ".join(f"v{s.version}" for s in self._submitted)}))
        return judgments, d.coi, notices, True

    def draft(self) -> Draft:
        """The current input as a draft (what the autosave writes)."""
        return Draft(round_id=self.ctx.round_id, reviewer_id=self.params.reviewer_id, team_id=self.params.team_id,
                     rubric_sha256=self.rubric.sha256, judgments=self.form.judgments(), coi=self.form.coi(),
                     orphans=self._orphans, submitted=self._submitted, lang=self._chosen_lang)  # type: ignore[arg-type]

    def _changed(self) -> None:
        self.autosaver.schedule(self.draft())
        if self.autosaver.error is not None:
            self.form.status.value = str(_html().save_failed(self.ctx.t("save_failed", error=str(self.autosaver.error))))

    # -- evidence and sections
    def panel(self, kind: str) -> EvidencePanel:
        """The evidence panel of one kind in the review's language (computed once per language; the
        summary the sheet records is the same in both)."""
        key = (kind, self.ctx.lang)
        if key not in self._panels:
            self._panels[key] = EVIDENCE_PANELS[kind](self.ctx)
        return self._panels[key]

    def _view(self, build: Callable[[], list[Any]]) -> SectionView:
        view = SectionView(build(), build)
        self._views.append(view)
        return view

    def _kinds(self) -> list[str]:
        return [k for k in ("benchmark", "usability", "independence") if any(s.evidence == k for s in self.rubric.sections)]

    def _heading(self, key: str) -> HTML:
        return HTML(_html().heading(2, self.ctx.t(key)))

    def _evidence_section(self, kind: str, extra: tuple[str, ...] = ()) -> SectionView:
        sections = [s for s in self.rubric.sections if s.evidence in (kind, *extra)]
        if not sections:
            return SectionView()  # not part of this rubric (e.g. a user evaluator): nothing to show
        return self._view(lambda: [self._heading(f"section_{kind}"), *self.panel(kind).items,
                                   *(self.form.section_box(s) for s in sections)])

    def team_section(self) -> SectionView:
        """(a) The language switch, the team's facts from teams.yaml and its submitted materials with their
        hashes."""
        t = self.ctx.team
        title = f"{t.name or t.id} ({t.id})"
        return self._view(lambda: [self._heading("section_team"), self.language, HTML(_html().team_title(title)),
                                   team_table(self.ctx), *self.panel("materials").items, self.form.notice])

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
        return self._view(lambda: [self._heading("section_coi"), self.form.coi_box()])

    def summary_section(self) -> SectionView:
        """(f) Totals, what is still missing, and the Sign and submit button."""
        return self._view(lambda: [self._heading("section_summary"), self.form.summary_box()])

    def draw_charts(self) -> int:
        """Draw the evidence charts of every section shown, in place of their placeholders (the notebook
        calls this after the form, so the form is ready before the charts' seconds); how many were drawn."""
        return sum(view.draw_charts() for view in self._views)

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
            parameters={"reviewer_id": p.reviewer_id, "team_id": p.team_id, "role": p.role, "lang": p.lang,
                        "notebook_sha256": p.notebook_sha256},
            inputs=self.ctx.inputs(),
            evidence={k: self.panel(k).summary for k in ("materials", *self._kinds())},
            created_at=created_at,
        )

    def _passphrase(self) -> bytes | None:
        if self.form.passphrase is not None:
            return self.form.passphrase.value.encode() or None
        if self.unattended and os.environ.get(PASSPHRASE_ENV):
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
        if not self.unattended:  # the draft stays, marked submitted, so a re-submission makes the next version
            self.store.save(self.draft())
        self.last_submission = path
        return path

    def _sign_clicked(self) -> None:
        try:
            path = self.submit()
        except WorkbenchError as e:
            self.form.status.value = str(_html().sign_failed(str(e)))
            return
        self.form.status.value = str(_html().submitted(self.ctx.t("submitted", path=str(path), version=self._submitted[-1].version)))

    def run_unattended(self) -> Path | None:
        """In unattended mode (``workbench batch`` with an answers file): sign and submit through the sign
        button's code. In any other run do nothing: a person clicks Sign and submit.

        Without a key file (the audit's re-run) nothing is signed: the canonical sheet is written to
        ``<output_dir>/<reviewer>/<team>.sheet.json`` for comparison with the signed one.
        """
        if not self.unattended:
            return None
        if not self.params.notebook_sha256:
            # the audit ties every unattended sheet to the template that made it: never one without it
            raise WorkbenchError("no notebook_sha256: an unattended sheet must name the notebook template that made it",
                                 place="notebook_sha256", expected="the template's sha256 (workbench batch passes it)")
        problems = self.form.problems()
        if problems:
            raise SheetError(f"the answers are incomplete: {'; '.join(p.text('en', self.rubric) for p in problems)}",
                             file=self.params.answers_file)
        if self.params.key_file is None:
            sheet = self.sheet()
            validate_sheet(sheet, self.rubric)
            p = self.params
            return atomic_write_bytes(p.sheets_dir / p.reviewer_id / f"{p.team_id}.sheet.json", sheet_bytes(sheet))
        path = self.submit()
        self.form.status.value = str(_html().submitted(self.ctx.t("submitted", path=str(path), version=self._submitted[-1].version), False))
        return path


def _shown(round_dir: Path, path: Path | None) -> str:
    """A path as a person should read it: relative to the round when inside it."""
    try:
        return Path(path or "").resolve().relative_to(round_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


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
    notebook_sha256: str = "",
    unattended: bool | None = None,
) -> Review:
    """Open the review of ``team_id`` by ``reviewer_id`` in a round folder (the papermill parameters).

    ``round_dir`` is found with :func:`~workbench.model.round.find_round` (a relative path is read from the
    kernel's folder); other relative paths are resolved against the round. The form is restored from the
    reviewer's draft and every change is autosaved; an ``answers_file`` fills it when there is no draft.
    ``unattended`` (default: what ``workbench batch`` set, :func:`~workbench.round.submit.unattended_for`) fills
    the form from the answers file and lets :meth:`Review.run_unattended` sign without a person.
    ``notebook_sha256`` (passed by ``workbench batch``) names the notebook template; the sheet records it.
    """
    if role not in ROLES:
        raise WorkbenchError(f"role '{role}'", place="role", expected=" or ".join(ROLES))
    if lang not in LANGS:
        raise WorkbenchError(f"language '{lang}'", place="lang", expected=" or ".join(LANGS))
    rd = find_round(round_dir)
    if not rd.is_dir():
        raise RoundError("round folder not found", file=rd)
    if unattended is None or unattended:
        # signing without a person needs the batch's one-use token, however it is asked for
        token = unattended_for(reviewer_id, team_id)
        if unattended and not token:
            raise WorkbenchError("unattended mode was asked for without the batch's token", place="unattended",
                                 expected="'workbench batch' (or 'workbench audit --rerun'), which hands its kernel one")
        unattended = token
    params = _Params(rd, reviewer_id, team_id, role, lang, _resolve(rd, key_file), _resolve(rd, answers_file),
                     _resolve(rd, output_dir) or rd / "sheets", notebook_sha256)

    r = load_round(rd)  # validates and cross-checks rules, frozen rubric copies, roster, teams, assignments
    rubric = r.rubrics[RUBRIC_OF[role]]
    problem = r.eligibility(reviewer_id, team_id, role)
    if problem is not None:
        raise problem
    reviewer, team = r.roster.get(reviewer_id), r.team(team_id)
    assert reviewer is not None and team is not None  # eligibility checked both
    kid = key_id(public_key_from_pem(reviewer.public_key))

    if params.key_file is not None and not params.key_file.is_file():
        raise KeyFileError("key file not found", file=params.key_file, place="key_file")
    answers = load_answers(params.answers_file) if params.answers_file else None
    # user evaluators score usability only; the benchmark and independence evidence is the experts'
    # computed once per round and input (workbench.evidence.dossier_cache): loaded when its key matches, else built
    key = cache_key(r, team_id) if role in PANEL_ROLES else None
    dossier = cached_dossier(r, team_id, key=key) if key is not None else None

    evidence_dir = rd / "evidence" / team_id
    hashed = {**key.records(), **{f.path: f for f in dossier.inputs}} if key is not None and dossier is not None else {}
    materials = []
    if evidence_dir.is_dir():
        for i, f in enumerate(iter_files(evidence_dir)):
            if i >= MAX_MATERIALS:
                raise RoundError(f"more than {MAX_MATERIALS} files", file=evidence_dir, expected="fewer files (archive them)")
            # a file the evidence already read is not read again (weights can be gigabytes)
            materials.append(hashed.get(f.relative_to(rd).as_posix()) or input_record(f, rd))
    bench = r.rubrics.get("benchmark") if role in PANEL_ROLES else None
    charts = (lambda chart, in_lang: chart_file(r, key, chart, in_lang)) if key is not None else None
    ctx = ReviewContext(rd, r.rules.round_id, lang, rubric, bench, team, reviewer, evidence_dir, materials, dossier,
                        charts)
    return Review(ctx, params, kid, answers, unattended)


def _language_switch(lang: str, on_change: Callable[[str], None]) -> Any:
    """The language switch (한국어 | English) at the top of the review; ``on_change(lang)`` on a click."""
    import ipywidgets as w  # loaded with the form already

    toggle = w.ToggleButtons(options=[("한국어", "ko"), ("English", "en")], value=lang,
                             style={"button_width": "6em"})
    toggle.add_class("wb-lang")
    toggle.observe(lambda change: on_change(change["new"]), "value")
    return toggle
