"""End to end in a real browser: JupyterLab in Debian's Chromium, driven like a reviewer would.

Run all cells, score and comment through the page, restart the kernel and run again (every value comes
back from the draft), click Sign and submit, and check the signed sheet. A screenshot of the filled form
is saved to ``test-artifacts/review-form.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import refuse_outside, require
from playwright.sync_api import expect
from roundkit import EXPERT, ROOT, TEAM, USER, make_round

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
]


@pytest.fixture(autouse=True)
def _chromium():
    require(CHROMIUM.exists(), "Debian's chromium is not installed (/usr/bin/chromium); `make system-deps` installs it")


# what the reviewer enters: criterion -> (option label prefix, comment)
ENTRIES = {
    "user.usability": ("4. Agree", ""),
    "user.korean_quality": ("5. Strongly agree", "Answers in Korean read naturally, even on legal text."),
    "user.reliability": ("3. Neutral", ""),
    "user.cost_efficiency": ("4. Agree", ""),
    "user.applicability": ("2. Disagree", "No on-premise option for our customers."),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_lab(root: Path, port: int, token: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".jupyter" / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".jupyter" / "workspaces")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:  # containers often run tests as root
        cmd.append("--allow-root")
    log = (root / "lab.log").open("wb")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_ready(port: int, token: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("JupyterLab did not start")


def _dismiss_kernel_dialog(page) -> None:
    # JupyterLab may ask which kernel to start; the notebook names python3, which it preselects
    if page.locator(".jp-Dialog").count():
        page.locator(".jp-Dialog-button.jp-mod-accept").click()
        page.locator(".jp-Dialog").wait_for(state="detached")


def _menu(page, top: str, item: str) -> None:
    _dismiss_kernel_dialog(page)
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    entry = page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=item)).first
    # a menu entry is disabled until the notebook and its kernel are ready; clicking it then does nothing
    expect(entry).not_to_have_class(re.compile(r"lm-mod-disabled"), timeout=30_000)
    entry.click()


def _wait_kernel_idle(page) -> None:
    _dismiss_kernel_dialog(page)
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible(timeout=60_000)


def _run_all_and_wait(page) -> None:
    _wait_kernel_idle(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook, not the file browser, has the focus
    _menu(page, "Run", "Run All Cells")
    page.locator("button.wb-sign").first.wait_for(state="visible", timeout=60_000)


def _criterion(page, cid: str):
    return page.locator(".wb-" + cid.replace(".", "-"))


def test_review_in_jupyterlab(tmp_path):
    import papermill as pm

    from workbench.core.signing import SHEET_TYPE, load_public_key, verify_envelope
    from workbench.model.rubric import load_rubric
    from workbench.model.sheet import parse_sheet, validate_sheet

    kit = make_round(tmp_path)
    pm.execute_notebook(str(ROOT / "notebooks" / "review.ipynb"), str(tmp_path / "review.ipynb"), prepare_only=True,
                        parameters={"round_dir": str(kit.round_dir), "reviewer_id": USER, "team_id": TEAM, "role": "user",
                                    "lang": "en", "key_file": str(kit.user_key)})
    with _lab_page(tmp_path, width=1400, height=1800, failure="review-failure.png") as (page, url):
        page.goto(url("lab/tree/review.ipynb"))
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        _run_all_and_wait(page)

        for cid, (option, comment) in ENTRIES.items():
            box = _criterion(page, cid)
            box.locator("label", has_text=option).click()
            if comment:
                box.locator("textarea").fill(comment)
        page.locator(".wb-coi label", has_text="I have no conflict").click()
        sign = page.locator("button.wb-sign")
        expect(sign).to_be_enabled(timeout=10_000)
        expect(page.locator(".wb-complete")).to_be_visible()

        draft = kit.round_dir / "drafts" / USER / f"{TEAM}.json"

        def saved() -> bool:  # the last input (the declaration) is on disk, not only the comments before it
            return draft.exists() and "on-premise" in draft.read_text() and '"has_conflict": false' in draft.read_text()

        end = time.monotonic() + 5
        while time.monotonic() < end and not saved():
            time.sleep(0.1)
        assert saved(), draft.read_text()
        _criterion(page, "user.cost_efficiency").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-form.png"))

        # restart the kernel: every widget is new, the values must come back from the draft
        _menu(page, "Kernel", "Restart Kernel and Clear Outputs of All Cells")
        page.locator(".jp-Dialog-button.jp-mod-accept").click()
        expect(page.locator("button.wb-sign")).to_have_count(0, timeout=30_000)
        _run_all_and_wait(page)
        for cid, (option, comment) in ENTRIES.items():
            box = _criterion(page, cid)
            expect(box.locator("label", has_text=option).locator("input")).to_be_checked()
            expect(box.locator("textarea")).to_have_value(comment)
        expect(page.locator(".wb-notice").first).to_contain_text("restored your earlier input")

        page.locator("button.wb-sign").click()
        expect(page.locator(".wb-submitted")).to_contain_text("submitted", timeout=20_000)

    sheet_file = kit.round_dir / "sheets" / USER / f"{TEAM}.v1.dsse.json"
    sheet = parse_sheet(verify_envelope(sheet_file.read_bytes(), load_public_key(kit.keys / f"{USER}.pub"), SHEET_TYPE))
    validate_sheet(sheet, load_rubric(kit.round_dir / "rubrics" / "user.yaml"))
    # hand-computed: 0.75x5 + 1.0x6 + 0.5x4 + 0.75x5 + 0.25x5 = 3.75 + 6 + 2 + 3.75 + 1.25
    assert sheet.totals.total == pytest.approx(16.75)
    assert sheet.judgments["user.applicability"].comment == ENTRIES["user.applicability"][1]


def _dump_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _open_from_file_browser(page, *parts: str) -> None:
    """Double-click through JupyterLab's file browser, as a reviewer finds their notebook."""
    for part in parts:
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=part)).first
        item.wait_for(timeout=30_000)
        item.dblclick()


