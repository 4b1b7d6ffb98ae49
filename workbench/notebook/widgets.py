"""The scoring form: ipywidgets generated from a :class:`~workbench.model.rubric.Rubric`, labelled in ko or en.

Anchored criteria are radio buttons whose options show each level's label and descriptor; gates are radio
buttons of verdicts; each has a comment box, marked required whenever the rubric requires one for the chosen
value. A "still missing" list (from :func:`workbench.model.sheet.check_judgments`) is always visible, every
criterion shows its own status, and the sign button stays disabled until the inputs make a valid sheet.

The form knows nothing of files or keys: it reports changes to ``on_change`` (the review wires that to
the draft store) and clicks of the sign button to the handler given to :meth:`ScoringForm.on_sign`.

Public API: :class:`ScoringForm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..core.messages import msg
from ..core.templating import macros
from ..model.rubric import AnchoredScale, Criterion, GateScale, Rubric, Section
from ..model.sheet import COI, Judgment, Problem, check_judgments, compute_totals

__all__ = ["ScoringForm"]

FULL = w.Layout(width="100%")


def _option_label(value: Any, label: str, descriptor: str) -> str:
    return f"{value}. {label} — {descriptor}"


def _html() -> Any:
    """The form's HTML snippets (templates/form.html.j2): escaped by Jinja, never by hand."""
    return macros("form.html.j2")


class _CriterionControl:
    """The widgets of one person-scored criterion."""

    def __init__(self, c: Criterion, lang: str) -> None:
        self.criterion, self.lang = c, lang
        if not isinstance(c.scale, AnchoredScale | GateScale):  # computed: shown read-only by the review
            raise ValueError(f"criterion {c.id} is computed")
        self.choice = w.RadioButtons(options=self._options(lang), value=None, layout=FULL)
        self.choice.add_class("wb-choice")
        self.comment = w.Textarea(layout=w.Layout(width="100%", height="5em"))
        self.comment.add_class("wb-comment")
        self.comment_label = w.HTML()
        self.status = w.HTML()
        self.head = w.HTML()
        self.relabel(lang)
        self.box = w.VBox([self.head, self.status, self.choice, self.comment_label, self.comment], layout=FULL)
        self.box.add_class("wb-criterion")
        self.box.add_class("wb-" + c.id.replace(".", "-"))

    def _options(self, lang: str) -> list[tuple[str, Any]]:
        sc = self.criterion.scale
        if isinstance(sc, AnchoredScale):
            return [(_option_label(lv.value, lv.label.get(lang), lv.descriptor.get(lang)), lv.value) for lv in sc.levels]
        assert isinstance(sc, GateScale)
        return [(_option_label(i + 1, o.label.get(lang), o.descriptor.get(lang)), o.value) for i, o in enumerate(sc.options)]

    def relabel(self, lang: str) -> None:
        """Label the same widgets in ``lang``; the chosen value and the comment stay."""
        c, self.lang = self.criterion, lang
        value = self.choice.value
        self.choice.options = self._options(lang)
        self.choice.value = value
        self.comment.placeholder = msg("comment", lang)
        pts = f" ({c.points:g} {msg('points', lang)})" if c.points else ""
        self.head.value = str(_html().criterion_head(c.title.get(lang), pts, c.description.get(lang)))

    @property
    def is_gate(self) -> bool:
        return isinstance(self.criterion.scale, GateScale)

    def judgment(self) -> Judgment | None:
        value, comment = self.choice.value, self.comment.value
        if value is None and not comment:
            return None
        if self.is_gate:
            return Judgment(verdict=value, comment=comment)
        return Judgment(level=value, comment=comment)

    def set(self, j: Judgment | None) -> None:
        value = None if j is None else (j.verdict if self.is_gate else j.level)
        valid = {v for _, v in self.choice.options}
        self.choice.value = value if value in valid else None
        self.comment.value = "" if j is None else j.comment

    def show(self, problems: list[Problem], rubric: Rubric) -> None:
        level = None if self.is_gate else self.choice.value
        required = self.criterion.needs_comment(level)
        self.comment_label.value = str(_html().label(msg("comment_required" if required else "comment", self.lang)))
        if problems:
            self.status.value = str(_html().missing_mark([p.text(self.lang, rubric).split(": ", 1)[-1] for p in problems]))
        else:
            self.status.value = str(_html().done_mark())


