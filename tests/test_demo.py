"""The full demo round, end to end (a minute or two on 2 quiet cores)."""

from __future__ import annotations

import pytest

from workbench.demo import run_demo
from workbench.lifecycle import status

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group("demo")
def test_demo_runs_the_whole_round(tmp_path):
    lines: list[str] = []
    report = run_demo(tmp_path / "demo", echo=lines.append)
    text = "\n".join(lines)
    assert report.is_file() and "<svg" in report.read_text()
    assert "batch: 25 of 25 notebooks done with 2 jobs" in text and "collected: 270 accepted, 0 rejected" in text
    assert "team-cheonma" in text and "excluded by gate" in text          # the copied vision encoder
    # the evidence says so too: one independence line per team, only cheonma's flagged
    lines_by_team = {ln.strip().split(":", 1)[0]: ln for ln in lines if ln.startswith("  team-") and ": " in ln}
    assert "vision_encoder derived from Foreign-VL (" in lines_by_team["team-cheonma"]
    assert "undeclared weights use: vision_encoder (Foreign-VL)" in lines_by_team["team-cheonma"]
    assert all("nothing flagged" in lines_by_team[t] for t in ("team-aurora", "team-baekdu", "team-daehan", "team-eoullim"))
    assert "evidence problem" not in text
    html = (report.parent / "index.en.html").read_text()
    assert "Evidence per team" in html and "may be noise" in html
    assert "팀별 증빙" in report.read_text() and "잡음일 수 있음" in report.read_text()
    s = status(tmp_path / "demo" / "round")
    assert s["frozen_version"] == 2 and s["amendments"][0]["after_first_submission"] is True
    assert s["collected"] == {"accepted": 270, "rejected": 0}  # 25 expert sheets, 245 user sheets


@pytest.mark.xdist_group("demo")
@pytest.mark.timeout(1200)  # the demo, then every notebook again: minutes on 2 busy cores
def test_demo_round_audits_clean_after_a_move_with_the_real_notebook(tmp_path):
    """The auditor's reproducibility promise, with the real review notebook: move the round to another path,
    re-run every notebook in another time zone and locale, and find every signed value reproduced."""
    import os
    import shutil
    import subprocess
    import sys

    run_demo(tmp_path / "demo", echo=lambda _: None)
    moved = tmp_path / "elsewhere" / "round-copy"
    shutil.move(tmp_path / "demo" / "round", moved)
    env = {**os.environ, "TZ": "Asia/Seoul", "LC_ALL": "C.UTF-8"}
    r = subprocess.run([sys.executable, "-m", "workbench", "audit", str(moved), "--rerun", "--jobs", "2"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "clean: 0 error(s)" in r.stdout and "25 re-run" in r.stdout