def test_generated_notebook_opened_from_the_file_browser_shows_the_form_and_offline_charts(tmp_path):
    """The README's path: the coordinator's batch pre-computed the evidence into notebooks/<you>/<team>.ipynb;
    the reviewer opens it from the file browser (the kernel starts in its folder) and runs all cells. The form
    appears and every chart is SVG made in the kernel: no request leaves 127.0.0.1 (no vega from a CDN)."""
    import shutil

    import yaml

    from workbench.core.signing import load_private_key
    from workbench.round.lifecycle import freeze
    from workbench.run.batch import run_batch

    kit = make_round(tmp_path / "made", demo_evidence=True)
    (kit.round_dir / "assignments.yaml").write_text(yaml.safe_dump({"assignments": [{"reviewer": EXPERT, "team": TEAM}]}))
    freeze(kit.round_dir, load_private_key(kit.keys / "coordinator.key"), "coordinator")
    [res] = run_batch(kit.round_dir, jobs=1, progress=False)  # no answers: the evidence, pre-computed, in Korean
    assert res.state == "done", res.error
    lab = tmp_path / "lab"
    settings = lab / ".jupyter" / "lab-settings" / "@jupyterlab"
    # every cell stays rendered (screenshots of scrolled-to cells are complete), and no news or update prompt
    _dump_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    _dump_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    shutil.move(kit.round_dir, lab / "round-2026")  # where the reviewer put the folder they were sent

    outside: list[str] = []
    with _lab_page(lab, width=1400, height=1800, failure="generated-notebook-failure.png", outside=outside) as (page, url):
        page.goto(url("lab"))
        _open_from_file_browser(page, "round-2026", "notebooks", EXPERT, f"{TEAM}.ipynb")
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        page.locator(".jp-OutputArea-output").first.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "generated-notebook-before-run.png"))
        # issue 27, item 9: opened before running, the saved outputs showed "ToggleButtons(_dom_classes=...)"
        before = page.locator(".jp-Notebook").inner_text()
        assert "ToggleButtons(" not in before and "VBox(children" not in before and "HTML(value=" not in before
        _run_all_and_wait(page)
        _wait_kernel_idle(page)
        charts = page.locator(".jp-RenderedSVG img")
        expect(charts).to_have_count(3, timeout=30_000)  # targets, provenance per layer, training curve
        for i in range(3):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            expect(chart).to_be_visible()
            assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error loading script" not in text and "Traceback" not in text and "RoundError" not in text
        assert "서명 및 제출" in text
        ARTIFACTS.mkdir(exist_ok=True)
        charts.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "generated-notebook-chart.png"))
        charts.nth(1).screenshot(path=str(ARTIFACTS / "generated-notebook-provenance.png"))
        charts.nth(2).screenshot(path=str(ARTIFACTS / "generated-notebook-training.png"))
        sign = page.locator("button.wb-sign")
        sign.scroll_into_view_if_needed()
        expect(sign).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "generated-notebook-form.png"))
    assert outside == [], outside
    assert not (lab / "round-2026" / "sheets").exists() or not list((lab / "round-2026" / "sheets").rglob("*.json"))


