"""The published report in Debian's Chromium, as a journalist opens it: the Korean page and its English
version, and the verify page, green on the real report and red after one byte of the signed report, a page or
the ledger is changed. The report folder is served over http on 127.0.0.1 (``python3 -m http.server``, as the
report tells a reader); any request leaving 127.0.0.1 fails the test. Screenshots go to test-artifacts/."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import refuse_outside, require
from playwright.sync_api import expect
from roundkit import ROOT
from test_report_pages import published_round

from workbench.messages import MESSAGES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(autouse=True)
def _chromium():
    require(CHROMIUM.exists(), "Debian's chromium is not installed (/usr/bin/chromium); `make system-deps` installs it")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    rd, _ = published_round(tmp_path_factory.mktemp("browser-report"), model_cards=True)
    return rd / "report"


@contextlib.contextmanager
def served(folder: Path):
    """``python3 -m http.server`` in ``folder`` on 127.0.0.1, as the report's own note tells a reader."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})

        refuse_outside(page, ("http://127.0.0.1:",), outside)
        try:
            yield page
        finally:
            browser.close()
    assert outside == []


def test_the_report_in_korean_and_english(report):
    ARTIFACTS.mkdir(exist_ok=True)
    with served(report) as url, browser_page() as page:
        page.goto(f"{url}/index.html")
        assert page.locator("html").get_attribute("lang") == "ko"
        expect(page.locator("h2", has_text="점수 및 순위")).to_be_visible()
        ranking = page.locator("#ranking")
        figures = [t.strip() for t in ranking.locator("td.num").all_inner_texts()]
        assert [f for f in figures if "." in f] and all(f.isdigit() or len(f.split(".")[1]) == 1 for f in figures if f)
        assert "진출" in ranking.inner_text() and "bench.common" not in page.locator("body").inner_text()
        page.screenshot(path=str(ARTIFACTS / "report-ko.png"), full_page=True)
        page.locator("a", has_text="English version").click()
        page.wait_for_url("**/index.en.html")
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.locator("h2", has_text="Scores and ranking")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "report-en.png"), full_page=True)
        page.locator("a", has_text="한국어 보고서").click()
        page.wait_for_url("**/index.html")


def _english_sentences() -> list[str]:
    """The English the workbench writes: every literal run of three or more words in its message catalogue."""
    out = set()
    for texts in MESSAGES.values():
        for part in re.split(r"\{[^}]*\}", texts["en"]):
            for run in re.split(r"[:;()“”\"]", part):
                run = run.strip(" ,.-–")
                words = run.split()
                # three or more plain words: file names and product names ("verify.html · workbench") are not prose
                if len(words) >= 3 and all(re.fullmatch(r"[A-Za-z'’,-]+", x) for x in words):
                    out.add(run)
    return sorted(out)


def test_the_korean_page_has_no_developer_text_and_plain_chart_ticks(report):
    """Issue 27, item 7: ticks read "1e+1", axes and titles in English, raw ids in two charts, a status that
    repeats itself and raw UTC times on the Korean page. Every text a reader sees there, the charts' included."""
    ARTIFACTS.mkdir(exist_ok=True)
    with served(report) as url, browser_page() as page:
        page.goto(f"{url}/index.html")
        page.screenshot(path=str(ARTIFACTS / "report-ko-words.png"), full_page=True)
        svg = [t.strip() for t in page.locator("svg text").all_text_contents()]
        body = page.locator("body").inner_text()
        cells = [t.strip() for t in page.locator("td, th, li, h1, h2, h3").all_inner_texts()]
        assert svg and any("점수" in t for t in svg)
        assert [t for t in svg if "e+" in t] == [], "scientific tick labels"
        ids = {"ta", "tb", "tc", "bench.common", "bench.nia", "expert.independence.verdict"}
        assert [t for t in svg + cells if t in ids] == [], "raw ids"
        assert "Tb" in svg and "Tc" in svg and "벤치마크 점수" in svg  # the cost chart: names, Korean axis
        assert not [t for t in svg if re.search(r"\b(points|Team|model)\b", t)], "an English chart label"
        english = [s for s in _english_sentences() if s in body or any(s in t for t in svg)]
        assert english == [], english
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", body), "a raw ISO time"
        assert "한국 시간" in body
        page.goto(f"{url}/index.en.html")
        page.screenshot(path=str(ARTIFACTS / "report-en-words.png"), full_page=True)
        titles = page.locator("svg text").all_text_contents()
        assert not [t for t in titles if t.endswith("…")], "an English chart title cut off"


def _verify(page, url: str, shot: str) -> str:
    page.goto(f"{url}/verify.html")
    page.wait_for_selector("body[data-result]", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return page.locator("body").get_attribute("data-result")


def test_the_verify_page_is_green_on_the_real_report(report):
    ARTIFACTS.mkdir(exist_ok=True)
    with served(report) as url, browser_page() as page:
        assert _verify(page, url, "verify-green.png") == "ok"
        assert page.locator("#checks li[data-ok='0']").count() == 0
        assert page.locator("#checks li[data-ok='1']").count() >= 9  # key, signature, 5 files, chain, head, entry
        text = page.locator("body").inner_text()
        assert "검증됨" in text and "Verified" in text and "확인하지 않은 것" in text and "cannot know" in text


def _flip(path: Path, after: bytes) -> None:
    """Change one byte: the one right after the first occurrence of ``after`` (which must occur)."""
    data = bytearray(path.read_bytes())
    i = data.index(after) + len(after)
    data[i] = data[i] + 1 if data[i] != ord("z") else ord("y")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("name", "at", "failing"), [
    ("report.dsse.json", b'"payload":"', "report.dsse.json"),      # the signed payload's first base64 character
    ("index.html", "점수 및 순위".encode(), "index.html"),
    ("ledger.jsonl", b'"time":"', "ledger"),                        # the first entry's year
])
def test_the_verify_page_turns_red_after_one_byte_changes(report, tmp_path, name, at, failing):
    folder = tmp_path / "report"
    shutil.copytree(report, folder)
    target = folder / name
    before = target.read_bytes()
    _flip(target, at)
    assert sum(a != b for a, b in zip(before, target.read_bytes(), strict=True)) == 1
    with served(folder) as url, browser_page() as page:
        assert _verify(page, url, f"verify-red-{name.replace('.', '-')}.png") == "bad"
        bad = " ".join(page.locator("#checks li[data-ok='0']").all_inner_texts())
        assert failing in bad or ("원장" in bad and failing == "ledger"), bad
        assert "검증 실패" in page.locator("#verdict").inner_text()