class ScoringForm:
    """A form for one rubric: per-section boxes, a COI box and a summary box with the sign button."""

    def __init__(
        self,
        rubric: Rubric,
        lang: str = "ko",
        *,
        judgments: dict[str, Judgment] | None = None,
        coi: COI | None = None,
        on_change: Callable[[], None] | None = None,
        ask_passphrase: bool = False,
    ) -> None:
        self.rubric, self.lang = rubric, lang
        self._on_change = on_change
        self._on_sign: Callable[[], None] | None = None
        self._muted = True  # no change events while the form is being built or filled
        self.controls: dict[str, _CriterionControl] = {
            c.id: _CriterionControl(c, lang) for _, c in rubric.criteria() if isinstance(c.scale, AnchoredScale | GateScale)
        }
        self.coi_choice = w.RadioButtons(options=self._coi_options(lang), value=None, layout=FULL)
        self.coi_choice.add_class("wb-coi")
        self.coi_statement = w.Textarea(placeholder=msg("coi_statement", lang), layout=w.Layout(width="100%", height="4em"))
        self.coi_statement.add_class("wb-coi-statement")
        self._coi_label = w.HTML(str(_html().label(msg("coi_statement_label", lang))))
        self._section_boxes: dict[str, tuple[w.VBox, w.HTML]] = {}
        self.missing = w.HTML()
        self.missing.add_class("wb-missing-list")
        self.totals = w.HTML()
        self.sign_button = w.Button(description=msg("sign_submit", lang), disabled=True, button_style="primary",
                                    icon="check", layout=w.Layout(width="auto"))
        self.sign_button.add_class("wb-sign")
        self.passphrase = w.Password(description=msg("passphrase", lang), style={"description_width": "initial"}) if ask_passphrase else None
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.notice = w.HTML()
        self.notice.add_class("wb-notice")
        self.set_values(judgments or {}, coi or COI())
        for ctl in self.controls.values():
            ctl.choice.observe(self._changed, "value")
            ctl.comment.observe(self._changed, "value")
        self.coi_choice.observe(self._changed, "value")
        self.coi_statement.observe(self._changed, "value")
        self.sign_button.on_click(self._sign_clicked)
        self._muted = False

    @staticmethod
    def _coi_options(lang: str) -> list[tuple[str, bool]]:
        return [(msg("coi_none", lang), False), (msg("coi_has", lang), True)]

    def set_language(self, lang: str) -> None:
        """Label every widget in ``lang`` in place: displayed boxes change, values and comments stay, and no
        change is reported (nothing the reviewer entered changed)."""
        muted, self._muted = self._muted, True
        try:
            self.lang = lang
            for ctl in self.controls.values():
                ctl.relabel(lang)
            coi = self.coi_choice.value
            self.coi_choice.options = self._coi_options(lang)
            self.coi_choice.value = coi
            self.coi_statement.placeholder = msg("coi_statement", lang)
            self._coi_label.value = str(_html().label(msg("coi_statement_label", lang)))
            self.sign_button.description = msg("sign_submit", lang)
            if self.passphrase is not None:
                self.passphrase.description = msg("passphrase", lang)
            for section in self.rubric.sections:
                if section.id in self._section_boxes:
                    self._section_boxes[section.id][1].value = self._section_title(section)
        finally:
            self._muted = muted
        self.refresh()

    # -- values
    def judgments(self) -> dict[str, Judgment]:
        """The current judgments, in rubric order (criteria left untouched are absent)."""
        out: dict[str, Judgment] = {}
        for cid, ctl in self.controls.items():
            j = ctl.judgment()
            if j is not None:
                out[cid] = j
        return out

    def coi(self) -> COI:
        """The current conflict-of-interest declaration."""
        return COI(has_conflict=self.coi_choice.value, statement=self.coi_statement.value)

    def problems(self) -> list[Problem]:
        """What keeps the current input from being a valid sheet (empty = ready to sign)."""
        return check_judgments(self.rubric, self.judgments(), None, self.coi())

    def set_values(self, judgments: dict[str, Judgment], coi: COI) -> None:
        """Fill the form (restoring a draft or applying answers) without firing a change per widget."""
        muted, self._muted = self._muted, True
        try:
            for cid, ctl in self.controls.items():
                ctl.set(judgments.get(cid))
            self.coi_choice.value = coi.has_conflict
            self.coi_statement.value = coi.statement
        finally:
            self._muted = muted
        self.refresh()
        if not muted and self._on_change:
            self._on_change()

    # -- layout
    def _section_title(self, section: Section) -> str:
        return str(_html().section_head(section.title.get(self.lang),
                                        section.description.get(self.lang) if section.description else ""))

    def section_box(self, section: Section) -> w.VBox:
        """The inputs of one rubric section, gates last (a verdict concludes the evidence above it); one box
        per section, relabelled in place by :meth:`set_language`."""
        if section.id not in self._section_boxes:
            ctls = [self.controls[c.id] for c in section.criteria if c.id in self.controls]
            ctls.sort(key=lambda ctl: ctl.is_gate)
            title = w.HTML(self._section_title(section))
            self._section_boxes[section.id] = (w.VBox([title, *(ctl.box for ctl in ctls)], layout=FULL), title)
        return self._section_boxes[section.id][0]

    def coi_box(self) -> w.VBox:
        """The conflict-of-interest declaration."""
        return w.VBox([self.coi_choice, self._coi_label, self.coi_statement], layout=FULL)

    def summary_box(self) -> w.VBox:
        """Totals, the still-missing list, the passphrase (if the key is encrypted) and the sign button."""
        items: list[w.Widget] = [self.notice, self.totals, self.missing]
        if self.passphrase is not None:
            items.append(self.passphrase)
        items += [self.sign_button, self.status]
        return w.VBox(items, layout=FULL)

    # -- behaviour
    def on_sign(self, handler: Callable[[], None]) -> None:
        """Call ``handler`` when the enabled sign button is clicked."""
        self._on_sign = handler

    def click_sign(self) -> None:
        """Click the sign button (as a person would; does nothing while it is disabled)."""
        if not self.sign_button.disabled:
            self.sign_button.click()

    def refresh(self) -> None:
        """Recompute statuses, the missing list, the totals and whether signing is allowed."""
        problems = self.problems()
        by_criterion: dict[str, list[Problem]] = {}
        for p in problems:
            by_criterion.setdefault(p.criterion, []).append(p)
        for cid, ctl in self.controls.items():
            ctl.show(by_criterion.get(cid, []), self.rubric)
        for widget in (self._coi_label, self.coi_statement):
            widget.layout.display = None if self.coi_choice.value else "none"
        if problems:
            self.missing.value = str(_html().still_missing(msg("still_missing", self.lang),
                                                           [p.text(self.lang, self.rubric) for p in problems]))
        else:
            self.missing.value = str(_html().complete(msg("complete", self.lang)))
        self.totals.value = self._totals_html()
        self.sign_button.disabled = bool(problems)

    def _totals_html(self) -> str:
        t = compute_totals(self.rubric, self.judgments())
        rows = [(s.title.get(self.lang), f"{t.sections.get(s.id, 0):g} / {sum(c.points for c in s.criteria):g}")
                for s in self.rubric.sections]
        return str(_html().totals(rows, msg("total", self.lang), f"{t.total:g} / {t.max:g}"))

    def _changed(self, _change: dict[str, Any]) -> None:
        if self._muted:
            return
        self.refresh()
        if self._on_change:
            self._on_change()

    def _sign_clicked(self, _button: w.Button) -> None:
        self.refresh()  # re-validate: the button state may lag a value that just arrived
        if not self.sign_button.disabled and self._on_sign:
            self._on_sign()