@contextlib.contextmanager
def _lab_page(folder: Path, *, width: int, height: int, failure: str, outside: list[str] | None = None):
    """JupyterLab serving ``folder`` and a Chromium page beside it; yields the page and ``url(path)``, the
    server's tokenized address of ``path``. With ``outside``, the page is a machine without internet (requests
    elsewhere are refused and listed there). A failure saves a screenshot as ``failure``; the browser, the
    server and its kernels are stopped in any case."""

    from playwright.sync_api import sync_playwright

    port, token = _free_port(), secrets.token_hex(16)
    proc = _start_lab(folder, port, token)
    try:
        _wait_ready(port, token, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": width, "height": height})
            if outside is not None:
                refuse_outside(page, (f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/"), outside)
            try:
                yield page, lambda path: f"http://127.0.0.1:{port}/{path}?token={token}"
            except Exception:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / failure))
                raise
            finally:
                browser.close()
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its kernels (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _expert_review_lab(tmp_path: Path, demo_evidence: bool | str):
    """A round whose one team submitted demo evidence (``demo_evidence``: see roundkit.make_round) and a folder
    for JupyterLab holding the expert's review notebook for it (Korean), with every cell kept rendered and no
    news or update prompt. Returns the kit and the folder."""
    import papermill as pm

    kit = make_round(tmp_path / "made", demo_evidence=demo_evidence)
    lab = tmp_path / "lab"
    settings = lab / ".jupyter" / "lab-settings" / "@jupyterlab"
    _dump_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    _dump_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    pm.execute_notebook(str(ROOT / "notebooks" / "review.ipynb"), str(lab / "review.ipynb"), prepare_only=True,
                        parameters={"round_dir": str(kit.round_dir), "reviewer_id": EXPERT, "team_id": TEAM,
                                    "role": "expert", "lang": "ko", "key_file": str(kit.expert_key)})
    return kit, lab


def test_the_independence_chart_shows_the_flagged_vision_encoder(tmp_path):
    """Issue 27, item 10: on Cheonma's notebook the chart drew attention and MLP inside the null band and left
    out the vision encoder the table flags as derived (z 20.8): a reviewer skimming the chart saw a clean model."""
    import base64
    import urllib.parse

    _, lab = _expert_review_lab(tmp_path, "team-cheonma")
    with _lab_page(lab, width=1280, height=1600, failure="independence-chart-failure.png") as (page, url):
        page.goto(url("lab/tree/review.ipynb"))
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        _run_all_and_wait(page)
        table = page.locator(".wb-table.wb-provenance").first
        table.scroll_into_view_if_needed()
        expect(table).to_contain_text("vision_encoder")
        charts = page.locator(".jp-RenderedSVG img")
        expect(charts).to_have_count(3, timeout=90_000)
        chart = charts.nth(1)  # targets, provenance, training curve
        chart.scroll_into_view_if_needed()
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
        src = chart.get_attribute("src") or ""
        svg = base64.b64decode(src.split(",", 1)[1]).decode() if ";base64," in src else urllib.parse.unquote(src)
        assert "vision_encoder" in svg and "#c0392b" in svg  # drawn, and drawn as flagged
        ARTIFACTS.mkdir(exist_ok=True)
        chart.screenshot(path=str(ARTIFACTS / "independence-chart-cheonma-ko.png"))


PANEL_TABLES = ("wb-team", "wb-materials", "wb-computed", "wb-benchmark-rows", "wb-cost", "wb-provenance",
                "wb-training", "wb-tokenizer", "wb-config", "wb-licences")


def test_expert_form_with_every_evidence_panel_and_the_language_switch(tmp_path):
    """The expert's form on a team with the demo's full evidence, as a Korean reviewer sees it: every evidence
    table and the three charts, no error text, tables inside the pane, nothing loaded from outside
    127.0.0.1. Then English: the labels change, the typed comment and the chosen level stay, the draft too."""
    kit, lab = _expert_review_lab(tmp_path, True)
    outside: list[str] = []
    comment = "증거 표가 읽기 쉽다 / the tables read well"
    with _lab_page(lab, width=1280, height=1600, failure="expert-panels-failure.png", outside=outside) as (page, url):
        page.goto(url("lab/tree/review.ipynb"))
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        _run_all_and_wait(page)
        charts = page.locator(".jp-RenderedSVG img")
        expect(charts).to_have_count(3, timeout=90_000)  # drawn after the form, in place
        expect(page.locator(".wb-chart-pending")).to_have_count(0, timeout=30_000)
        for css in PANEL_TABLES:
            table = page.locator(f".wb-table.{css}").first
            table.scroll_into_view_if_needed()
            expect(table).to_be_visible()
            # the table scrolls inside its box; the box never overflows the cell's output area
            fits = table.evaluate("t => t.getBoundingClientRect().right <= "
                                  "t.closest('.jp-OutputArea-output').getBoundingClientRect().right + 1")
            assert fits, css
        for i in range(3):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
        text = page.locator(".jp-Notebook").inner_text()
        for bad in ("Traceback", "Error", "NaN", "se_source", "param_share", "log10_p", "coi:"):
            assert bad not in text, bad
        assert "(나) 벤치마크 증거와 평가 항목" in text and "서명 및 제출" in text
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".wb-table.wb-benchmark-rows").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "expert-panels-benchmarks-ko.png"))
        page.locator(".wb-table.wb-provenance").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "expert-panels-independence-ko.png"))
        charts.nth(2).screenshot(path=str(ARTIFACTS / "expert-chart-training-ko.png"))

        box = _criterion(page, "expert.strategy.plan")
        box.scroll_into_view_if_needed()
        box.locator("label").filter(has_text=re.compile(r"^4\. ")).click()
        box.locator("textarea").fill(comment)
        draft = kit.round_dir / "drafts" / EXPERT / f"{TEAM}.json"
        end = time.monotonic() + 5
        while time.monotonic() < end and not (draft.exists() and comment in draft.read_text()):
            time.sleep(0.1)
        assert comment in draft.read_text()

        page.locator(".wb-lang button", has_text="English").first.click()
        expect(page.locator("button.wb-sign")).to_contain_text("Sign and submit", timeout=20_000)
        expect(page.locator(".jp-Notebook")).to_contain_text("(b) Benchmark evidence and items")
        expect(page.locator(".wb-table.wb-provenance").first).to_contain_text("share of parameters")
        expect(charts).to_have_count(3)
        box = _criterion(page, "expert.strategy.plan")
        expect(box.locator("textarea")).to_have_value(comment)
        expect(box.locator("label").filter(has_text=re.compile(r"^4\. ")).locator("input")).to_be_checked()
        text = page.locator(".jp-Notebook").inner_text()
        assert "(나) 벤치마크 증거와 평가 항목" not in text and "Traceback" not in text
        assert comment in draft.read_text()
        page.locator(".wb-table.wb-benchmark-rows").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "expert-panels-benchmarks-en.png"))
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "expert-form-switched-en.png"))
    assert outside == [], outside
