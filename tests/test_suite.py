"""The test suite's own promises: tests marked to belong together run on one worker under ``make test``."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_xdist_groups_run_on_one_worker(tmp_path):
    """``make test`` runs ``pytest -n 2 --dist loadgroup``: every test of one ``xdist_group`` on the same
    worker (a module's expensive fixture is then made once), as a pytest or xdist upgrade could silently stop."""
    (tmp_path / "test_grouped.py").write_text(
        "import os, time, pytest\n"
        "pytestmark = pytest.mark.xdist_group('together')\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_grouped(i, tmp_path_factory):\n"
        "    time.sleep(0.2)\n"
        "    (tmp_path_factory.getbasetemp().parent.parent / f'g{i}').write_text(os.environ['PYTEST_XDIST_WORKER'])\n"
    )
    (tmp_path / "test_free.py").write_text(
        "import time, pytest\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_free(i):\n"
        "    time.sleep(0.2)\n"
    )
    (tmp_path / "base").mkdir()
    out = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                          "-q", "--basetemp", str(tmp_path / "base" / "t"), str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    workers = {(tmp_path / "base" / f"g{i}").read_text() for i in range(6)}
    assert len(workers) == 1, f"one group ran on {sorted(workers)}"


def test_make_check_leaves_out_exactly_the_browser_hub_demo_and_wheel_tests():
    """``make check`` (the development loop, README "Development") selects with the Makefile's CHECK_MARKS; the
    browser, hub and demo modules are marked by conftest, so none of their tests run there, and the rest do."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    marks = re.search(r"^CHECK_MARKS := (.+)$", (root / "Makefile").read_text(), re.M)
    assert marks and "$(CHECK_MARKS)" in (root / "Makefile").read_text()
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "-m", marks.group(1), "tests/test_hub.py", "tests/test_demo.py", "tests/test_browser.py",
                          "tests/test_report_browser.py", "tests/test_suite.py"],
                         capture_output=True, text=True, cwd=root, timeout=300)
    selected = {line.split("::")[0] for line in out.stdout.splitlines() if "::" in line}
    assert selected == {"tests/test_suite.py"}, out.stdout[-2000:] + out.stderr[-2000:]
