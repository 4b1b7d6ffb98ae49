"""The scoring form, driven by setting widget values and clicking its button."""

from __future__ import annotations

from roundkit import answers_for, fill_like_a_person

from workbench.model.sheet import COI, Judgment
from workbench.notebook.widgets import ScoringForm


def _texts(form: ScoringForm) -> str:
    return form.missing.value


def test_a_new_form_lists_everything_and_cannot_be_signed(expert_rubric):
    form = ScoringForm(expert_rubric, "en")
    person = expert_rubric.ids("anchored", "gate")
    assert set(form.controls) == set(person)
    assert len(form.problems()) == len(person) + 1  # every criterion and the COI declaration
    assert form.sign_button.disabled
    assert "Still missing (12)" in _texts(form)
    assert "Conflict of interest not declared".lower() in _texts(form).lower()


def test_levels_show_label_and_descriptor_in_the_chosen_language(expert_rubric):
    c = expert_rubric.criterion("expert.strategy.plan")
    en = ScoringForm(expert_rubric, "en").controls[c.id].choice.options
    ko = ScoringForm(expert_rubric, "ko").controls[c.id].choice.options
    assert en[0] == ("1. Poor — Goals and plan are missing or contradictory.", 1)
    assert ko[4] == ("5. 탁월 — 목표·로드맵·자원이 정량적이고 위험 대응까지 설득력 있다.", 5)
    assert ScoringForm(expert_rubric, "ko").sign_button.description == "서명 및 제출"


def test_comment_is_required_at_the_extremes_only(expert_rubric):
    form = ScoringForm(expert_rubric, "en")
    ctl = form.controls["expert.strategy.plan"]
    ctl.choice.value = 5
    assert "Comment (required)" in ctl.comment_label.value
    assert "a comment (justification) is required" in ctl.status.value
    assert any(p.criterion == ctl.criterion.id and p.code == "missing_comment" for p in form.problems())
    ctl.choice.value = 4
    assert "Comment (required)" not in ctl.comment_label.value and "✓" in ctl.status.value
    ctl.choice.value = 1
    ctl.comment.value = "No plan at all."
    assert "✓" in ctl.status.value


def test_gate_always_needs_a_justification_and_comes_last(expert_rubric):
    form = ScoringForm(expert_rubric, "en")
    gate = form.controls["expert.independence.verdict"]
    gate.choice.value = "fail"
    assert form.judgments()["expert.independence.verdict"] == Judgment(verdict="fail", comment="")
    assert "required" in gate.status.value
    section = next(s for s in expert_rubric.sections if s.id == "independence")
    box = form.section_box(section)
    assert box.children[-1] is gate.box


def test_totals_follow_the_rubric(expert_rubric):
    form = ScoringForm(expert_rubric, "en")
    form.controls["expert.strategy.plan"].choice.value = 4  # 0.8 x 6 = 4.8
    form.controls["expert.strategy.performance"].choice.value = 3  # 0.6 x 6 = 3.6
    assert "8.4 / 12" in form.totals.value and "8.4 / 35" in form.totals.value


def test_sign_button_enables_only_when_complete_and_clicks_reach_the_handler(expert_rubric):
    clicks, changes = [], []
    form = ScoringForm(expert_rubric, "en", on_change=lambda: changes.append(1))
    form.on_sign(lambda: clicks.append(form.judgments()))
    answers = answers_for(expert_rubric)
    fill_like_a_person(form, answers)
    assert not form.sign_button.disabled and "all items complete" in _texts(form)
    assert len(changes) >= len(answers["judgments"])
    form.click_sign()
    assert len(clicks) == 1
    # blank one required comment: the button is disabled again and a click does nothing
    form.controls["expert.independence.verdict"].comment.value = ""
    assert form.sign_button.disabled
    form.click_sign()
    assert len(clicks) == 1


def test_conflict_needs_a_statement(user_rubric):
    form = ScoringForm(user_rubric, "en")
    fill_like_a_person(form, answers_for(user_rubric))
    form.coi_choice.value = True
    assert [p.code for p in form.problems()] == ["coi_statement"]
    assert form.coi_statement.layout.display is None  # shown only when a conflict is declared
    form.coi_statement.value = "I advised this team in 2025."
    assert form.problems() == [] and form.coi() == COI(has_conflict=True, statement="I advised this team in 2025.")


def test_set_values_restores_without_change_events(user_rubric):
    changes = []
    form = ScoringForm(user_rubric, "ko", on_change=lambda: changes.append(1))
    js = {"user.usability": Judgment(level=2, comment="문서가 부족"), "user.reliability": Judgment(level=9)}
    form.set_values(js, COI(has_conflict=False))
    assert form.controls["user.usability"].choice.value == 2
    assert form.controls["user.reliability"].choice.value is None  # not on the scale: not shown as chosen
    assert changes == [1]  # one event for the whole restore


def test_passphrase_field_is_a_password_widget(user_rubric):
    import ipywidgets as w

    assert ScoringForm(user_rubric, "en").passphrase is None
    form = ScoringForm(user_rubric, "en", ask_passphrase=True)
    assert isinstance(form.passphrase, w.Password) and form.passphrase in form.summary_box().children


def test_computed_criteria_get_no_inputs(benchmark_rubric):
    form = ScoringForm(benchmark_rubric, "en")
    assert form.controls == {}
    assert len(form.section_box(benchmark_rubric.sections[0]).children) == 1  # only the title
