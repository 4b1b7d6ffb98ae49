"""Kernels started ahead of need: a notebook on a spare kernel sees what it would see on a fresh one."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from coord_helpers import make_round

from workbench.round.submit import UNATTENDED_ENV
from workbench.run import kernels
from workbench.run.batch import run_batch

pytestmark = pytest.mark.slow

PARAMS = ('round_dir = "."\nreviewer_id = ""\nteam_id = ""\nrole = "expert"\nlang = "ko"\nkey_file = ""\n'
          'answers_file = ""\noutput_dir = ""\nnotebook_sha256 = ""')
# what a notebook can see of the process it runs in
PROBE = """
import json, os, sys
ip = get_ipython()
fds = []
for f in os.listdir("/proc/self/fd"):
    try:
        fds.append(os.readlink(f"/proc/self/fd/{f}"))
    except OSError:
        pass
print(json.dumps({"cwd": os.getcwd(), "path": sys.path, "env": dict(os.environ), "dh": list(_dh),
                  "ns": sorted(k for k in ip.user_ns if not k.startswith("_")), "count": ip.execution_count,
                  "history": len(ip.history_manager.input_hist_parsed), "fds": sorted(fds),
                  "review_imported": "workbench.notebook.review" in sys.modules}))
"""


def _probe_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, path)
    return path


def _seen(nb: Path) -> dict:
    cells = nbformat.read(nb, as_version=4).cells
    out = json.loads(cells[-1].outputs[0]["text"])
    out["cell_count"] = cells[-1].execution_count
    return out


def test_a_spare_kernel_looks_fresh_to_its_notebook(tmp_path):
    nb = _probe_notebook(tmp_path / "probe.ipynb")
    teams = ("ta", "tb", "tc")
    seen = {}
    try:
        for pool in (False, True):
            rd = make_round(tmp_path / f"pool-{pool}", experts=("e1",), teams=teams)
            # one job: the tasks run one after another in this process, so every later one gets a spare
            res = run_batch(rd, notebook=nb, keys_dir=tmp_path / f"pool-{pool}" / "keys", jobs=1, progress=False, pool=pool)
            assert [(r.state, r.transport) for r in res] == [("done", "ipc")] * 3, [r.error for r in res]
            seen[pool] = {t: _seen(rd / "notebooks" / "e1" / f"{t}.ipynb") for t in teams}
            for t in teams:
                s, folder = seen[pool][t], str((rd / "notebooks" / "e1").resolve())
                assert s["cwd"] == folder and s["dh"] == [folder]
                assert not any("wb-ipc-" in p for p in s["path"])
                # the unattended variable names this notebook only
                assert s["env"][UNATTENDED_ENV].startswith(f"e1/{t}:")  # and the one-use token of this notebook
                # the kernel holds the task's claim while it runs
                assert str(Path(folder) / f".{t}.claim") in s["fds"]
                assert not any(f".{o}.claim" in f for o in teams if o != t for f in s["fds"])
    finally:
        kernels.close_spares()
    fresh, pooled = seen[False], seen[True]
    assert not any(s["review_imported"] for s in fresh.values())
    assert all(s["review_imported"] for s in pooled.values())  # the warm-up's import, the only difference
    for t in teams:
        f, p = fresh[t], pooled[t]
        # sys.path, namespace, execution counts and history: as in a kernel started for this notebook
        assert [x.replace("pool-True", "pool-False") for x in p["path"]] == f["path"]
        assert (p["ns"], p["count"], p["cell_count"], p["history"]) == (f["ns"], f["count"], f["cell_count"], f["history"])
        # the environment: the same names and values, but for the run's own folders
        # (the unattended token is new for every run: its task part is compared)
        norm = {k: v.replace("pool-True", "pool-False") for k, v in p["env"].items()}
        for env in (norm, f["env"]):
            env[UNATTENDED_ENV] = env[UNATTENDED_ENV].split(":")[0]
        assert norm == f["env"], {k for k in norm.keys() | f["env"].keys() if norm.get(k) != f["env"].get(k)}


def test_no_spare_outlives_its_process(tmp_path):
    nb = _probe_notebook(tmp_path / "probe.ipynb")
    rd = make_round(tmp_path, experts=("e1",), teams=("ta",))
    try:
        run_batch(rd, notebook=nb, keys_dir=tmp_path / "keys", jobs=1, progress=False)
        spare = kernels._spares.kernel
        assert spare is not None and spare.km.has_kernel  # started for the next notebook
        pid = spare.km.provisioner.process.pid
        os.kill(pid, 0)
    finally:
        kernels.close_spares()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_spare_that_died_is_replaced(tmp_path):
    nb = _probe_notebook(tmp_path / "probe.ipynb")
    rd = make_round(tmp_path, experts=("e1",), teams=("ta", "tb"))
    try:
        first = run_batch(rd, notebook=nb, keys_dir=tmp_path / "keys", jobs=1, progress=False, roles=None)
        assert [r.state for r in first] == ["done", "done"]
        spare = kernels._spares.kernel
        os.kill(spare.km.provisioner.process.pid, signal.SIGKILL)  # e.g. killed for memory while it waited
        spare.km.provisioner.process.wait()
        again = run_batch(rd, notebook=nb, keys_dir=tmp_path / "keys", jobs=1, progress=False, again=[("e1", "ta")])
        assert [(r.team, r.state) for r in again] == [("ta", "done"), ("tb", "skipped")], [r.error for r in again]
        assert _seen(rd / "notebooks" / "e1" / "ta.ipynb")["cwd"] == str((rd / "notebooks" / "e1").resolve())
    finally:
        kernels.close_spares()


def test_a_claim_is_waited_for_while_its_holder_exits(tmp_path, monkeypatch):
    import fcntl
    import threading

    from workbench.run import batch

    monkeypatch.setattr(batch, "CLAIM_WAIT", 1.0)
    path = tmp_path / ".t.claim"
    held = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # as an exiting kernel holds it
    with batch._claim(path) as fd:
        assert fd is None  # held past the wait: reported as running elsewhere
    threading.Timer(0.3, os.close, [held]).start()  # the kernel exits within the wait
    with batch._claim(path) as fd:
        assert fd is not None


def test_the_notebooks_client_waits_for_the_kernel_and_loses_no_output(tmp_path):
    """papermill's client (the manager's ``client()``) is ready once the kernel answered and its output channel is
    shown connected (its request's idle status received), so a first cell's output is never missed."""
    import asyncio

    async def first_cell(km) -> tuple[str, list[str]]:
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            out: list[str] = []
            await kc.execute_interactive("print('first output')", timeout=60,
                                         output_hook=lambda m: out.append(m["content"].get("text", "")))
            return type(kc).__name__, out
        finally:
            kc.stop_channels()

    try:
        for i in range(3):  # a spare (booted) and kernels started for the cell (booting while waited for)
            folder = tmp_path / f"nb{i}"
            folder.mkdir()
            with kernels.prepared(folder, {}, {}, None, pool=i != 2) as (km, _, _):
                name, out = asyncio.run(first_cell(km))
                assert name == "ReadyClient" and "".join(out) == "first output\n"
    finally:
        kernels.close_spares()
