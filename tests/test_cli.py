"""The command line: one-line errors with exit 1, never a traceback (the demo itself: test_demo.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from workbench.cli.app import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["verify", "no/such.json", "--pubkey", "no/such.pub"], "no/such.pub: file not found"),
        (["verify", "README.md", "--pubkey", "README.md"], "README.md: not a PEM public key"),
        (["sign", "README.md", "--key", "README.md", "-o", "/tmp/x"], "README.md:1: JSON syntax error"),
    ],
)
def test_errors_are_one_line(args, fragment, capsys):
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and err.startswith("workbench: error: ")


def test_rubric_check_lists_problems_then_a_summary(capsys):
    assert main(["rubric", "check", "no/such.yaml"]) == 1
    assert capsys.readouterr().err.splitlines() == ["no/such.yaml: file not found", "1 problem(s) in 1 file(s)"]


def test_module_entry_point_and_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("workbench ")


def test_usage_error_exits_2():
    r = run("rubric")
    assert r.returncode == 2 and "Traceback" not in r.stderr
