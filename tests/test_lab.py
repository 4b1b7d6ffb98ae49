"""The "what to open next" commands work when copied into a fresh shell (issue 27, item 5).

A fresh shell has no activated venv (PATH without ``.venv/bin``), may be in any folder, and runs as root on the
machines this project runs on; ``jupyter lab`` then refused to start without ``--allow-root``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from coord_helpers import make_round

from workbench.cli.app import main
from workbench.demo.run import next_steps
from workbench.hub.lab import lab_command

FRESH_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def _fresh_shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=FRESH_ENV, capture_output=True, text=True,
                          timeout=180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    """GET, retrying while the server that printed its address is not yet accepting (seen once under load)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                assert r.status == 200
                return r.read()
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_next_steps_commands_run_from_a_fresh_shell_in_another_folder(tmp_path):
    rd = make_round(tmp_path)  # a frozen round at tmp_path/round, as the demo's
    (rd / "notebooks" / "e1").mkdir(parents=True)
    (rd / "notebooks" / "e1" / "ta.ipynb").write_text("{}")
    steps = next_steps(tmp_path)
    commands = {}
    for line in steps[1:]:
        label, _, rest = line.partition(":")
        commands[label.strip()] = rest.strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    status = _fresh_shell(commands["round status"], elsewhere)
    assert status.returncode == 0, status.stderr
    assert "test-1" in status.stdout
    audit = commands["audit it yourself"].split("  (")[0]
    done = _fresh_shell(audit, elsewhere)
    assert "Traceback" not in done.stderr and ("clean" in done.stdout.lower()), done.stdout + done.stderr
    lab = commands["a reviewer's notebook"].split("  (")[0]
    assert re.search(r" lab .*round.* .*ta\.ipynb$", lab), lab
    assert not any(c.startswith("workbench ") or c.startswith("jupyter ") for c in commands.values()), commands


def test_lab_starts_jupyterlab_on_the_round_from_a_fresh_shell_as_root_too(tmp_path):
    rd = make_round(tmp_path)
    nb = rd / "notebooks" / "e1" / "ta.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    port = _free_port()
    argv = shlex.join([str(Path(sys.executable).parent / "workbench"), "lab", str(rd), str(nb), "--port", str(port),
                       "--no-browser"])
    env = {**FRESH_ENV, "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jrt")}
    proc = subprocess.Popen(["/bin/sh", "-c", f"exec {argv}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url, seen, deadline = None, [], time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(rf"(http://127\.0\.0\.1:{port}/lab\S*token=\S+)", line)
            url = m.group(1) if m else None
        assert url, "".join(seen)
        assert "/lab/tree/notebooks/e1/ta.ipynb" in url or "lab" in url
        token = url.split("token=", 1)[1]
        contents = _get(f"http://127.0.0.1:{port}/api/contents/notebooks/e1/ta.ipynb?token={token}")
        assert b'"name": "ta.ipynb"' in contents.replace(b'":"', b'": "')
        page = _get(f"http://127.0.0.1:{port}/lab?token={token}").decode()
        assert '"news": {"disabled": true}' in page.replace('":{', '": {').replace('":true', '": true')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_lab_refuses_a_missing_round_or_a_notebook_outside_it(tmp_path, capsys):
    assert main(["lab", str(tmp_path / "nope")]) == 1
    assert "round folder not found" in capsys.readouterr().err
    rd = tmp_path / "round"
    rd.mkdir()
    outside = tmp_path / "x.ipynb"
    outside.write_text("{}")
    assert main(["lab", str(rd), str(outside)]) == 1
    assert "outside the round folder" in capsys.readouterr().err


@pytest.mark.parametrize("root", [True, False])
def test_lab_adds_allow_root_only_as_root(tmp_path, monkeypatch, root):
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
    argv = lab_command(tmp_path, browser=False)
    assert ("--allow-root" in argv) is root and "--no-browser" in argv and argv[0] == sys.executable
