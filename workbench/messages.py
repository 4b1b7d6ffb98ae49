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
    "coi_statement_label": {"ko": "이해충돌 내용", "en": "Describe the conflict"},
    # the review notebook's sections, tables and notices
    "section_team": {"ko": "(가) 평가 대상 팀과 제출 자료", "en": "(a) The team and its submitted materials"},
    "section_benchmark": {"ko": "(나) 벤치마크 증거와 평가 항목", "en": "(b) Benchmark evidence and items"},
    "section_usability": {"ko": "(다) 활용성·확산 증거와 평가 항목", "en": "(c) Usability and diffusion evidence and items"},
    "section_independence": {"ko": "(라) 독자성 증거와 평가 항목", "en": "(d) Independence evidence and items"},
    "section_coi": {"ko": "(마) 이해충돌 선언", "en": "(e) Conflict-of-interest declaration"},
    "section_summary": {"ko": "(바) 요약, 서명 및 제출", "en": "(f) Summary, sign and submit"},
    "materials": {"ko": "제출 자료 (SHA-256)", "en": "Submitted materials (SHA-256)"},
    "no_materials": {"ko": "제출된 자료가 없습니다", "en": "no materials submitted"},
    "missing_material": {"ko": "누락 (선언되었으나 제출되지 않음)", "en": "missing (declared, not submitted)"},
    "col_file": {"ko": "파일", "en": "file"},
    "col_declared": {"ko": "신고 유형", "en": "declared as"},
    "col_bytes": {"ko": "바이트", "en": "bytes"},
    "col_fact": {"ko": "항목", "en": "fact"},
    "col_value": {"ko": "값", "en": "value"},
    "col_benchmark": {"ko": "벤치마크", "en": "benchmark"},
    "col_target": {"ko": "선언 목표 점수", "en": "declared target score"},
    "col_individual": {"ko": "개별 벤치마크", "en": "individual benchmark"},
    "col_criterion": {"ko": "항목", "en": "criterion"},
    "col_points": {"ko": "배점", "en": "points"},
    "col_formula": {"ko": "산식", "en": "formula"},
    "col_computed": {"ko": "계산 점수", "en": "computed points"},
    "fact_name": {"ko": "팀 이름", "en": "team name"},
    "fact_model": {"ko": "모델", "en": "model"},
    "fact_active": {"ko": "활성 파라미터 (B)", "en": "active parameters (B)"},
    "fact_total": {"ko": "전체 파라미터 (B)", "en": "total parameters (B)"},
    "fact_target_model": {"ko": "선언 목표 모델", "en": "declared target model"},
    "fact_individual": {"ko": "개별 벤치마크 (2종)", "en": "individual benchmarks (2)"},
    "targets_title": {"ko": "목표 모델({model}) 기준 선언 목표 점수", "en": "Declared target scores (target model {model})"},
    "computed_title": {"ko": "벤치마크 평가 계산 항목", "en": "Computed benchmark points"},
    "pending": {"ko": "계산할 수 없음: 읽을 수 있는 벤치마크 결과가 없습니다", "en": "not computed: no readable benchmark results"},
    "model_facts": {"ko": "모델 규모 (비용 효율성 판단용)", "en": "Model size (for judging cost efficiency)"},
    "evidence_problems": {"ko": "읽을 수 없었던 증거 파일", "en": "Evidence files that could not be read"},
    "independence_flags": {"ko": "독자성 증거가 지적하는 사항", "en": "What the independence evidence flags"},
    "evidence_weights": {"ko": "가중치 출처 (구성요소별)", "en": "Weight provenance (per component)"},
    "evidence_training": {"ko": "학습 로그", "en": "Training log"},
    "evidence_tokenizer": {"ko": "토크나이저 비교", "en": "Tokenizer comparison"},
    "evidence_config": {"ko": "아키텍처 설정 비교", "en": "Architecture config comparison"},
    "evidence_licences": {"ko": "라이선스 및 투명성 목록", "en": "Licence and transparency manifest"},
    "independence_pending": {
        "ko": "독자성 증거가 계산되지 않았습니다. 제출 자료 목록을 보여 줍니다.",
        "en": "No independence evidence was computed; here is the list of submitted materials.",
    },
    "draft_corrupt": {
        "ko": "저장된 초안을 읽을 수 없어 {file}(으)로 보관했습니다: {problem}",
        "en": "the saved draft could not be read and was kept aside as {file}: {problem}",
    },
    "draft_orphans": {
        "ko": "이 루브릭에 표시할 수 없는 초안 항목을 보관했습니다: {ids}",
        "en": "draft entries this rubric cannot show were kept aside: {ids}",
    },
    "submitted_before": {"ko": "이미 제출한 버전: {versions} (다시 제출하면 새 버전이 생성됩니다)",
                         "en": "already submitted: {versions} (submitting again makes a new version)"},
    "save_failed": {"ko": "초안 저장 실패: {error}", "en": "could not save the draft: {error}"},
}


def msg(key: str, lang: str = "ko", **params: object) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in."""
    table = MESSAGES[key]
    return table.get(lang, table["en"]).format(**params)
