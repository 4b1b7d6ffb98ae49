"""Batches: parallel papermill over IPC kernels, failures isolated, resumable, killable, dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import nbformat
import pytest
from conftest import require_module
from coord_helpers import FIXTURES, make_round

from workbench.model.schemas import json_schema
from workbench.round.lifecycle import status
from workbench.run.batch import run_batch

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _outputs(nb: Path) -> str:
    return "".join(o.get("text", "") for c in nbformat.read(nb, as_version=4).cells for o in c.get("outputs", []))


def test_failures_are_isolated_and_reported(tmp_path):
    teams = ("team-ok", "team-die", "team-slow", "team-error")
    rd = make_round(tmp_path, experts=("e1",), teams=teams, answers=False)
    res = {r.team: r for r in run_batch(rd, notebook=FIXTURES / "faulty_fixture.ipynb", jobs=2, timeout=3,
                                        retries=0, progress=False)}
    assert res["team-ok"].state == "done" and res["team-ok"].transport == "ipc"
    assert res["team-die"].state == "failed" and "DeadKernel" in res["team-die"].error
    assert res["team-slow"].state == "failed" and "imeout" in res["team-slow"].error
    assert res["team-error"].state == "failed" and "bad evidence" in res["team-error"].error
    # the failure as data: the failed notebook, the cell that raised (its index there) and what it raised
    f = res["team-error"].failure
    assert (f.kind, f.file, f.ename, f.evalue) == ("PapermillExecutionError", "notebooks/e1/team-error.failed.ipynb",
                                                   "ValueError", "bad evidence")
    cell = nbformat.read(rd / f.file, as_version=4).cells[f.cell]
    assert "raise ValueError" in cell.source and cell.execution_count == f.exec_count
    assert res["team-slow"].failure.kind == "CellTimeoutError" and res["team-die"].failure.kind == "DeadKernelError"
    assert res["team-ok"].failure is None
    for t in teams:
        jsonschema.validate(json.loads((rd / "notebooks" / "e1" / f"{t}.status.json").read_text()), json_schema("status"))
    # the kernel itself reports that it was started over IPC, not TCP
    assert "transport: ipc" in _outputs(rd / "notebooks" / "e1" / "team-ok.ipynb")
    assert (rd / "notebooks" / "e1" / "team-error.failed.ipynb").is_file()
    # a notebook stopped by a cell's timeout keeps what ran before it (written once, when the run ended)
    slow = nbformat.read(rd / "notebooks" / "e1" / "team-slow.failed.ipynb", as_version=4)
    assert any(c.get("outputs") for c in slow.cells)
    # what a kernel prints to its own stderr is kept beside its failure, and never reaches the console
    assert "the kernel exits on purpose" in (rd / "notebooks" / "e1" / "team-die.kernel.log").read_text()
    assert not (rd / "notebooks" / "e1" / "team-ok.kernel.log").exists()
    assert not (rd / "notebooks" / "e1" / "team-error.ipynb").exists()
    assert status(rd)["notebooks"] == {"done": 1, "failed": 3}
    # a rerun skips what is done and re-runs only the failures (retry counted)
    again = {r.team: r for r in run_batch(rd, notebook=FIXTURES / "faulty_fixture.ipynb", jobs=2, timeout=3,
                                          retries=0, progress=False)}
    assert again["team-ok"].state == "skipped"
    assert again["team-error"].attempts == 2


def test_kill_midway_then_resume(tmp_path):
    teams = ("t1", "t2", "t3", "t4", "t5", "t6")
    rd = make_round(tmp_path, experts=("e1",), teams=teams)
    cmd = [sys.executable, "-m", "workbench", "batch", str(rd), "--jobs", "1", "--keys", str(tmp_path / "keys"),
           "--notebook", str(FIXTURES / "review_fixture.ipynb")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    done: set[str] = set()
    while time.monotonic() < deadline and len(done) < 2:
        time.sleep(0.2)
        done = {p.name.split(".")[0] for p in (rd / "notebooks" / "e1").glob("*.status.json")
                if json.loads(p.read_text())["state"] == "done"} if (rd / "notebooks" / "e1").is_dir() else set()
    os.killpg(proc.pid, signal.SIGKILL)  # the batch, its worker and its kernel
    proc.wait()
    assert 2 <= len(done) < len(teams)
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [ln.split() for ln in first.stdout.splitlines()]
    lines = {r[1]: r[2] for r in rows if r and r[0] == "e1"}
    assert all(lines[t] == "skipped" for t in done)
    assert all(lines[t] == "done" for t in set(teams) - done)
    # nothing half-written: no partial outputs left, every notebook and sheet parses
    assert not list((rd / "notebooks").glob("*/.*.partial.ipynb"))
    for t in teams:
        nbformat.read(rd / "notebooks" / "e1" / f"{t}.ipynb", as_version=4)
        assert json.loads((rd / "sheets" / "e1" / f"{t}.v1.dsse.json").read_bytes())["payloadType"]


def test_dask_local_cluster(tmp_path, monkeypatch):
    distributed = require_module("distributed")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # workers import this checkout's workbench
    rd = make_round(tmp_path, experts=("e1",), teams=("ta", "tb"))
    with distributed.LocalCluster(host="127.0.0.1", n_workers=1, processes=True, dashboard_address=None) as cluster:
        addr = cluster.scheduler_address.replace("tcp://", "dask://")
        res = run_batch(rd, notebook=FIXTURES / "review_fixture.ipynb", keys_dir=tmp_path / "keys", jobs=2,
                        executor=addr, progress=False)
    assert [(r.team, r.state, r.transport) for r in res] == [("ta", "done", "ipc"), ("tb", "done", "ipc")]
    assert sorted(p.name for p in (rd / "sheets" / "e1").iterdir()) == ["ta.v1.dsse.json", "tb.v1.dsse.json"]


def test_killing_only_the_batch_process_stops_its_workers_and_never_signs_twice(tmp_path):
    # kill -9 of the batch process alone (not its group): workers die with it, and a rerun started at once
    # neither repeats a running task nor signs a second version of one that signed before the kill
    teams = ("t1", "t2", "t3", "t4")
    rd = make_round(tmp_path, experts=("e1",), teams=teams)
    cmd = [sys.executable, "-m", "workbench", "batch", str(rd), "--jobs", "2", "--keys", str(tmp_path / "keys"),
           "--notebook", str(FIXTURES / "review_fixture.ipynb")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list((rd / "sheets").glob("e1/*.dsse.json")):
        time.sleep(0.05)
    proc.kill()  # the moment the first sheet is written
    proc.wait()
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode in (0, 1), again.stderr[-2000:]
    for _ in range(2):  # a task still claimed by a dying kernel is reported; a further rerun completes it
        if all((rd / "sheets" / "e1" / f"{t}.v1.dsse.json").is_file() for t in teams):
            break
        time.sleep(3)
        again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert sorted(p.name for p in (rd / "sheets" / "e1").iterdir()) == sorted(f"{t}.v1.dsse.json" for t in teams)
    statuses = [json.loads((rd / "notebooks" / "e1" / f"{t}.status.json").read_text()) for t in teams]
    assert all(s["state"] == "done" for s in statuses)
    notebooks = [rd / "notebooks" / "e1" / f"{t}.ipynb" for t in teams]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in notebooks if p.exists())  # they name the key file
