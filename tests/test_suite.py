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
