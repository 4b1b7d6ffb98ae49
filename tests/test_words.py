"""Words are data (issue 25): everything the workbench finds or decides is a code with parameters, worded by one
message catalogue at render time, in Korean and English.

- every code the program produces has a message in both languages, and every parameter its wording uses is given;
- a round whose benchmark results were run with ``--limit``, acknowledged and published, reads in Korean only on
  its Korean page: no English sentence the workbench wrote (identifiers, file names, team ids and the quoted words
  of people are not sentences of the workbench's).
"""

from __future__ import annotations

import ast
import json
import re
import string
from html import unescape
from pathlib import Path

import pytest
import yaml
from coord_helpers import FIXTURES, coord_key, make_round, sign_sheet, sign_user, survey_rows, with_results
from judgments import demo_judgments

import workbench
from workbench.core.findings import Finding, message_key, problem_text
from workbench.core.messages import LANGS, MESSAGES, msg
from workbench.core.quantities import QUANTITIES
from workbench.model.round import load_round
from workbench.model.rubric import load_rubric
from workbench.model.sheet import Judgment
from workbench.publish.aggregate import acknowledge, aggregate_round
from workbench.publish.report import write_report
from workbench.round.collect import collect
from workbench.round.lifecycle import freeze

PKG = Path(workbench.__file__).parent
CODE_PREFIXES = ("problem_", "bench_", "flag_", "status_", "file_", "users_", "votes_", "alpha_", "bt_", "cost_", "note_")


def _fields(template: str) -> dict[str, str]:
    """The parameters a message uses, each with its format (``{x:score}`` -> ``{"x": "score"}``)."""
    return {name.split(".")[0].split("[")[0]: spec or "" for _, name, spec, _ in string.Formatter().parse(template)
            if name}


def _sample(name: str, spec: str) -> object:
    """A value for a parameter: a number where the format asks for one, else a plain identifier."""
    if spec in QUANTITIES or spec.endswith(("%", "g", "f")):
        return 0.4882
    if name in ("n", "k", "got", "need", "version", "seq", "effective", "original", "step"):
        return 3
    return f"<{name}>"


CODES = sorted(k for k in MESSAGES if k.startswith(CODE_PREFIXES))


@pytest.mark.parametrize("key", CODES)
def test_every_code_reads_in_both_languages_with_every_parameter_filled(key):
    table = MESSAGES[key]
    assert set(table) == set(LANGS), f"{key}: a message in each of {LANGS}"
    fields = {**_fields(table["en"]), **_fields(table["ko"])}
    params = {n: _sample(n, s) for n, s in fields.items()}
    for lang in LANGS:
        text = msg(key, lang, **params)
        assert text.strip() and "{" not in text and "}" not in text, (key, lang, text)
        for name, value in params.items():
            if name in _fields(table[lang]) and isinstance(value, str):
                assert value in text, (key, lang, name)  # the parameter is filled in, not dropped
    # the Korean says it in Korean: no English sentence of its own (a parameter's value aside)
    assert not _english_sentences(re.sub(r"\{[^}]*\}", " ", table["ko"])), (key, table["ko"])


def _literal_codes() -> list[tuple[str, str, set[str] | None]]:
    """Every code the workbench writes as a literal (``Finding(code="x", params={...})``, ``code="x"`` of a
    problem), with the parameter names given there when they are a literal dict: (file, code, names)."""
    out = []
    for f in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            code = kw.get("code")
            if isinstance(code, ast.Constant) and isinstance(code.value, str) and "params" in kw:
                names = ({k.value for k in kw["params"].keys if isinstance(k, ast.Constant)}
                         if isinstance(kw["params"], ast.Dict) and all(isinstance(k, ast.Constant) for k in kw["params"].keys)
                         else None)
                out.append((f.relative_to(PKG).as_posix(), code.value, names))
    return out


def test_every_code_the_program_writes_has_its_message_and_its_parameters():
    found = _literal_codes()
    assert {c for _, c, _ in found} >= {"problem_evidence", "problem_no_benchmark_results", "bench_limit", "bench_noise",
                                        "bench_no_result", "tokenizer_family", "undeclared_weights"}
    for where, code, names in found:
        key = message_key(code)
        assert set(MESSAGES[key]) == set(LANGS), (where, code)
        if names is not None:
            for lang in LANGS:
                missing = set(_fields(MESSAGES[key][lang])) - names
                assert not missing, f"{where}: {code} gives no {sorted(missing)} for its {lang} message"


