"""The bilingual message table: every label that does not come from a rubric comes from here."""

from __future__ import annotations

LANGS = ("ko", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # sheet problems (shown in the form's "still missing" list and in CLI errors)
    "missing_score": {"ko": "점수를 선택하지 않았습니다", "en": "no score selected"},
    "missing_verdict": {"ko": "판정을 선택하지 않았습니다", "en": "no verdict selected"},
    "missing_comment": {"ko": "의견(근거)을 입력해야 합니다", "en": "a comment (justification) is required"},
    "bad_level": {"ko": "척도에 없는 수준입니다: {value}", "en": "level {value} is not on the scale"},
    "bad_verdict": {"ko": "알 수 없는 판정입니다: {value}", "en": "unknown verdict '{value}'"},
    "unknown_criterion": {"ko": "루브릭에 없는 항목입니다", "en": "not a criterion of this rubric"},
    "computed_judged": {"ko": "계산 항목은 사람이 채점하지 않습니다", "en": "computed criteria are not scored by a person"},
    "missing_computed": {"ko": "계산 값이 없습니다", "en": "computed value missing"},
    "computed_range": {"ko": "계산 값이 범위를 벗어났습니다: {value}", "en": "computed value {value} out of range 0..{max}"},
    "missing_coi": {"ko": "이해충돌 여부를 선언하지 않았습니다", "en": "conflict of interest not declared"},
    "coi_statement": {"ko": "이해충돌 내용을 기재해야 합니다", "en": "describe the conflict of interest"},
    # form labels
    "complete": {"ko": "모든 항목이 완료되었습니다", "en": "all items complete"},
    "still_missing": {"ko": "미완료 항목", "en": "Still missing"},
    "comment": {"ko": "의견", "en": "Comment"},
    "comment_required": {"ko": "의견 (필수)", "en": "Comment (required)"},
    "score": {"ko": "점수", "en": "Score"},
    "points": {"ko": "점", "en": "pts"},
    "total": {"ko": "합계", "en": "Total"},
    "sign_submit": {"ko": "서명 및 제출", "en": "Sign and submit"},
    "passphrase": {"ko": "키 암호", "en": "Key passphrase"},
    "saved": {"ko": "저장됨", "en": "saved"},
    "restored": {"ko": "이전에 입력한 값을 복원했습니다", "en": "restored your earlier input"},
    "submitted": {"ko": "제출 완료: {path}", "en": "submitted: {path}"},
    "coi_none": {"ko": "이 팀과 이해충돌이 없음을 확인합니다", "en": "I have no conflict of interest with this team"},
    "coi_has": {"ko": "이해충돌이 있습니다", "en": "I have a conflict of interest"},
    "coi_title": {"ko": "이해충돌 선언", "en": "Conflict-of-interest declaration"},
    "read_only": {"ko": "계산값 (읽기 전용)", "en": "computed (read-only)"},
    "not_declared": {"ko": "선언 전", "en": "not declared"},
}


def msg(key: str, lang: str = "ko", **params: object) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in."""
    table = MESSAGES[key]
    return table.get(lang, table["en"]).format(**params)