def _string_args(module: str, call: str, position: int = 0, keyword: str | None = None) -> set[str]:
    """The literal strings given to ``call(...)`` in ``module`` (at ``position``, or as ``keyword``)."""
    out = set()
    for node in ast.walk(ast.parse((PKG / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == call:
            args = [k.value for k in node.keywords if k.arg == keyword] if keyword else node.args[position:position + 1]
            out |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return out


def test_codes_made_from_a_family_have_their_messages():
    # codes built at run time from a family and a value: every value the program can produce
    from typing import get_args

    from workbench.evidence.dossier import COPIED
    from workbench.evidence.training import Discontinuity

    training = _string_args("evidence/training.py", "Flag", keyword="code") | set(
        get_args(Discontinuity.model_fields["kind"].annotation)) | {"compute_implausibly_low", "compute_implausibly_high"}
    authority = _string_args("round/authority.py", "fail", position=1)
    assert len(training) >= 10 and len(authority) >= 3
    for code in [*(f"weights_{v}" for v in COPIED), "licence_non_commercial", "licence_unknown_licence",
                 *(f"training_{c}" for c in training), *(f"authority_{c}" for c in authority),
                 *(f"status_{s}" for s in ("ranked", "advances", "eliminated", "tie", "excluded", "not_selected",
                                           "below", "incomplete"))]:
        key = message_key(code)
        assert key != "flag_training", f"{code} falls back to its family's English message"
        assert set(MESSAGES[key]) == set(LANGS)


def test_a_problem_without_code_names_its_place_in_korean_and_keeps_its_line_in_english():
    p = {"message": "row has 8 fields", "file": "evidence/ta/results.csv", "line": 4, "place": "row",
         "expected": 'quote "acc,none"'}
    assert problem_text(p, "en") == 'evidence/ta/results.csv:4: row: row has 8 fields, expected quote "acc,none"'
    assert problem_text(p, "ko") == "evidence/ta/results.csv:4: row의 증거를 사용할 수 없습니다"
    coded = {**p, "code": "bench_limit", "place": "n-samples.gsm8k",
             "params": {"benchmark": "gsm8k", "task": "gsm8k", "effective": 100, "original": 1319}}
    assert problem_text(coded, "ko") == ("evidence/ta/results.csv:4: n-samples.gsm8k: gsm8k: --limit 옵션으로 실행되어 gsm8k의 "
                                         "문항 1,319개 중 100개만 채점되었습니다. 이 점수는 벤치마크 전체의 점수가 아닙니다 "
                                         "(필요한 것: 모든 문항을 채점한 실행 (effective = original, --limit 없음))")


# ---------------------------------------------------------------- a Korean page says it in Korean

# words that are the same in both languages' pages: names of methods and units a Korean text uses as they are
_NAMES = {"ln", "v", "z", "icc", "k", "bradley", "terry", "krippendorff", "sha", "svg", "html", "json", "csv",
          "python", "http", "server", "verify", "key", "id", "workbench", "dsse", "english", "version", "kst", "utc",
          "effective", "original", "limit", "gpu", "flops", "n", "d"}
_WORD = re.compile(r"[A-Za-z][a-z]+(?:'[a-z]+)?")


def _english_sentences(text: str) -> list[str]:
    """Runs of three or more English words (the catalogue's English vocabulary, not names or identifiers)
    in ``text``: what a Korean reader would meet as an English sentence."""
    vocab = _english_vocabulary()
    text = re.sub(r"[^\s:,;()]*[A-Za-z0-9][/._][^\s:,;()]*", " ", text)  # file names, dotted ids: not words
    runs, run = [], []
    for token in re.split(r"(\s+|[,:;()\[\]“”\"'.!?–—·/|=<>+-])", text):
        if not token or token.isspace() or (len(token) == 1 and not token.isalnum()):
            continue  # spaces and punctuation join the words of one sentence
        if _WORD.fullmatch(token) and token.lower() in vocab:
            run.append(token)
            continue
        if token.isdigit() or token.lower() in _NAMES:
            continue  # a number or a name sits inside a sentence without being one of its words
        if len(run) >= 3:
            runs.append(" ".join(run))
        run = []
    if len(run) >= 3:
        runs.append(" ".join(run))
    return runs


_VOCAB: set[str] = set()


def _english_vocabulary() -> set[str]:
    if not _VOCAB:
        words = {w.lower() for t in MESSAGES.values() for w in _WORD.findall(re.sub(r"\{[^}]*\}", " ", t["en"]))}
        _VOCAB.update(words - _NAMES)
    return _VOCAB


def _visible_text(html: str) -> str:
    """What a reader sees: the page's text without markup, scripts or styles, and without the quoted words of
    people (“...”) and code spans (file names, identifiers)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<code\b.*?</code>", " ", html, flags=re.S)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"“[^”]*”", " ", text)


def test_the_sentence_check_finds_english_and_lets_names_and_quotes_be():
    assert _english_sentences("tb: no benchmark results submitted: benchmark points 0")
    assert _english_sentences("run with --limit: 100 of 1172 items of arc_challenge scored")
    assert not _english_sentences("tb: 벤치마크 결과를 제출하지 않아 evidence/tb/results.json n-samples.arc_challenge 0점")
    assert not _english_sentences(_visible_text("<p>사유: “the committee decided to publish anyway”</p>"))


def limit_round(base: Path) -> Path:
    """Three teams, three experts, one user; tb's results are an lm-eval harness file run with ``--limit``
    (arc_challenge and gsm8k on 100 items) that lacks most benchmarks; tc submitted no results and got no user
    answers; the problems acknowledged, the report published."""
    experts = ("e1", "e2", "e3")
    rd = make_round(base, experts=experts, teams=("ta", "tb", "tc"), users=("u1",), do_freeze=False)
    with_results(rd, {"ta": 0.5})
    doc = json.loads((FIXTURES.parent / "benchmarks" / "harness_v0_4.json").read_text())
    for task in ("arc_challenge", "gsm8k"):
        doc["n-samples"][task]["effective"] = 100  # lm_eval --limit 100
    (rd / "evidence" / "tb" / "results.json").write_text(json.dumps(doc))
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    for t in teams["teams"]:
        if t["id"] == "tb":
            t["evidence"] = {"benchmark_results": "results.json"}
    (rd / "teams.yaml").write_text(yaml.safe_dump(teams))
    freeze(rd, coord_key(base), "coord")
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    for i, e in enumerate(experts):
        for t in ("ta", "tb", "tc"):
            j = dict(demo_judgments(rubric))
            if t == "tb" and i == 0:
                j["expert.independence.verdict"] = Judgment(verdict="fail", comment="the encoder looks copied")
            sign_sheet(base, e, t, judgments=j)
    for t in ("ta", "tb"):
        sign_user(base, "u1", survey_rows("u1", t, 3))
    collect(rd, coord_key(base), "coord")
    r = load_round(rd)
    acknowledge(r, aggregate_round(r), coord_key(base), "coord", "tb ran with --limit; the committee publishes anyway")
    return rd


@pytest.fixture(scope="module")
def published_limit_round(tmp_path_factory):
    base = tmp_path_factory.mktemp("limit")
    rd = limit_round(base)
    r = load_round(rd)
    return rd, write_report(r, aggregate_round(r), coord_key(base), "coord")


def test_a_limit_rounds_acknowledged_problems_read_in_korean_only(published_limit_round):
    rd, paths = published_limit_round
    ko = paths["html"].read_text(encoding="utf-8")
    signed = json.loads(__import__("base64").b64decode(json.loads(paths["signed"].read_bytes())["payload"]))
    # the problems are signed as codes with their values, acknowledged as such
    limits = [p for p in signed["problems"] if p["params"].get("problem", {}).get("code") == "bench_limit"]
    assert {p["params"]["problem"]["params"]["task"] for p in limits} == {"arc_challenge", "gsm8k"}
    assert signed["acknowledged"]["problems"] == signed["problems"]
    # the Korean page says them in Korean: the --limit lines, the missing benchmarks, the acknowledgement
    assert "--limit 옵션으로 실행되어 arc_challenge의 문항 1,172개 중 100개만 채점되었습니다" in ko
    assert "코디네이터 coord이(가)" in ko and "“tb ran with --limit; the committee publishes anyway”" in ko
    assert "expected a run over every item" not in ko and "no --limit" not in ko
    assert "tc: 벤치마크 결과를 제출하지 않아 벤치마크 점수가 0점입니다" in ko and "tc: 사용자 응답이 없어" in ko
    english = _english_sentences(_visible_text(ko))
    assert not english, english
    # and the English page says the same in English
    en = paths["html_en"].read_text(encoding="utf-8")
    assert "run with --limit: 100 of 1172 items of arc_challenge scored" in en


def test_the_english_page_has_english_sentences(published_limit_round):
    # the check above can fail: the English page of the same round is full of the catalogue's English
    _, paths = published_limit_round
    assert len(_english_sentences(_visible_text(paths["html_en"].read_text(encoding="utf-8")))) > 20


def test_a_findings_text_is_the_catalogues():
    f = Finding(code="problem_no_user_answers", params={"team": "tc"})
    assert f.text("ko") == "tc: 사용자 응답이 없어 사용자 점수가 0점입니다"
    assert f.text("en") == "tc: no user answers: user points 0"
